"""A policy at kernel speed: a numba function the compiled loops (the replay's and the tick backtester's) call
at each decision.

Its home is here, below both loops (:mod:`mmenv.replay.jit_policy` re-exports it): the replay fills the state
vector from the book (:mod:`mmenv.replay.kernel`), the tick backtester from its stream
(:mod:`mmenv.backtest.jit_state`, where the slots it cannot know are NaN).

A compiled policy is a numba function ``policy(state, features, params, memory, out) -> None``:

* ``state``: float64[:] (read only), the slots ``J_*`` of this module (price units, seconds, lots):
  :data:`J_TIME` (event time, s since the tape's origin), :data:`J_ELAPSED` (s since the replay started),
  :data:`J_TAU` (s to the AS horizon, ``horizon_s - (elapsed mod horizon_s)``, > 0), :data:`J_MID`,
  :data:`J_BID`, :data:`J_BID_SIZE`, :data:`J_ASK`, :data:`J_ASK_SIZE` (the top of the book; sizes in
  units), :data:`J_TICK`, :data:`J_LOT` (the price and size steps), :data:`J_Q` (inventory in lots of the
  order size: units / ``order_size``), :data:`J_Q_MAX` (the limit, lots of the order size),
  :data:`J_SIGMA` (the configuration's sigma, price / sqrt(s)), :data:`J_S0` (the mid at the first
  decision), :data:`J_OWN_BID`, :data:`J_OWN_BID_LEFT`, :data:`J_OWN_ASK`, :data:`J_OWN_ASK_LEFT` (our
  resting orders: price, NaN when none rests; size left in lots of the order size, 0 when none),
  :data:`J_BID_IN_FLIGHT`, :data:`J_ASK_IN_FLIGHT` (actions sent on that side not yet in the book).
  Slots may be appended in later versions, never reordered.
* ``features``: float64[:], the row of the feature matrix passed to ``replay(..., features=M)`` at the
  decision's event (the last event the decision has seen; M has one row per tape event), length 0 without
  features. Features are functions of the tape alone (causal: row i depends on events 0..i only).
* ``params``: float64[:], the policy's constant parameters.
* ``memory``: float64[:], the policy's own scratch, zeros at the start of each replay (state such as an EMA).
* ``out``: float64[2], written by the policy: the depths (bid, ask) from the mid in price units; NaN or +inf
  on a side withdraws that side. The engine rounds the prices away from the mid to the tick grid.

:class:`JitPolicy` wraps such a function with its parameters. The compiled loop calls it through a numba
first-class function (a C callback of the fixed :data:`SIGNATURE`), so the loop is compiled and cached once
for every policy and only the policy itself is compiled per process (or loaded from numba's cache when its
module is a file); the reference path (``replay(..., path="reference")``) calls the same function's Python
source (``py_func``) with the same arrays, so both paths give the same numbers.
"""

from __future__ import annotations

import functools
import math
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import numpy as np
from numba import cfunc, types

from mmenv.jit import install_cache_locator

__all__ = [
    "J_ASK",
    "J_ASK_IN_FLIGHT",
    "J_ASK_SIZE",
    "J_BID",
    "J_BID_IN_FLIGHT",
    "J_BID_SIZE",
    "J_ELAPSED",
    "J_LOT",
    "J_MID",
    "J_OWN_ASK",
    "J_OWN_ASK_LEFT",
    "J_OWN_BID",
    "J_OWN_BID_LEFT",
    "J_Q",
    "J_Q_MAX",
    "J_S0",
    "J_SIGMA",
    "J_TAU",
    "J_TICK",
    "J_TIME",
    "N_STATE",
    "SIGNATURE",
    "JitPolicy",
    "as_jit_policy",
    "compiled_callback",
    "no_policy",
]

(J_TIME, J_ELAPSED, J_TAU, J_MID, J_BID, J_BID_SIZE, J_ASK, J_ASK_SIZE, J_TICK, J_LOT, J_Q, J_Q_MAX,
 J_SIGMA, J_S0, J_OWN_BID, J_OWN_BID_LEFT, J_OWN_ASK, J_OWN_ASK_LEFT, J_BID_IN_FLIGHT,
 J_ASK_IN_FLIGHT) = range(20)  # fmt: skip
#: Length of the state vector.
N_STATE = 20

_ARR = types.float64[::1]
#: The C signature every compiled policy is compiled to: (state, features, params, memory, out) -> None.
SIGNATURE = types.void(_ARR, _ARR, _ARR, _ARR, _ARR)


def no_policy(state, features, params, memory, out) -> None:
    """The compiled policy a loop is given when it runs a rule (never called): no quote on either side."""
    out[0] = math.nan
    out[1] = math.nan


@functools.cache
def _callback(py_func: Callable[..., None]) -> Any:
    """``py_func`` compiled to a numba C callback of :data:`SIGNATURE` (cached on disk when its module is a
    file: mmenv's and agents' under :mod:`mmenv.jit`'s source-tree key)."""
    install_cache_locator()
    try:
        return cfunc(SIGNATURE, cache=True)(py_func)
    except RuntimeError:  # no file to cache next to (a notebook, a string): compile in memory
        return cfunc(SIGNATURE)(py_func)


def compiled_callback(fn: Callable[..., None]) -> Any:
    """The numba first-class function the compiled loop calls for ``fn`` (a numba ``njit`` function, whose
    ``py_func`` is compiled, or a plain Python function numba can compile); compiled once per process."""
    return _callback(getattr(fn, "py_func", fn))


@dataclass(frozen=True, eq=False)
class JitPolicy:
    """A compiled policy (module docstring) with its constant parameters.

    Attributes:
        fn: the policy function ``fn(state, features, params, memory, out)``, a numba ``njit`` function (or
            a plain function numba can compile).
        params: its constant parameters, float64 (copied; read only; NaN and inf allowed, e.g. a withdrawn
            side in a depth table).
        memory_size: length of its scratch vector ``memory`` (zeros at the start of each replay), >= 0.
        name: the strategy's short name (default: the function's name).

    Raises:
        ValueError: ``fn`` not callable, ``params`` not a 1-D array of floats, a negative or
            non-integer ``memory_size``, or an empty ``name``.
    """

    fn: Callable[..., None]
    params: np.ndarray = field(default_factory=lambda: np.zeros(0))
    memory_size: int = 0
    name: str = ""

    def __post_init__(self) -> None:
        if not callable(self.fn) or not callable(getattr(self.fn, "py_func", self.fn)):
            raise ValueError(f"fn must be a numba njit function or a Python function, got {self.fn!r}")
        try:
            p = np.array(self.params, dtype=np.float64, copy=True).reshape(-1)
        except (TypeError, ValueError) as exc:
            raise ValueError(f"params must be a 1-D array of floats, got {self.params!r}") from exc
        if np.ndim(self.params) > 1:
            raise ValueError(f"params must be a 1-D array of floats, got shape {np.shape(self.params)}")
        p.setflags(write=False)
        object.__setattr__(self, "params", p)
        m = self.memory_size
        if isinstance(m, bool) or not isinstance(m, (int, np.integer)) or m < 0:
            raise ValueError(f"memory_size must be an integer >= 0, got {m!r}")
        object.__setattr__(self, "memory_size", int(m))
        name = self.name or getattr(getattr(self.fn, "py_func", self.fn), "__name__", "")
        if not isinstance(name, str) or not name:
            raise ValueError(f"name must be a non-empty string, got {self.name!r}")
        object.__setattr__(self, "name", name)

    @property
    def py_func(self) -> Callable[..., None]:
        """The policy's Python function (what the reference path calls)."""
        return getattr(self.fn, "py_func", self.fn)

    def callback(self) -> Any:
        """The compiled first-class function the loop calls (:func:`compiled_callback`)."""
        return compiled_callback(self.fn)

    def new_memory(self) -> np.ndarray:
        """A fresh scratch vector (zeros)."""
        return np.zeros(self.memory_size)

    def jit_policy(self) -> JitPolicy:
        """Itself (the protocol :func:`as_jit_policy` reads)."""
        return self


def as_jit_policy(policy: Any) -> JitPolicy | None:
    """The compiled policy equivalent to ``policy``: itself when it is a :class:`JitPolicy`, what its
    ``jit_policy()`` method returns (the built-in strategies of ``agents`` expose one), else None."""
    if isinstance(policy, JitPolicy):
        return policy
    get = getattr(policy, "jit_policy", None)
    out = get() if callable(get) else None
    if out is not None and not isinstance(out, JitPolicy):
        raise ValueError(f"{type(policy).__name__}.jit_policy() must return a JitPolicy or None, got {out!r}")
    return out
