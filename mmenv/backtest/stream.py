"""The backtester's input: a stream of trades (:class:`TickStream`) and its chunks."""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from typing import Any

import numpy as np

from mmenv.config import check_positive

__all__ = ["TickStream", "iter_chunks"]


@dataclass(frozen=True, eq=False)
class TickStream:
    """A stream of trades (events), struct of (M,) arrays.

    Attributes:
        time: float64, event time in the backtest's time unit (non-decreasing; checked by the loop).
        price: float64, trade price (price units).
        side: int8, +1 buyer-initiated (lifts asks: can fill our ask), -1 seller-initiated (hits bids).
        size: float64, trade size (units), >= 0 (a trade of a zero-volume bar has size 0 and fills nothing).
        mid: float64, mid-price at the trade (price units).
    """

    time: np.ndarray
    price: np.ndarray
    side: np.ndarray
    size: np.ndarray
    mid: np.ndarray

    def __post_init__(self) -> None:
        conv = {
            "time": np.float64,
            "price": np.float64,
            "side": np.int8,
            "size": np.float64,
            "mid": np.float64,
        }
        n = None
        for name, dt in conv.items():
            raw = np.asarray(getattr(self, name))
            if raw.ndim != 1:
                raise ValueError(f"TickStream.{name} must be one-dimensional, got shape {raw.shape}")
            if name == "side" and raw.dtype != np.int8:
                if raw.size and not np.isin(raw, (-1, 1)).all():
                    i = int(np.flatnonzero(~np.isin(raw, (-1, 1)))[0])
                    raise ValueError(f"side must be +1 or -1, got {raw[i].item()!r} at event {i}")
            arr = np.ascontiguousarray(raw, dtype=dt)
            object.__setattr__(self, name, arr)
            if n is None:
                n = arr.shape[0]
            elif arr.shape[0] != n:
                raise ValueError(f"TickStream.{name} has length {arr.shape[0]}, not {n} (the length of time)")

    def __len__(self) -> int:
        return self.time.shape[0]

    def slice(self, start: int, stop: int) -> TickStream:
        """Events ``start:stop`` as views (no copy)."""
        s = slice(start, stop)
        return TickStream(self.time[s], self.price[s], self.side[s], self.size[s], self.mid[s])

    @classmethod
    def from_ticks(cls, ticks: Any, time_unit_seconds: float = 1.0) -> TickStream:
        """From :class:`mmenv.data.ticks.Ticks`: time = trading clock / ``time_unit_seconds``."""
        check_positive("time_unit_seconds", time_unit_seconds)
        return cls(
            time=ticks.clock / float(time_unit_seconds),
            price=ticks.price,
            side=ticks.side,
            size=ticks.size,
            mid=ticks.mid,
        )


def iter_chunks(stream: TickStream | Iterable[TickStream], chunk_size: int = 1 << 20) -> Iterator[TickStream]:
    """Yield the stream as chunks: views of ``chunk_size`` events of one stream, or the chunks of an iterable."""
    if isinstance(stream, TickStream):
        for s in range(0, len(stream), chunk_size):
            yield stream.slice(s, min(len(stream), s + chunk_size))
        return
    for chunk in stream:
        if not isinstance(chunk, TickStream):
            raise TypeError(f"stream chunks must be TickStream, got {type(chunk).__name__}")
        yield chunk
