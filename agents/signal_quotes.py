"""Signal-aware quotes on a tape: AS and GLFT around the micro-price, and an imbalance-aware market maker.

Each strategy is a compiled policy ``fn(state, features, params, memory, out)`` (the interface of
:mod:`mmenv.replay.jit_policy`: ``state`` the replay's slots ``J_*``, ``features`` the row of the tape's
signal matrix of :func:`mmenv.signals.compute_features` at the decision's event, ``out`` the depths (bid,
ask) from the mid in price units, NaN withdrawing a side), wrapped with its parameters by
:class:`SignalQuotes`. Inventory ``q`` is in lots, tau in seconds, sigma in price / sqrt(s).

* :func:`as_micro_policy` (``as-micro``): Avellaneda & Stoikov 2008 (eqs. 3.17, 3.18) around the
  micro-price ``P = M + tick * G*(I, S)`` of Stoikov 2018 (eq. 8) instead of the mid ``M``, ``P`` clipped to
  the touch ``[bid, ask]``: reservation ``r = P - q gamma sigma^2 tau``, spread ``gamma sigma^2 tau +
  (2/gamma) ln(1 + gamma/k)``.
* :func:`glft_micro_policy` (``glft-micro``): the GLFT closed form (Gueant, Lehalle & Fernandez-Tapia 2013;
  :class:`agents.optimal.GLFTAgent`) around the same micro-price: bid ``P - c1 - (2q + 1)/2 c2``, ask
  ``P + c1 - (2q - 1)/2 c2``, a side withdrawn when its fill would break the inventory bound.
* :func:`imbalance_policy` (``imbalance``): in the spirit of Cartea, Donnelly & Jaimungal 2018 ("Enhancing
  trading strategies with order book signals", Appl. Math. Finance 25(1)): the AS quotes around
  ``M + alpha`` with the predicted drift ``alpha = beta x`` (x the signal, beta the in-sample
  least-squares slope of the next mid move over a horizon h on x, price units per unit of x), and the side
  that the prediction says will be picked off withdrawn: the bid when ``alpha < -theta``, the ask when
  ``alpha > theta``, theta the in-sample median half-spread (price units): a fill at the touch then earns
  less than the move it is expected to suffer (CDJ 2018, sec. 4: the market maker stops posting on the side
  the imbalance predicts to be adversely selected).
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from agents.base import BasePolicy, QuoteState
from mmenv.jit import njit
from mmenv.replay.jit_policy import (
    J_ASK,
    J_ASK_SIZE,
    J_BID,
    J_BID_SIZE,
    J_LOT,
    J_MID,
    J_Q,
    J_S0,
    J_SIGMA,
    J_TAU,
    J_TICK,
    N_STATE,
    JitPolicy,
)

__all__ = [
    "AS_MICRO_PARAMS",
    "GLFT_MICRO_PARAMS",
    "IMBALANCE_PARAMS",
    "SignalQuotes",
    "as_micro_policy",
    "glft_micro_policy",
    "imbalance_policy",
]

#: Parameters of :func:`as_micro_policy`: gamma (1 / price, per lot), the liquidity term (2/gamma)
#: ln(1 + gamma/k) (price), the column of ``micro_ticks`` in the features (-1: the mid).
AS_MICRO_PARAMS = ("gamma", "liquidity", "micro_col")
#: Parameters of :func:`glft_micro_policy`: c1, c2 (price), the bound Q (lots), the micro-price column.
GLFT_MICRO_PARAMS = ("c1", "c2", "q_max", "micro_col")
#: Parameters of :func:`imbalance_policy`: gamma, liquidity term, signal column, beta (price per unit of
#: the signal), theta (price; NaN: never withdraw).
IMBALANCE_PARAMS = ("gamma", "liquidity", "signal_col", "beta", "theta")


@njit
def micro_reference(state, features, col) -> float:
    """The micro-price ``mid + tick * features[col]`` clipped to ``[bid, ask]`` (the mid when col < 0)."""
    mid = state[J_MID]
    if col < 0:
        return mid
    p = mid + state[J_TICK] * features[int(col)]
    return min(state[J_ASK], max(state[J_BID], p))


@njit
def as_micro_policy(state, features, params, memory, out) -> None:
    """AS quotes around the micro-price (module docstring); ``params`` :data:`AS_MICRO_PARAMS`."""
    gamma, liq = params[0], params[1]
    ref = micro_reference(state, features, params[2])
    var_tau = state[J_SIGMA] * state[J_SIGMA] * state[J_TAU]
    r = ref - state[J_Q] * gamma * var_tau
    half = 0.5 * (gamma * var_tau + liq)
    out[0] = state[J_MID] - (r - half)
    out[1] = (r + half) - state[J_MID]


@njit
def glft_micro_policy(state, features, params, memory, out) -> None:
    """GLFT quotes around the micro-price (module docstring); ``params`` :data:`GLFT_MICRO_PARAMS`."""
    c1, c2, qmax = params[0], params[1], params[2]
    q = state[J_Q]
    shift = micro_reference(state, features, params[3]) - state[J_MID]
    out[0] = c1 + (2.0 * q + 1.0) / 2.0 * c2 - shift
    out[1] = c1 - (2.0 * q - 1.0) / 2.0 * c2 + shift
    if q + 1.0 > qmax + 1e-9:
        out[0] = math.nan
    if q - 1.0 < -qmax - 1e-9:
        out[1] = math.nan


@njit
def imbalance_policy(state, features, params, memory, out) -> None:
    """AS quotes around ``mid + beta x``, one side withdrawn beyond ``theta`` (module docstring); ``params``
    :data:`IMBALANCE_PARAMS`."""
    gamma, liq, beta, theta = params[0], params[1], params[3], params[4]
    alpha = beta * features[int(params[2])]
    var_tau = state[J_SIGMA] * state[J_SIGMA] * state[J_TAU]
    r = state[J_MID] + alpha - state[J_Q] * gamma * var_tau
    half = 0.5 * (gamma * var_tau + liq)
    out[0] = state[J_MID] - (r - half)
    out[1] = (r + half) - state[J_MID]
    if alpha < -theta:
        out[0] = math.nan
    if alpha > theta:
        out[1] = math.nan


_FUNCTIONS = {"as-micro": as_micro_policy, "glft-micro": glft_micro_policy, "imbalance": imbalance_policy}
_PARAMS = {"as-micro": AS_MICRO_PARAMS, "glft-micro": GLFT_MICRO_PARAMS, "imbalance": IMBALANCE_PARAMS}


class SignalQuotes(BasePolicy):
    """One of the signal-aware strategies (module docstring) with its parameters.

    On a tape replay (``replay(policy, tape, cfg, features=policy.features)``) the engine calls the
    compiled function inside its loop with the feature row of the decision's event (:meth:`jit_policy`);
    :meth:`quote` calls the same function's Python source from a :class:`mmenv.policy.QuoteState` with its
    ``features`` row (a Python caller such as the event-clock env).

    Args:
        name: ``as-micro``, ``glft-micro`` or ``imbalance``. params: the named parameters
            (:data:`AS_MICRO_PARAMS`, :data:`GLFT_MICRO_PARAMS`, :data:`IMBALANCE_PARAMS`), finite (theta
            may be NaN: never withdraw). features: the feature matrix of the tape it is built to replay
            (rows x n, the columns its parameters index), carried for the caller of the replay.
        fit: how the parameters were fitted (reported with the strategy). s0: see :class:`BasePolicy`.

    Raises:
        ValueError: an unknown name, a missing or non-finite parameter (naming it).
    """

    def __init__(
        self,
        name: str,
        params: dict[str, float],
        features: np.ndarray | None = None,
        fit: dict[str, Any] | None = None,
        s0: float = 100.0,
    ) -> None:
        super().__init__(s0)
        if name not in _FUNCTIONS:
            raise ValueError(f"name must be one of {sorted(_FUNCTIONS)}, got {name!r}")
        vec = []
        for key in _PARAMS[name]:
            if key not in params:
                raise ValueError(f"{name}: parameter {key!r} missing (needs {', '.join(_PARAMS[name])})")
            v = float(params[key])
            if not math.isfinite(v) and not (key == "theta" and math.isnan(v)):
                raise ValueError(f"{name}: parameter {key} must be finite, got {params[key]!r}")
            vec.append(v)
        self.name, self.fn = name, _FUNCTIONS[name]
        self.params = np.array(vec, dtype=np.float64)
        self.param_dict = {k: float(params[k]) for k in _PARAMS[name]}
        self.fit = dict(fit or {})
        self.features = None if features is None else np.ascontiguousarray(features, dtype=np.float64)

    def jit_policy(self) -> JitPolicy:
        """The compiled form for the replay loop (:class:`mmenv.replay.jit_policy.JitPolicy`)."""
        return JitPolicy(self.fn, params=self.params, memory_size=0, name=self.name)

    def state_vector(self, state: QuoteState) -> np.ndarray:
        """The slots ``J_*`` of one path's :class:`mmenv.policy.QuoteState` on a tape."""
        v = np.full(N_STATE, math.nan)
        one = lambda x: float(np.asarray(x, dtype=np.float64).reshape(-1)[0])  # noqa: E731
        v[J_TAU], v[J_MID], v[J_Q], v[J_SIGMA], v[J_S0] = (
            one(state.tau),
            one(state.mid),
            one(state.q),
            one(state.sigma),
            one(state.s0),
        )
        b = state.book
        if b is not None:
            v[J_BID], v[J_BID_SIZE], v[J_ASK], v[J_ASK_SIZE], v[J_TICK], v[J_LOT] = (
                b.bid,
                b.bid_size,
                b.ask,
                b.ask_size,
                b.tick,
                b.lot,
            )
        return v

    def quote(self, state: QuoteState) -> tuple[np.ndarray, np.ndarray]:
        """The depths of the compiled function's Python source for one path (NaN withdrawals as +inf)."""
        row = state.features
        if row is None:
            raise ValueError(f"{self.name} needs the order-book signals: QuoteState.features is None")
        out = np.full(2, math.nan)
        self.fn.py_func(self.state_vector(state), np.asarray(row, np.float64), self.params, np.zeros(0), out)
        out[~np.isfinite(out)] = np.inf
        return np.array([out[0]]), np.array([out[1]])
