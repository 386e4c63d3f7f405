"""What a backtest returns (:class:`BacktestResult`), its record buffers, and the loop's error messages.

The error codes are shared by the compiled loop (which sets them) and the reference loop (which raises them
directly): one message per fault, whichever loop meets it.
"""

from __future__ import annotations

import math
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
from tqdm.auto import tqdm

from mmenv.backtest.config import BacktestConfig
from mmenv.records import FILL_DTYPE, STATE_DTYPE, Recorder, to_frame

__all__ = ["BacktestResult", "records_from_arrays"]


# Error codes of the loop.
ERR_TIME, ERR_PRICE, ERR_SIDE, ERR_SIZE, ERR_NAN_QUOTE, ERR_CROSSED, ERR_QUEUE = 1, 2, 3, 4, 5, 6, 7

# Most quote decisions in flight at once (the latency queue of both loops).
QUEUE_CAP = 4096


@dataclass
class BacktestResult:
    """Records and counters of one backtest.

    Attributes:
        fills: :data:`mmenv.records.FILL_DTYPE` record. states: :data:`mmenv.records.STATE_DTYPE` record
            (first row: the state before the first event, ``event = -1``). Both are empty when the run handed
            its records to a sink (``backtest(..., sink=...)``, e.g. :class:`mmenv.analytics.stream.
            StreamingSummary`) instead of keeping them.
        n_events: events processed. n_decisions: quote decisions taken.
        n_quoted: events whose aggressor side met a live quote of ours (the denominator of the fill ratio).
        config: the :class:`BacktestConfig` (None for model-market backtests). strategy: the policy's name.
        order_size, q_max: the order size and inventory limit used (units).
        dt: event spacing for model-market backtests (time units), else None.
    """

    fills: np.ndarray
    states: np.ndarray
    n_events: int
    n_decisions: int
    n_quoted: int
    config: BacktestConfig | None
    strategy: str
    order_size: float
    q_max: float
    dt: float | None = None
    extra: dict[str, Any] = field(default_factory=dict)

    @property
    def pnl(self) -> float:
        """Final minus initial mark-to-market equity (price units)."""
        return float(self.states["equity"][-1] - self.states["equity"][0])

    def fills_frame(self):
        """The fills as a pandas DataFrame."""
        return to_frame(self.fills)

    def states_frame(self):
        """The states as a pandas DataFrame."""
        return to_frame(self.states)


def raise_loop_error(code: int, ev: int, a: float, b: float) -> None:
    if code == ERR_TIME:
        if a != a:
            raise ValueError(f"tick time is NaN at event {ev}")
        raise ValueError(f"ticks out of order at event {ev}: time {a!r} < previous time {b!r}")
    if code == ERR_PRICE:
        raise ValueError(f"tick price and mid must be finite at event {ev}, got price={a!r}, mid={b!r}")
    if code == ERR_SIDE:
        raise ValueError(f"tick side must be +1 or -1 at event {ev}, got {a!r}")
    if code == ERR_SIZE:
        raise ValueError(f"tick size must be finite and >= 0 at event {ev}, got {a!r}")
    if code == ERR_NAN_QUOTE:
        raise ValueError(
            f"policy returned a NaN quote at event {ev}: bid_depth={a!r}, ask_depth={b!r} "
            "(pass allow_withdraw=True to read NaN as 'no quote on that side')"
        )
    if code == ERR_CROSSED:
        raise ValueError(f"policy returned crossed quotes at event {ev}: bid={a!r} >= ask={b!r}")
    if code == ERR_QUEUE:
        raise ValueError(
            f"more than {QUEUE_CAP} decisions in flight at event {ev}: latency spans too many decisions; "
            "use a larger decision_interval"
        )
    raise AssertionError(f"unknown error code {code}")  # pragma: no cover


def make_recorders(
    spill_dir: str | os.PathLike | None, cfg: BacktestConfig, tag: str
) -> tuple[Recorder, Recorder]:
    if spill_dir is None:
        return Recorder(FILL_DTYPE, cfg.fill_capacity), Recorder(STATE_DTYPE, cfg.state_capacity)
    d = Path(spill_dir)
    d.mkdir(parents=True, exist_ok=True)
    return (
        Recorder(FILL_DTYPE, cfg.fill_capacity, d / f"{tag}_fills.bin"),
        Recorder(STATE_DTYPE, cfg.state_capacity, d / f"{tag}_states.bin"),
    )


def flush_records(frec: Recorder, srec: Recorder, sink: Any | None) -> None:
    """Empty both record buffers (which hold the records of the same events): into the recorders (memory or
    spill file), or handed to ``sink.update(fills, states)`` and forgotten."""
    if sink is None:
        frec.flush()
        srec.flush()
        return
    sink.update(frec.buffer[: frec.n], srec.buffer[: srec.n])
    frec.n = srec.n = 0


def progress_bar(progress: bool, total: int | None, name: str):
    if not progress:
        return None
    return tqdm(total=total, desc=f"backtest {name}", unit="ev", unit_scale=True, leave=False)


def records_from_arrays(
    dt: float,
    mid: np.ndarray,
    q: np.ndarray,
    cash: np.ndarray,
    bid: np.ndarray,
    ask: np.ndarray,
    bought: np.ndarray,
    sold: np.ndarray,
    fees: np.ndarray,
    fee_per_unit: float = 0.0,
    fee_rate: float = 0.0,
) -> tuple[np.ndarray, np.ndarray]:
    """Fill and state records of one path of a step-based run (model backtest or env rollout).

    Args:
        dt: step length (time units). mid, q, cash: (S + 1,) mid, inventory and cash, ``[0]`` before step 0.
        bid, ask: (S,) live quotes (NaN: not quoted). bought, sold, fees: (S,) fills and fees of each step.
        fee_per_unit, fee_rate: used to split a step's fees between its bid and ask fills when both filled.

    Returns:
        (fills, states) in :data:`mmenv.records.FILL_DTYPE` / :data:`mmenv.records.STATE_DTYPE`; fill times
        ``j dt`` at mid ``m_j``, state of step j at ``(j + 1) dt`` with mid ``m_{j+1}``.
    """
    s = bought.shape[0]
    states = np.zeros(s + 1, dtype=STATE_DTYPE)
    states["event"] = np.arange(-1, s)
    states["time"] = np.arange(s + 1) * dt
    states["mid"] = mid
    states["bid"][0] = states["ask"][0] = math.nan
    states["bid"][1:], states["ask"][1:] = bid, ask
    states["inventory"], states["cash"] = q, cash
    states["equity"] = cash + q * mid
    jb = np.flatnonzero(bought > 0)
    ja = np.flatnonzero(sold > 0)
    both = sold[jb] > 0
    fee_b = np.where(both, fee_per_unit * bought[jb] + fee_rate * (bought[jb] * bid[jb]), fees[jb])
    fee_b_all = np.zeros(s)
    fee_b_all[jb] = fee_b
    fills = np.zeros(jb.size + ja.size, dtype=FILL_DTYPE)
    ev = np.concatenate([jb, ja])
    order = np.argsort(ev, kind="stable")  # bid fill before ask fill within a step
    ev = ev[order]
    side = np.concatenate([np.ones(jb.size, np.int8), -np.ones(ja.size, np.int8)])[order]
    fills["event"] = ev
    fills["time"] = ev * dt
    fills["side"] = side
    fills["price"] = np.where(side > 0, bid[ev], ask[ev])
    fills["size"] = np.where(side > 0, bought[ev], sold[ev])
    fills["mid"] = mid[ev]
    fills["fee"] = np.where(side > 0, fee_b_all[ev], fees[ev] - fee_b_all[ev])
    fills["inventory"] = q[ev + 1]
    return fills, states
