"""The fixtures of tests/data/fixtures are the output of its script (make_fixtures.py) on the shared samples,
byte for byte: none is edited by hand."""

from __future__ import annotations

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
    for name in names:
        assert (tmp_path / name).read_bytes() == (mk.HERE / name).read_bytes(), name
