"""Order-book signals of a tape, computed online and causally: row i of the matrix uses events 0..i only.

:func:`compute_features` returns ``(names, matrix)``, ``matrix`` float64 of shape (len(tape), n), finite,
one column per signal of :class:`FeatureSpec`. Each column (units, bounds, normalisation, source):

* ``imbalance``: the touch (queue) imbalance ``(Q_b - Q_a) / (Q_b + Q_a)`` of the book in force at event i
  (``Q_b``, ``Q_a`` the best bid and ask sizes), dimensionless, in [-1, 1]. Positive: more size bids than
  offers, which predicts an up-move of the mid (Cartea, Donnelly & Jaimungal 2018, "Enhancing trading
  strategies with order book signals", Appl. Math. Finance 25(1), sec. 2; Stoikov 2018, eq. 2 uses
  ``I = Q_b / (Q_b + Q_a) = (1 + imbalance) / 2``).
* ``micro_ticks`` (only when ``spec.micro`` holds a fitted table): the micro-price adjustment
  ``G(I, S)`` of Stoikov 2018 ("The micro-price: a high-frequency estimator of future prices", Quant.
  Finance 18(12), eq. 8: ``P_micro = M + G(I, S)``), in ticks, read from the in-sample table
  (:func:`mmenv.signals.microprice.fit_microprice`) at the imbalance bucket and spread (ticks) of event i;
  bounded by the table's largest ``|G*|``. Not clipped to the spread: on a tape whose mid jumps several
  ticks at once (the crypto samples), the expected next mid lies outside the spread, and a policy that
  needs a price inside it clips it itself.
* ``ofi_<W>s``: the order-flow imbalance of Cont, Kukanov & Stoikov 2014 ("The price impact of order book
  events", J. Financial Econometrics 12(1), eq. 2): per event ``e_n = 1{P^B_n >= P^B_{n-1}} q^B_n
  - 1{P^B_n <= P^B_{n-1}} q^B_{n-1} - 1{P^A_n <= P^A_{n-1}} q^A_n + 1{P^A_n >= P^A_{n-1}} q^A_{n-1}``
  (units of size), summed over the events in the last ``W`` seconds (times in ``(t_i - W, t_i]``, event i
  included) and normalised by the sum of ``|e_n|`` over the same events: dimensionless, in [-1, 1]
  (0 when nothing changed at the touch). The first event has ``e_0 = 0`` (no previous book).
* ``flow_<W>s``: recent trade-sign flow, the signed traded volume ``sum side_n V_n`` over the trades of the
  last ``W`` seconds divided by their volume ``sum V_n``: dimensionless, in [-1, 1] (+1: every print was
  buyer-initiated; 0 without a trade in the window).
* ``spread_ticks``: ``(ask - bid) / tick`` rounded to the nearest integer, in ``[1, spread_cap]`` (wider
  spreads clipped to ``spread_cap``; a tape's book is never locked or crossed).
* ``mid_age_s``: seconds since the last change of the mid (0 at the event that changed it; the first event
  counts as a change), clipped to ``[0, max_age_s]``.

The windows slide with two pointers in one compiled loop (:func:`feature_kernel`), O(len(tape)) per window.
Causality is a property of that loop (nothing reads index j > i while row i is written), and is tested by
truncating and perturbing the events after i.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from mmenv.data.tape import TRADE, Tape
from mmenv.jit import njit
from mmenv.signals.microprice import MicroPriceTable, check_fields

__all__ = ["FeatureSpec", "compute_features", "feature_kernel", "feature_names", "ofi_events"]


@dataclass(frozen=True)
class FeatureSpec:
    """Which signals :func:`compute_features` computes, and their windows.

    Attributes:
        ofi_windows_s: windows W (seconds, > 0) of the order-flow imbalance, one column each.
        flow_windows_s: windows W (seconds, > 0) of the trade-sign flow, one column each.
        spread_cap: spreads (ticks) above it are clipped to it (integer >= 1).
        max_age_s: time since the last mid change is clipped to it (seconds, > 0).
        micro: the in-sample micro-price table (:class:`MicroPriceTable`), or None: no ``micro_ticks`` column.
    """

    ofi_windows_s: tuple[float, ...] = (1.0, 10.0)
    flow_windows_s: tuple[float, ...] = (1.0, 10.0)
    spread_cap: int = 20
    max_age_s: float = 60.0
    micro: MicroPriceTable | None = field(default=None, compare=False)

    def __post_init__(self) -> None:
        for name in ("ofi_windows_s", "flow_windows_s"):
            ws = tuple(getattr(self, name))
            for w in ws:
                if (
                    isinstance(w, bool)
                    or not isinstance(w, (int, float, np.floating))
                    or not (math.isfinite(w) and w > 0)
                ):
                    raise ValueError(f"FeatureSpec.{name} must hold finite numbers > 0 (seconds), got {w!r}")
            object.__setattr__(self, name, tuple(float(w) for w in ws))
        if (
            isinstance(self.spread_cap, bool)
            or not isinstance(self.spread_cap, (int, np.integer))
            or (self.spread_cap < 1)
        ):
            raise ValueError(f"FeatureSpec.spread_cap must be an integer >= 1, got {self.spread_cap!r}")
        if not (
            isinstance(self.max_age_s, (int, float)) and math.isfinite(self.max_age_s) and self.max_age_s > 0
        ):
            raise ValueError(f"FeatureSpec.max_age_s must be a finite number > 0, got {self.max_age_s!r}")
        if self.micro is not None and not isinstance(self.micro, MicroPriceTable):
            raise ValueError(
                f"FeatureSpec.micro must be a MicroPriceTable or None, got {type(self.micro).__name__}"
            )

    def to_dict(self) -> dict[str, Any]:
        """The spec as plain values (a saved agent's ``signals.json``): JSON-ready; :meth:`from_dict` of it
        gives the same spec and micro-price table, every float bit for bit."""
        return {
            "ofi_windows_s": list(self.ofi_windows_s),
            "flow_windows_s": list(self.flow_windows_s),
            "spread_cap": int(self.spread_cap),
            "max_age_s": float(self.max_age_s),
            "micro": None if self.micro is None else self.micro.to_dict(),
        }

    @classmethod
    def from_dict(cls, d: Any) -> FeatureSpec:
        """The spec of :meth:`to_dict`'s ``d``, validated at the boundary (every field present and no other;
        the windows lists of numbers; the values as the constructor checks them; ``micro`` None or a table,
        :meth:`MicroPriceTable.from_dict`).

        Raises:
            ValueError: naming the field and its value.
        """
        fields = ("ofi_windows_s", "flow_windows_s", "spread_cap", "max_age_s", "micro")
        check_fields(d, fields, "FeatureSpec", "the feature spec")
        for k in ("ofi_windows_s", "flow_windows_s"):
            if not isinstance(d[k], list):
                raise ValueError(f"FeatureSpec.{k} must be a list of windows (seconds), got {d[k]!r:.80}")
        if isinstance(d["max_age_s"], bool):
            raise ValueError(f"FeatureSpec.max_age_s must be a finite number > 0, got {d['max_age_s']!r}")
        micro = None if d["micro"] is None else MicroPriceTable.from_dict(d["micro"], "FeatureSpec.micro")
        return cls(
            ofi_windows_s=tuple(d["ofi_windows_s"]),
            flow_windows_s=tuple(d["flow_windows_s"]),
            spread_cap=d["spread_cap"],
            max_age_s=d["max_age_s"],
            micro=micro,
        )


def feature_names(spec: FeatureSpec) -> list[str]:
    """The column names of :func:`compute_features` for ``spec``, in order."""
    names = ["imbalance"]
    if spec.micro is not None:
        names.append("micro_ticks")
    names += [f"ofi_{w:g}s" for w in spec.ofi_windows_s]
    names += [f"flow_{w:g}s" for w in spec.flow_windows_s]
    return [*names, "spread_ticks", "mid_age_s"]


@njit
def ofi_events(bid_px, bid_qty, ask_px, ask_qty) -> np.ndarray:
    """The order-flow contribution ``e_n`` of every event (Cont, Kukanov & Stoikov 2014, eq. 2; units of
    size; ``e_0 = 0``)."""
    n = bid_px.shape[0]
    e = np.zeros(n)
    for i in range(1, n):
        v = 0.0
        if bid_px[i] >= bid_px[i - 1]:
            v += bid_qty[i]
        if bid_px[i] <= bid_px[i - 1]:
            v -= bid_qty[i - 1]
        if ask_px[i] <= ask_px[i - 1]:
            v -= ask_qty[i]
        if ask_px[i] >= ask_px[i - 1]:
            v += ask_qty[i - 1]
        e[i] = v
    return e


@njit
def _window_ratio(time, num, den, window_ns, out) -> None:
    """out[i] = sum num / sum den over the events j <= i with time[j] > time[i] - window_ns (0 if den is 0).

    Running sums are recomputed exactly from the window's members whenever the window moves a whole
    multiple of 4096 events, so float drift never accumulates over a long tape."""
    n = time.shape[0]
    lo = 0
    s_num = 0.0
    s_den = 0.0
    for i in range(n):
        s_num += num[i]
        s_den += den[i]
        while time[lo] <= time[i] - window_ns:
            s_num -= num[lo]
            s_den -= den[lo]
            lo += 1
        if (i & 4095) == 0:
            s_num = 0.0
            s_den = 0.0
            for j in range(lo, i + 1):
                s_num += num[j]
                s_den += den[j]
        r = s_num / s_den if s_den > 1e-12 * (abs(s_num) + 1.0) and s_den > 0.0 else 0.0
        out[i] = min(1.0, max(-1.0, r))


@njit
def feature_kernel(
    time, kind, bid_px, bid_qty, ask_px, ask_qty, trade_qty, side, tick, ofi_w_ns, flow_w_ns, spread_cap,
    max_age_s, micro_g, n_imb, use_micro, out,
) -> None:  # fmt: skip
    """Fill ``out`` (len, n) with the columns of :func:`feature_names` (see the module docstring); every row i
    reads events 0..i only."""
    n = time.shape[0]
    c = 0
    mid_prev = math.nan
    last_change = 0
    for i in range(n):
        qb, qa = bid_qty[i], ask_qty[i]
        out[i, 0] = (qb - qa) / (qb + qa)
    c = 1
    if use_micro:
        for i in range(n):
            s = max(1, round((ask_px[i] - bid_px[i]) / tick))
            sc = min(s, micro_g.shape[1])
            ib = bid_qty[i] / (bid_qty[i] + ask_qty[i])
            b = min(int(ib * n_imb), n_imb - 1)
            out[i, c] = micro_g[b, sc - 1]
        c += 1
    e = ofi_events(bid_px, bid_qty, ask_px, ask_qty)
    ae = np.abs(e)
    for w in range(ofi_w_ns.shape[0]):
        _window_ratio(time, e, ae, ofi_w_ns[w], out[:, c])
        c += 1
    sv = np.zeros(n)
    v = np.zeros(n)
    for i in range(n):
        if kind[i] == 1:
            v[i] = trade_qty[i]
            sv[i] = side[i] * trade_qty[i]
    for w in range(flow_w_ns.shape[0]):
        _window_ratio(time, sv, v, flow_w_ns[w], out[:, c])
        c += 1
    for i in range(n):
        s = round((ask_px[i] - bid_px[i]) / tick)
        out[i, c] = min(float(spread_cap), max(1.0, s))
        m = 0.5 * (bid_px[i] + ask_px[i])
        if i == 0 or m != mid_prev:
            last_change = time[i]
        mid_prev = m
        out[i, c + 1] = min(max_age_s, (time[i] - last_change) * 1e-9)


def compute_features(tape: Tape, spec: FeatureSpec | None = None) -> tuple[list[str], np.ndarray]:
    """The signals of ``spec`` (default :class:`FeatureSpec`) at every event of ``tape``.

    Returns:
        (names, matrix): :func:`feature_names` and a C-contiguous float64 matrix (len(tape), len(names)),
        finite, row i a function of events 0..i only (module docstring: units, bounds, formulas).

    Raises:
        ValueError: ``tape`` is not a :class:`Tape`, or ``spec`` is not a :class:`FeatureSpec`.
    """
    spec = FeatureSpec() if spec is None else spec
    if not isinstance(tape, Tape):
        raise ValueError(f"tape must be a Tape, got {type(tape).__name__}")
    if not isinstance(spec, FeatureSpec):
        raise ValueError(f"spec must be a FeatureSpec, got {type(spec).__name__}")
    names = feature_names(spec)
    out = np.zeros((len(tape), len(names)), dtype=np.float64)
    if len(tape) == 0:
        return names, out
    micro = spec.micro
    g = micro.g_ticks if micro is not None else np.zeros((1, 1))
    feature_kernel(
        tape.time,
        tape.kind,
        tape.bid_px,
        tape.bid_qty,
        tape.ask_px,
        tape.ask_qty,
        np.where(tape.kind == TRADE, tape.trade_qty, 0.0),
        tape.side.astype(np.float64),
        float(tape.tick),
        np.array([round(w * 1e9) for w in spec.ofi_windows_s], dtype=np.int64),
        np.array([round(w * 1e9) for w in spec.flow_windows_s], dtype=np.int64),
        int(spec.spread_cap),
        float(spec.max_age_s),
        np.ascontiguousarray(g, dtype=np.float64),
        int(micro.n_imbalance) if micro is not None else 1,
        micro is not None,
        out,
    )
    return names, out
