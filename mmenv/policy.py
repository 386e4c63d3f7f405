"""The policy contract: what the env, the backtester and the rollout call, and the state a policy quotes from.

A policy maps the market-maker's state to quote depths (delta_b, delta_a) from the mid, in price units,
for one path or a batch of N paths. It can read the env's observation (``act``) or the raw state
(``quote``); :func:`to_env_action` turns depths into the env's action (identity in ``action_mode="depth"``,
the inverse of the documented affine map in the normalized mode).

On a real tape (the replay of :mod:`mmenv.replay`) the state also carries the top of the book
(:class:`TopOfBook`) and the policy's own resting orders (:class:`OwnOrders`), so that a policy can quote
relative to the touch; elsewhere (the model market, the tick backtest) they are None.

The library defines the contract only; the strategies implementing it live in the ``agents`` package
(which depends on :mod:`mmenv`, never the reverse).
"""

from __future__ import annotations

from typing import NamedTuple, Protocol, runtime_checkable

import numpy as np

__all__ = ["OwnOrders", "Policy", "QuoteState", "TopOfBook", "state_from_obs", "to_env_action"]


class TopOfBook(NamedTuple):
    """The best bid and ask of a real tape in force at a decision (one path).

    Attributes:
        bid, ask: best prices (price units). bid_size, ask_size: sizes displayed there (units).
        tick: price step (price units). lot: size step (units).
    """

    bid: float
    bid_size: float
    ask: float
    ask_size: float
    tick: float
    lot: float


class OwnOrders(NamedTuple):
    """The policy's own orders at a decision on a real tape (one path).

    Attributes:
        bid, ask: price of the order resting in the book on that side (NaN: none).
        bid_size, ask_size: units it has left (0: none).
        bid_in_flight, ask_in_flight: actions sent on that side that have not reached the book yet (latency).
    """

    bid: float
    bid_size: float
    ask: float
    ask_size: float
    bid_in_flight: int = 0
    ask_in_flight: int = 0


class QuoteState(NamedTuple):
    """What a policy sees: float64 arrays of shape (N,), or Python floats for one path.

    Attributes:
        q: inventory (units; on a tape replay, lots of the order size). tau: time remaining T - t (time
            units). mid: mid-price (price units). sigma: volatility (price units / sqrt(time unit)).
        s0: mid at the start of the episode.
        book: the top of the book (:class:`TopOfBook`), on a tape replay only, else None.
        orders: the policy's resting orders (:class:`OwnOrders`), on a tape replay only, else None.
        features: on a tape replay given a feature matrix (``replay(..., features=M)``), the row of M at the
            decision's event (float64, computed from the tape alone), else None.
    """

    q: np.ndarray
    tau: np.ndarray
    mid: np.ndarray
    sigma: np.ndarray
    s0: np.ndarray
    book: TopOfBook | None = None
    orders: OwnOrders | None = None
    features: np.ndarray | None = None


def state_from_obs(obs: np.ndarray, s0: float | np.ndarray) -> QuoteState:
    """Build a :class:`QuoteState` from env observations ``[q, T - t, s - s0, sigma]`` ((4,) or (N, 4))."""
    o = np.asarray(obs, dtype=np.float64).reshape(-1, 4)
    s0 = np.broadcast_to(np.asarray(s0, dtype=np.float64), o.shape[:1])
    return QuoteState(q=o[:, 0], tau=o[:, 1], mid=s0 + o[:, 2], sigma=o[:, 3], s0=s0)


@runtime_checkable
class Policy(Protocol):
    """A market-making strategy.

    ``quote(state)`` returns (bid_depth, ask_depth), each (N,) float64 in price units (+inf: no quote on
    that side; NaN is rejected by the env as bad input). ``reset(num_paths)`` clears any memory at the start of episodes. ``act(obs)`` is
    ``quote(state_from_obs(obs, s0))`` stacked as (N, 2) (or (2,) for a single observation).
    """

    name: str

    def reset(self, num_paths: int = 1) -> None: ...

    def quote(self, state: QuoteState) -> tuple[np.ndarray, np.ndarray]: ...

    def act(self, obs: np.ndarray) -> np.ndarray: ...


def to_env_action(depths: np.ndarray, task) -> np.ndarray:
    """Convert depths (N, 2) or (2,) to the env's action through ``task.depth_to_action``.

    In ``action_mode="depth"`` this is the identity; in the normalized mode it is the inverse affine map
    (the env then clips to [-1, 1], i.e. depths outside [min_depth, max_depth] are clipped: use the depth
    mode when a baseline must act exactly).
    """
    d = np.asarray(depths, dtype=np.float64)
    a = task.depth_to_action(d[..., 0], d[..., 1])
    return a.reshape(d.shape)
