"""The fixtures of tests/data/fixtures are the output of its script (make_fixtures.py) on the shared samples,
byte for byte once decompressed: none is edited by hand."""

from __future__ import annotations

import gzip

import pytest

from tests.conftest import needs_binance, needs_lobster
from tests.data.fixtures import make_fixtures as mk


@needs_binance
@needs_lobster
def test_the_script_rewrites_every_fixture_byte_for_byte(tmp_path):
    pytest.importorskip(
        "databento_dbn", reason="the databento extra is not installed (pip install -e '.[databento]')"
    )
    written = mk.make_all(tmp_path)
    names = sorted(p.name for paths in written.values() for p in paths.values())
    committed = sorted(p.name for p in mk.HERE.iterdir() if p.suffix in (".gz", ".zst"))
    assert names == committed
    for name in names:  # the content, compared decompressed (another zlib or zstd may pack it differently)
        assert _content(tmp_path / name) == _content(mk.HERE / name), name


def _content(path) -> bytes:
    if path.suffix == ".gz":
        return gzip.decompress(path.read_bytes())
    import zstandard

    return zstandard.ZstdDecompressor().decompressobj().decompress(path.read_bytes())
