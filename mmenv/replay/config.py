"""The settings of a replay (:class:`ReplayConfig`), the queue models, and their packed form, the parameter
vector the compiled loop of :mod:`mmenv.replay.kernel` reads.

What each setting does is the rule set of :mod:`mmenv.replay.engine` (fill models, queue models, lot grid,
latency, post-only rule, decisions, fees, records).

The queue models (``queue_model``; the fill model ``"queue"``) say which share of the cancellations at our
price level were ahead of our order. With ``a`` the size ahead of us and ``b`` the size behind us, a fall of
``c`` of the displayed size not explained by trades moves the queue ahead to ``a - s c`` where ``s`` is:

* ``"risk_averse"``: ``s = 0``: cancellations are all behind us; only trades advance the queue
  (hftbacktest's ``RiskAdverseQueueModel``).
* ``"power"`` (n = ``queue_power`` > 0): ``s = a^n / (a^n + b^n)`` (hftbacktest's ``ProbQueueModel`` with
  ``PowerProbQueueFunc(n)``, whose probability that a cancellation is *behind* us is
  ``f(b) / (f(b) + f(a))``, ``f(x) = x^n``). n = 1 is the proportional share ``a / (a + b)``; a larger n
  puts the cancellations further from the front of the queue.
* ``"log"``: ``s = log(1 + a) / (log(1 + a) + log(1 + b))``, sizes in the tape's units (hftbacktest's
  ``LogProbQueueFunc``; like hftbacktest's, this share depends on the unit of size).
* ``"fixed"``: ``s = cancel_ahead``, a share in [0, 1] the user states.

The queue ahead never exceeds the displayed size and never falls below zero by cancellations. Source:
hftbacktest 2.4.4, ``hftbacktest/src/backtest/models/queue.rs`` (nkaz001/hftbacktest) and its "Probability
Queue Models" example; the probabilistic model follows Rigtorp, "Estimating order queue position" (2013).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import numpy as np

from mmenv.config import check_finite, check_positive

__all__ = [
    "CROSS_RULES",
    "DECIDE_ON",
    "FILL_MODELS",
    "N_PRM",
    "QUEUE_MODELS",
    "THROUGH_FILLS",
    "ReplayConfig",
    "TouchRule",
    "parse_queue_model",
]

FILL_MODELS = ("queue", "trade_through")
DECIDE_ON = ("quote", "trade", "event")
CROSS_RULES = ("reprice", "withdraw")
#: The queue models of the fill model "queue" (module docstring).
QUEUE_MODELS = ("risk_averse", "power", "log", "fixed")
#: What a print through our price fills: "print" (up to its size) or "order" (the whole remaining order).
THROUGH_FILLS = ("print", "order")

# Slots of the packed parameter vector (ReplayConfig.packed): limit and order size (units), fee per unit and
# rate, latency (ns), AS horizon (s) and sigma, record interval, fill model, trade-through share and at-price
# flag, fixed cancel share, deep-queue share, cross rule, decision clock (on, every n, interval in ns), tick
# and 1 / tick, lot and 1 / lot, queue model and its power, the through-fill rule, partial fills (0/1), wait
# for the previous action on a side (0/1).
(P_QMAX, P_SIZE, P_FPU, P_FRATE, P_LAT, P_HORIZON, P_SIGMA, P_EVERY, P_MODEL, P_SHARE, P_ATPX,
 P_CANCEL, P_DEEP, P_CROSS, P_DECON, P_DECN, P_INTERVAL, P_TICK, P_INV, P_LOT, P_INVLOT, P_QMODEL,
 P_QPOW, P_THROUGH, P_PARTIAL, P_WAIT) = range(26)  # fmt: skip
N_PRM = 26


def parse_queue_model(spec: str) -> dict[str, Any]:
    """The settings of a queue model written as one token: ``risk_averse``, ``log``, ``power`` (n = 1),
    ``power:N`` (n = N > 0) or ``fixed:S`` (a share S in [0, 1] of the cancellations ahead of us).

    Returns:
        ``{"queue_model": ..., "queue_power": ..., "cancel_ahead": ...}``, keyword arguments of
        :class:`ReplayConfig`.

    Raises:
        ValueError: naming the token and the forms accepted.
    """
    name, _, arg = str(spec).strip().partition(":")
    forms = "risk_averse, power, power:N (N > 0), log or fixed:S (S in [0, 1])"
    out: dict[str, Any] = {"queue_model": name, "queue_power": 1.0, "cancel_ahead": None}
    if name not in QUEUE_MODELS:
        raise ValueError(f"queue model must be one of {forms}, got {spec!r}")
    if name in ("risk_averse", "log") and arg:
        raise ValueError(f"queue model {name!r} takes no parameter, got {spec!r}")
    try:
        if name == "power" and arg:
            out["queue_power"] = float(arg)
        if name == "fixed":
            out["cancel_ahead"] = float(arg) if arg else math.nan
    except ValueError:
        raise ValueError(f"queue model must be one of {forms}, got {spec!r}") from None
    if name == "fixed" and not (0.0 <= out["cancel_ahead"] <= 1.0):
        raise ValueError(f"queue model 'fixed:S' needs a share S in [0, 1], got {spec!r}")
    if not (math.isfinite(out["queue_power"]) and out["queue_power"] > 0):
        raise ValueError(f"queue model 'power:N' needs N > 0, got {spec!r}")
    return out


@dataclass(frozen=True)
class ReplayConfig:
    """Settings of a replay (see :mod:`mmenv.replay.engine` for what each does).

    Attributes:
        fill_model: "queue" (default) or "trade_through".
        queue_model: the queue model of the fill model "queue" (module docstring): "risk_averse", "power"
            (default; with ``queue_power`` 1, the proportional share), "log" or "fixed".
        queue_power: n of the "power" model, > 0 (default 1).
        cancel_ahead: the "fixed" model's share of the cancellations that were ahead of us, in [0, 1]
            (required by it, refused by the others).
        deep_queue: queue ahead, as a fraction of the displayed size, of an order resting deeper than the
            recorded best when its level becomes the best, in [0, 1] (default 1; 0: nobody ahead, at once).
        through_fill: what a print through our price (a buy above our ask) fills: "print" (default: up to
            the print's size) or "order" (the whole remaining order, hftbacktest's partial-fill exchange).
        partial_fills: True (default): an order fills lot by lot as size reaches it; False: all or nothing,
            the whole order as soon as any of it would fill (hftbacktest's no-partial-fill exchange).
        wait_for_ack: False (default): each decision's action on a side follows the previous one to the
            book; True: a side with an action on its way sends nothing new until it has reached the book
            (as an order API that cannot amend an order it has not acknowledged).
        share: trade_through: fraction of each print's size available to us, in (0, 1].
        at_price: trade_through: a print at our price fills (True, default) or only one through it (False).
        order_size: units per order, > 0, a whole number of lots. q_max: hard inventory limit (units),
            >= order_size.
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
    queue_model: str = "power"
    queue_power: float = 1.0
    cancel_ahead: float | None = None
    deep_queue: float = 1.0
    through_fill: str = "print"
    partial_fills: bool = True
    wait_for_ack: bool = False
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
        for name, allowed in (
            ("fill_model", FILL_MODELS),
            ("queue_model", QUEUE_MODELS),
            ("through_fill", THROUGH_FILLS),
            ("decide_on", DECIDE_ON),
            ("cross", CROSS_RULES),
        ):
            if getattr(self, name) not in allowed:
                raise ValueError(f"{name} must be one of {allowed}, got {getattr(self, name)!r}")
        check_positive("queue_power", self.queue_power)
        if self.queue_model == "fixed":
            if isinstance(self.cancel_ahead, (bool, str)) or self.cancel_ahead is None:
                raise ValueError(
                    f"cancel_ahead must be a share in [0, 1] with queue_model='fixed', got {self.cancel_ahead!r}"
                )
            if not (0.0 <= float(self.cancel_ahead) <= 1.0):
                raise ValueError(f"cancel_ahead must lie in [0, 1], got {self.cancel_ahead!r}")
        elif self.cancel_ahead is not None:
            hint = (
                "queue_model='power' (queue_power=1) is the proportional share"
                if self.cancel_ahead == "proportional"
                else "a fixed share needs queue_model='fixed'"
            )
            raise ValueError(
                f"cancel_ahead applies to queue_model='fixed' only, got {self.cancel_ahead!r} with "
                f"queue_model={self.queue_model!r}: {hint}"
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
        for name in ("at_price", "partial_fills", "wait_for_ack"):
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

    @classmethod
    def with_queue_model(cls, spec: str, **kwargs: Any) -> ReplayConfig:
        """A configuration with the queue model written as one token (:func:`parse_queue_model`)."""
        return cls(**{**kwargs, **parse_queue_model(spec)})

    @property
    def latency_s(self) -> float:
        """Decision-to-book delay: feed plus entry latency (s)."""
        return self.feed_latency_s + self.entry_latency_s

    @property
    def queue_spec(self) -> str:
        """The queue model as one token (the inverse of :func:`parse_queue_model`): "power:1", "log", ..."""
        if self.queue_model == "power":
            return f"power:{self.queue_power:g}"
        if self.queue_model == "fixed":
            return f"fixed:{self.cancel_ahead:g}"
        return self.queue_model

    def check_lot(self, lot: float) -> None:
        """ValueError unless ``order_size`` is a whole number of lots of size ``lot`` (to a millionth of a lot)."""
        n = self.order_size / lot
        if abs(n - round(n)) > 1e-6 or round(n) < 1:
            raise ValueError(
                f"order_size must be a whole number of lots (lot {lot:g}), got {self.order_size!r} "
                f"({n:.6g} lots); round it to the lot grid"
            )

    def describe(self) -> str:
        """One line for headers: fill model, latency, post-only rule, fees."""
        through = "a print through our price fills " + (
            "the whole order" if self.through_fill == "order" else "up to its size"
        )
        if not self.partial_fills:
            through += "; no partial fills"
        if self.fill_model == "queue":
            model = (
                f"queue (queue model {self.queue_spec}, deeper levels: {self.deep_queue:g} x displayed; "
                f"{through})"
            )
        else:
            model = (
                f"trade_through ({'at or through' if self.at_price else 'through'} our price, share "
                f"{self.share:g}; {through})"
            )
        return (
            f"fills: {model}; latency: feed {self.feed_latency_s * 1e3:g} ms + entry "
            f"{self.entry_latency_s * 1e3:g} ms; post-only crossing: {self.cross}; maker fee "
            f"{self.maker_fee_bps:g} bps + {self.maker_fee_per_unit:g}/unit; decisions on every "
            f"{self.decide_every if self.decide_every > 1 else ''}{' ' if self.decide_every > 1 else ''}"
            f"{self.decide_on} update{'s' if self.decide_every > 1 else ''}"
            + ("; a side waits for its action in flight" if self.wait_for_ack else "")
        )

    def to_dict(self) -> dict[str, Any]:
        """The settings as a plain dict (for metrics.json)."""
        return dict(self.__dict__)

    def packed(self, tick: float, lot: float) -> np.ndarray:
        """The settings as the kernel's float64 parameter vector (slots ``P_*`` above) for price tick ``tick``
        and size step ``lot``."""
        prm = np.zeros(N_PRM)
        prm[P_QMAX], prm[P_SIZE] = self.q_max, self.order_size
        prm[P_FPU], prm[P_FRATE] = self.maker_fee_per_unit, self.maker_fee_bps * 1e-4
        prm[P_LAT] = round(self.latency_s * 1e9)
        prm[P_HORIZON], prm[P_SIGMA] = self.horizon_s, self.sigma
        prm[P_EVERY] = self.record_every
        prm[P_MODEL] = FILL_MODELS.index(self.fill_model)
        prm[P_SHARE], prm[P_ATPX] = self.share, float(self.at_price)
        prm[P_CANCEL] = 0.0 if self.cancel_ahead is None else float(self.cancel_ahead)
        prm[P_DEEP] = self.deep_queue
        prm[P_CROSS] = CROSS_RULES.index(self.cross)
        prm[P_DECON], prm[P_DECN] = DECIDE_ON.index(self.decide_on), self.decide_every
        prm[P_INTERVAL] = round(self.decision_interval_s * 1e9)
        prm[P_TICK], prm[P_INV] = tick, 1.0 / tick
        prm[P_LOT], prm[P_INVLOT] = lot, 1.0 / lot
        prm[P_QMODEL], prm[P_QPOW] = QUEUE_MODELS.index(self.queue_model), self.queue_power
        prm[P_THROUGH] = THROUGH_FILLS.index(self.through_fill)
        prm[P_PARTIAL], prm[P_WAIT] = float(self.partial_fills), float(self.wait_for_ack)
        return prm


@dataclass(frozen=True)
class TouchRule:
    """The compiled fixed-offset strategy: a bid ``offset_ticks`` ticks below the best bid and an ask as far
    above the best ask (an integer >= 0; 0: join the touch; 1: one tick behind), decided at every decision
    point from the book in force.

    It is :class:`agents.TouchAgent` run in the compiled loop of :mod:`mmenv.replay.kernel` (same depths, bit
    for bit: :func:`mmenv.replay.kernel.touch_depths` is the one formula). Replay only: it reads the book.
    """

    offset_ticks: int = 0

    def __post_init__(self) -> None:
        v = self.offset_ticks
        if isinstance(v, bool) or not isinstance(v, (int, np.integer)) or v < 0:
            raise ValueError(f"offset_ticks must be an integer >= 0 (ticks behind the best), got {v!r}")

    @property
    def name(self) -> str:
        """The strategy's short name."""
        return "touch" if self.offset_ticks == 0 else f"touch+{self.offset_ticks}"

    def packed(self) -> np.ndarray:
        """The kernel's rule parameters (``rp[2]`` NaN: the configuration's sigma, unused)."""
        return np.array([float(self.offset_ticks), 0.0, math.nan, 0.0, 0.0, 0.0])
