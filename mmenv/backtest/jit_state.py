"""The state vector a compiled policy (:mod:`mmenv.sim.jit_policy`) sees in the tick backtester.

One function fills it, called compiled by the loop (:mod:`mmenv.backtest.kernel`) and as ``.py_func`` by the
reference loop (:mod:`mmenv.backtest.reference`), so a policy sees the same numbers on both paths.

The slots ``J_*`` at a decision at event time ``t`` (the stream's time unit), mid ``m``:

* ``J_TIME = t``, ``J_ELAPSED = t - t_0``, ``J_TAU = horizon - ((t - t_0) mod horizon)`` (the loop's tau),
  ``J_MID = m``, ``J_SIGMA`` the configuration's sigma, ``J_S0`` the mid of the first event;
* ``J_Q = q / order_size`` and ``J_Q_MAX = q_max / order_size`` (lots of the order size);
* ``J_BID``, ``J_BID_SIZE``, ``J_ASK``, ``J_ASK_SIZE``, ``J_TICK``, ``J_LOT``: NaN (a :class:`TickStream`
  carries trades and the mid, no book and no price or size grid);
* ``J_OWN_BID``, ``J_OWN_ASK``: the live quote's price (NaN when that side has none), ``J_OWN_BID_LEFT``,
  ``J_OWN_ASK_LEFT``: 1 when it is live (a quote of the backtester is one order of ``order_size``, refilled
  after each fill), else 0;
* ``J_BID_IN_FLIGHT``, ``J_ASK_IN_FLIGHT``: the decisions queued by the latency, not yet live (each moves
  both sides).
"""

from __future__ import annotations

import math
from collections.abc import Iterable

import numpy as np

from mmenv.backtest.stream import TickStream
from mmenv.jit import njit
from mmenv.sim import jit_policy as jp

__all__ = ["check_feature_rows", "check_features", "fill_stream_state"]


@njit(cache=True)
def fill_stream_state(
    jst: np.ndarray,
    t: float,
    t0: float,
    tau: float,
    mid: float,
    s0: float,
    q: float,
    q_max: float,
    size: float,
    sigma: float,
    bid: float,
    ask: float,
    in_flight: float,
) -> None:
    """Write the slots of the module docstring into ``jst`` (float64[N_STATE])."""
    jst[jp.J_TIME] = t
    jst[jp.J_ELAPSED] = t - t0
    jst[jp.J_TAU] = tau
    jst[jp.J_MID] = mid
    jst[jp.J_BID] = math.nan
    jst[jp.J_BID_SIZE] = math.nan
    jst[jp.J_ASK] = math.nan
    jst[jp.J_ASK_SIZE] = math.nan
    jst[jp.J_TICK] = math.nan
    jst[jp.J_LOT] = math.nan
    jst[jp.J_Q] = q / size
    jst[jp.J_Q_MAX] = q_max / size
    jst[jp.J_SIGMA] = sigma
    jst[jp.J_S0] = s0
    jst[jp.J_OWN_BID] = bid
    jst[jp.J_OWN_BID_LEFT] = 1.0 if bid == bid else 0.0
    jst[jp.J_OWN_ASK] = ask
    jst[jp.J_OWN_ASK_LEFT] = 1.0 if ask == ask else 0.0
    jst[jp.J_BID_IN_FLIGHT] = in_flight
    jst[jp.J_ASK_IN_FLIGHT] = in_flight


def check_features(features: np.ndarray | None, stream: TickStream | Iterable[TickStream]) -> np.ndarray:
    """The feature matrix a compiled policy reads, validated: row ``i`` belongs to event ``i`` of the stream
    (the decision at event ``i`` gets row ``i``; with ``reprice_on_quotes`` that decision is taken before
    trade ``i``, so row ``i`` must not depend on it). None gives one empty row (``features.shape[0] == 0``).

    Raises:
        ValueError: not a 2-D array of floats, or (for one :class:`TickStream`) a row count other than the
            stream's length.
    """
    if features is None:
        return np.zeros((1, 0))
    try:
        f = np.ascontiguousarray(features, dtype=np.float64)
    except (TypeError, ValueError) as exc:
        raise ValueError(f"features must be a 2-D array of floats, got {type(features).__name__}") from exc
    if f.ndim != 2:
        raise ValueError(f"features must be a 2-D array (events x features), got shape {f.shape}")
    if isinstance(stream, TickStream) and f.shape[0] != len(stream):
        raise ValueError(
            f"features has {f.shape[0]} rows, not {len(stream)} (one per event of the stream); "
            "give one row per event"
        )
    return f


def check_feature_rows(feats: np.ndarray, features: np.ndarray | None, n_events: int) -> None:
    """Raise before a chunk whose events (``n_events`` so far, the chunk included) outrun the feature rows."""
    if features is not None and n_events > feats.shape[0]:
        raise ValueError(
            f"features has {feats.shape[0]} rows, fewer than the stream's events (at least {n_events}); "
            "give one row per event"
        )
