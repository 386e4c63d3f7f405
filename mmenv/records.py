"""Record dtypes of the backtester and a fixed-capacity recorder (structured numpy arrays).

Two records, each a structured numpy array of a fixed dtype (the pattern of hftbacktest's recorder):

* :data:`FILL_DTYPE`, one row per fill of one of our quotes: ``event`` (index of the event in the stream),
  ``time`` (time units of the stream), ``side`` (+1: our bid was hit, we bought; -1: our ask was lifted, we
  sold), ``price`` (our quote, price units), ``size`` (units), ``mid`` (mid at the fill, price units),
  ``fee`` (fee paid, price units; negative for a rebate) and ``inventory`` (q after the event's fills).
* :data:`STATE_DTYPE`, one row per recorded event: ``event``, ``time``, ``mid``, ``bid``, ``ask`` (live quotes
  at the event, NaN where not quoted), ``inventory`` (q after the event), ``cash`` (after the event) and
  ``equity`` (mark-to-market ``cash + inventory * mid``). The first row of a backtest has ``event = -1``:
  the state before the first event, marked at the first event's mid.

A :class:`Recorder` owns a buffer of fixed capacity that the backtest loop (Python or numba) fills row by row;
when it is full the loop hands it back and the recorder *flushes* it, either into memory (a list of chunks)
or, with ``spill_path``, appended to a raw binary file on disk, so that memory stays flat however long the
stream. :meth:`Recorder.finish` returns the whole record (a memory-mapped array for a spilled record).
"""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np

__all__ = ["FILL_DTYPE", "STATE_DTYPE", "Recorder", "empty_fills", "empty_states", "to_frame"]

FILL_DTYPE = np.dtype(
    [
        ("event", np.int64),
        ("time", np.float64),
        ("side", np.int8),
        ("price", np.float64),
        ("size", np.float64),
        ("mid", np.float64),
        ("fee", np.float64),
        ("inventory", np.float64),
    ]
)

STATE_DTYPE = np.dtype(
    [
        ("event", np.int64),
        ("time", np.float64),
        ("mid", np.float64),
        ("bid", np.float64),
        ("ask", np.float64),
        ("inventory", np.float64),
        ("cash", np.float64),
        ("equity", np.float64),
    ]
)


def empty_fills(n: int = 0) -> np.ndarray:
    """A zeroed fill record of ``n`` rows."""
    return np.zeros(n, dtype=FILL_DTYPE)


def empty_states(n: int = 0) -> np.ndarray:
    """A zeroed state record of ``n`` rows."""
    return np.zeros(n, dtype=STATE_DTYPE)


class Recorder:
    """A fixed-capacity buffer of rows of one dtype, flushed to memory or to a spill file when full.

    Args:
        dtype: the record dtype (:data:`FILL_DTYPE` or :data:`STATE_DTYPE`).
        capacity: rows in the buffer (>= 1); the buffer is the only memory the recorder holds while spilling.
        spill_path: if given, full buffers are appended to this file (raw rows of ``dtype``; it is written to
            ``spill_path + ".part"`` and moved into place by :meth:`finish`, so a crashed run never leaves a
            half-written file under the final name).

    Attributes:
        buffer: the (capacity,) structured array the loop writes into. n: rows written into it so far.
        total: rows flushed plus rows in the buffer.
    """

    def __init__(self, dtype: np.dtype, capacity: int = 65536, spill_path: str | os.PathLike | None = None):
        if isinstance(capacity, bool) or int(capacity) != capacity or capacity < 1:
            raise ValueError(f"capacity must be an integer >= 1, got {capacity!r}")
        self.dtype = np.dtype(dtype)
        self.buffer = np.zeros(int(capacity), dtype=self.dtype)
        self.n = 0
        self._flushed = 0
        self._chunks: list[np.ndarray] = []
        self.spill_path = None if spill_path is None else Path(spill_path)
        self._part = None
        self._fh = None
        if self.spill_path is not None:
            self._part = self.spill_path.with_name(self.spill_path.name + ".part")
            self._fh = open(self._part, "wb")

    @property
    def capacity(self) -> int:
        """Rows in the buffer."""
        return self.buffer.shape[0]

    @property
    def total(self) -> int:
        """Rows recorded so far (flushed and buffered)."""
        return self._flushed + self.n

    @property
    def full(self) -> bool:
        """True when the buffer has no free row."""
        return self.n >= self.capacity

    def append(self, row: tuple) -> None:
        """Write one row (a tuple in the dtype's field order), flushing first if the buffer is full."""
        if self.n >= self.capacity:
            self.flush()
        self.buffer[self.n] = row
        self.n += 1

    def last(self, k: int) -> np.ndarray:
        """A copy of the last ``k`` rows recorded (flushed or buffered), in order; ``0 <= k <= total``."""
        if isinstance(k, bool) or int(k) != k or not 0 <= k <= self.total:
            raise ValueError(f"k must be an integer in [0, {self.total}], got {k!r}")
        if k <= self.n:
            return self.buffer[self.n - k : self.n].copy()
        older = k - self.n
        if self._fh is not None:
            self._fh.flush()
            flushed = np.fromfile(
                self._part, dtype=self.dtype, offset=(self._flushed - older) * self.dtype.itemsize
            )
        else:
            flushed = np.concatenate(self._chunks)[self._flushed - older :]
        return np.concatenate([flushed, self.buffer[: self.n]])

    def flush(self) -> None:
        """Move the buffered rows to the spill file (or to memory) and empty the buffer."""
        if self.n == 0:
            return
        rows = self.buffer[: self.n]
        if self._fh is not None:
            rows.tofile(self._fh)
        else:  # keep the full buffer itself and start a new one (no copy)
            self._chunks.append(rows)
            self.buffer = np.empty(self.capacity, dtype=self.dtype)
        self._flushed += self.n
        self.n = 0

    def finish(self) -> np.ndarray:
        """Flush and return every row recorded, in order.

        Returns an in-memory array, or for a spilled record a read-only ``np.memmap`` of the spill file
        (an empty in-memory array if nothing was recorded).
        """
        self.flush()
        if self._fh is not None:
            self._fh.close()
            self._fh = None
            os.replace(self._part, self.spill_path)
        if self.spill_path is not None:
            if self._flushed == 0:
                return np.zeros(0, dtype=self.dtype)
            return np.memmap(self.spill_path, dtype=self.dtype, mode="r", shape=(self._flushed,))
        if not self._chunks:
            return np.zeros(0, dtype=self.dtype)
        if len(self._chunks) == 1:
            return self._chunks[0]
        out = np.concatenate(self._chunks)
        self._chunks = [out]
        return out


def to_frame(records: np.ndarray):
    """A record (structured array) as a pandas DataFrame, one column per field (imports pandas lazily)."""
    import pandas as pd

    records = np.asarray(records)
    if records.dtype.names is None:
        raise ValueError(f"records must be a structured array, got dtype {records.dtype}")
    return pd.DataFrame({name: np.asarray(records[name]) for name in records.dtype.names})
