"""1-minute bars: :mod:`~mmenv.data.bars.validate` (frame shape, errors, validation),
:mod:`~mmenv.data.bars.readers` (CSV formats), :mod:`~mmenv.data.bars.cache` (the disk cache),
:mod:`~mmenv.data.bars.yahoo` (the downloader) and :mod:`~mmenv.data.bars.synthetic` (synthetic bars). The
public names are re-exported by :mod:`mmenv.data`.
"""
