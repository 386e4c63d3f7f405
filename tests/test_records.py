"""Tests of the record dtypes and the fixed-capacity recorder."""

from __future__ import annotations

import numpy as np
import pytest

from mmenv.records import FILL_DTYPE, STATE_DTYPE, Recorder, empty_fills, empty_states, to_frame


def _rows(n: int) -> list[tuple]:
    return [(i, 0.5 * i, 1 if i % 2 else -1, 100.0 + i, 1.0, 100.0, 0.01, float(i)) for i in range(n)]


def test_dtypes_have_the_documented_fields():
    assert FILL_DTYPE.names == ("event", "time", "side", "price", "size", "mid", "fee", "inventory")
    assert STATE_DTYPE.names == ("event", "time", "mid", "bid", "ask", "inventory", "cash", "equity")
    assert empty_fills(3).dtype == FILL_DTYPE and len(empty_states(2)) == 2


@pytest.mark.parametrize("capacity", [1, 3, 10, 100])
def test_recorder_in_memory_keeps_order_across_flushes(capacity):
    rec = Recorder(FILL_DTYPE, capacity)
    rows = _rows(25)
    for r in rows:
        rec.append(r)
        assert rec.n <= capacity
    assert rec.total == 25
    out = rec.finish()
    assert np.array_equal(out, np.array(rows, dtype=FILL_DTYPE))


def test_recorder_spills_atomically(tmp_path):
    path = tmp_path / "fills.bin"
    rec = Recorder(FILL_DTYPE, 4, spill_path=path)
    rows = _rows(10)
    for r in rows:
        rec.append(r)
    assert not path.exists() and (tmp_path / "fills.bin.part").exists()  # nothing under the final name yet
    out = rec.finish()
    assert path.exists() and not (tmp_path / "fills.bin.part").exists()
    assert isinstance(out, np.memmap) and np.array_equal(np.asarray(out), np.array(rows, dtype=FILL_DTYPE))
    assert path.stat().st_size == 10 * FILL_DTYPE.itemsize


def test_recorder_buffer_interface():
    """The loop writes into ``buffer`` and sets ``n``; flush empties it."""
    rec = Recorder(STATE_DTYPE, 4)
    rec.buffer[:3]["event"] = [7, 8, 9]
    rec.n = 3
    assert not rec.full
    rec.flush()
    assert rec.n == 0 and rec.total == 3
    assert list(rec.finish()["event"]) == [7, 8, 9]


def test_empty_recorders(tmp_path):
    assert len(Recorder(FILL_DTYPE, 2).finish()) == 0
    assert len(Recorder(FILL_DTYPE, 2, spill_path=tmp_path / "x.bin").finish()) == 0


def test_bad_capacity_and_to_frame():
    with pytest.raises(ValueError, match="capacity must be an integer >= 1, got 0"):
        Recorder(FILL_DTYPE, 0)
    df = to_frame(np.array(_rows(3), dtype=FILL_DTYPE))
    assert list(df.columns) == list(FILL_DTYPE.names) and len(df) == 3
    assert df["side"].tolist() == [-1, 1, -1]
    with pytest.raises(ValueError, match="structured array"):
        to_frame(np.zeros(3))
