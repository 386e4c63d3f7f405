"""The settings of a replay (:class:`ReplayConfig`) and their packed form, the parameter vector the compiled
loop of :mod:`mmenv.replay.kernel` reads.

What each setting does is the rule set of :mod:`mmenv.replay.engine` (fill models, queue, latency, post-only
rule, decisions, fees, records).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from mmenv.config import check_finite, check_positive

__all__ = ["CROSS_RULES", "DECIDE_ON", "FILL_MODELS", "N_PRM", "ReplayConfig"]

FILL_MODELS = ("queue", "trade_through")
DECIDE_ON = ("quote", "trade", "event")
CROSS_RULES = ("reprice", "withdraw")

# Slots of the packed parameter vector (ReplayConfig.packed): limit and lot (units), fee per unit and rate,
# latency (ns), AS horizon (s) and sigma, record interval, fill model, trade-through share and at-price flag,
# cancel share (-1: proportional), deep-queue share, cross rule, decision clock (on, every n, interval in
# ns), tick and 1 / tick.
(P_QMAX, P_SIZE, P_FPU, P_FRATE, P_LAT, P_HORIZON, P_SIGMA, P_EVERY, P_MODEL, P_SHARE, P_ATPX,
 P_CANCEL, P_DEEP, P_CROSS, P_DECON, P_DECN, P_INTERVAL, P_TICK, P_INV) = range(19)  # fmt: skip
N_PRM = 19


@dataclass(frozen=True)
class ReplayConfig:
    """Settings of a replay (see :mod:`mmenv.replay.engine` for what each does).

    Attributes:
        fill_model: "queue" (default) or "trade_through".
        cancel_ahead: queue model: share of the cancellations at our level that were ahead of us, a number
            in [0, 1] or "proportional" (ahead / (ahead + behind), default).
        deep_queue: queue ahead, as a fraction of the displayed size, of an order resting deeper than the
            recorded best when its level becomes the best, in [0, 1] (default 1).
        share: trade_through: fraction of each print's size available to us, in (0, 1].
        at_price: trade_through: a print at our price fills (True, default) or only one through it (False).
        order_size: units per order, > 0. q_max: hard inventory limit (units), >= order_size.
        maker_fee_bps, maker_fee_per_unit: fees on our (passive) fills; negative: rebates.
        taker_fee_bps, taker_fee_per_unit: fees of the final liquidation in ``pnl_liquidated``.
        feed_latency_s, entry_latency_s: market data to policy, and order to book (seconds, >= 0).
        cross: post-only rule, "reprice" (default) or "withdraw".
        decide_on: "quote" (every quote update, default), "trade" or "event"; decide_every: every n such
            events (>= 1); decision_interval_s: at least this long between decisions (s, >= 0).
        horizon_s: AS episode length (s), tau = horizon - ((t - t_0) mod horizon). sigma: volatility the
            policy sees (price / sqrt(s)).
        record_every: state record every n events (>= 1). fill_capacity, state_capacity: record buffer rows.
        chunk_size: events per chunk of an in-memory tape.
    """

    fill_model: str = "queue"
    cancel_ahead: float | str = "proportional"
    deep_queue: float = 1.0
    share: float = 1.0
    at_price: bool = True
    order_size: float = 1.0
    q_max: float = 10.0
    maker_fee_bps: float = 0.0
    maker_fee_per_unit: float = 0.0
    taker_fee_bps: float = 0.0
    taker_fee_per_unit: float = 0.0
    feed_latency_s: float = 0.0
    entry_latency_s: float = 0.0
    cross: str = "reprice"
    decide_on: str = "quote"
    decide_every: int = 1
    decision_interval_s: float = 0.0
    horizon_s: float = 60.0
    sigma: float = 0.0
    record_every: int = 1
    fill_capacity: int = 1 << 16
    state_capacity: int = 1 << 16
    chunk_size: int = 1 << 18

    def __post_init__(self) -> None:
        for name, allowed in (("fill_model", FILL_MODELS), ("decide_on", DECIDE_ON), ("cross", CROSS_RULES)):
            if getattr(self, name) not in allowed:
                raise ValueError(f"{name} must be one of {allowed}, got {getattr(self, name)!r}")
        if self.cancel_ahead != "proportional":
            if isinstance(self.cancel_ahead, (bool, str)) or not (0.0 <= float(self.cancel_ahead) <= 1.0):
                raise ValueError(
                    f"cancel_ahead must be 'proportional' or in [0, 1], got {self.cancel_ahead!r}"
                )
        if not (isinstance(self.deep_queue, (int, float)) and 0.0 <= self.deep_queue <= 1.0):
            raise ValueError(f"deep_queue must lie in [0, 1], got {self.deep_queue!r}")
        check_positive("share", self.share)
        if self.share > 1.0:
            raise ValueError(f"share must lie in (0, 1], got {self.share!r}")
        check_positive("order_size", self.order_size)
        check_positive("q_max", self.q_max, allow_inf=True)
        if self.order_size > self.q_max:
            raise ValueError(f"order_size must be <= q_max ({self.q_max!r}), got {self.order_size!r}")
        for name in ("maker_fee_bps", "maker_fee_per_unit", "taker_fee_bps", "taker_fee_per_unit"):
            check_finite(name, getattr(self, name))
        for name in ("feed_latency_s", "entry_latency_s", "decision_interval_s", "sigma"):
            check_positive(name, getattr(self, name), allow_zero=True)
        check_positive("horizon_s", self.horizon_s)
        for name in ("at_price",):
            if not isinstance(getattr(self, name), (bool, np.bool_)):
                raise ValueError(f"{name} must be a bool, got {getattr(self, name)!r}")
        for name, lo in (
            ("decide_every", 1),
            ("record_every", 1),
            ("fill_capacity", 4),
            ("state_capacity", 4),
            ("chunk_size", 1),
        ):
            v = getattr(self, name)
            if isinstance(v, bool) or not isinstance(v, (int, np.integer)) or v < lo:
                raise ValueError(f"{name} must be an integer >= {lo}, got {v!r}")

    @property
    def latency_s(self) -> float:
        """Decision-to-book delay: feed plus entry latency (s)."""
        return self.feed_latency_s + self.entry_latency_s

    def describe(self) -> str:
        """One line for headers: fill model, latency, post-only rule, fees."""
        if self.fill_model == "queue":
            model = (
                f"queue (cancels ahead: {self.cancel_ahead}, deeper levels: {self.deep_queue:g} x displayed)"
            )
        else:
            model = f"trade_through ({'at or through' if self.at_price else 'through'} our price, share {self.share:g})"
        return (
            f"fills: {model}; latency: feed {self.feed_latency_s * 1e3:g} ms + entry "
            f"{self.entry_latency_s * 1e3:g} ms; post-only crossing: {self.cross}; maker fee "
            f"{self.maker_fee_bps:g} bps + {self.maker_fee_per_unit:g}/unit; decisions on every "
            f"{self.decide_every if self.decide_every > 1 else ''}{' ' if self.decide_every > 1 else ''}"
            f"{self.decide_on} update{'s' if self.decide_every > 1 else ''}"
        )

    def to_dict(self) -> dict[str, Any]:
        """The settings as a plain dict (for metrics.json)."""
        return dict(self.__dict__)

    def packed(self, tick: float) -> np.ndarray:
        """The settings as the kernel's float64 parameter vector (slots ``P_*`` above) for price tick ``tick``."""
        prm = np.zeros(N_PRM)
        prm[P_QMAX], prm[P_SIZE] = self.q_max, self.order_size
        prm[P_FPU], prm[P_FRATE] = self.maker_fee_per_unit, self.maker_fee_bps * 1e-4
        prm[P_LAT] = round(self.latency_s * 1e9)
        prm[P_HORIZON], prm[P_SIGMA] = self.horizon_s, self.sigma
        prm[P_EVERY] = self.record_every
        prm[P_MODEL] = FILL_MODELS.index(self.fill_model)
        prm[P_SHARE], prm[P_ATPX] = self.share, float(self.at_price)
        prm[P_CANCEL] = -1.0 if self.cancel_ahead == "proportional" else float(self.cancel_ahead)
        prm[P_DEEP] = self.deep_queue
        prm[P_CROSS] = CROSS_RULES.index(self.cross)
        prm[P_DECON], prm[P_DECN] = DECIDE_ON.index(self.decide_on), self.decide_every
        prm[P_INTERVAL] = round(self.decision_interval_s * 1e9)
        prm[P_TICK], prm[P_INV] = tick, 1.0 / tick
        return prm
