"""The market-making task on top of the core: action map, observation, reward. Vectorised over paths.

Shared by :class:`mmenv.envs.env.MarketMakingEnv` (N = 1) and :class:`mmenv.envs.vector_env.MarketMakingVectorEnv`.

Action map (``action_mode="normalized"``, the default): an action a in [-1, 1]^2 (bid, ask) maps to depths
from the mid, in price units, by the affine, invertible map

    delta = min_depth + (a + 1) / 2 * (max_depth - min_depth),    a = 2 (delta - min_depth) / (max_depth - min_depth) - 1.

Actions outside [-1, 1] are clipped to the action space first, as Gymnasium's continuous-control envs do.
With ``action_mode="depth"`` the action *is* (delta_b, delta_a) in price units (float64, unbounded, not
clipped nor rescaled): the documented route for baselines acting in raw depths.

Observation (float32): ``[q, T - t, s - s0, sigma]``: inventory (units), time remaining (time units), mid
relative to the episode's start (price units) and the volatility known to the agent (price units /
sqrt(time unit)); together the inputs of the AS quotes (AS 2008 eqs. 3.17-3.18). In natural units by
default; ``obs_mode="normalized"`` divides each component by a fixed, documented scale
(:meth:`TaskParams.observation_scale`), never by learned statistics.

Rewards (``reward``):
    "pnl": change of the mark-to-market wealth W = cash + q s over the step (price units).
    "penalized": the same minus a running inventory penalty phi q^2 dt (q held during the step), and at the
        last step minus the terminal penalty alpha q_T^2: the Cartea-Jaimungal-Penalva (2015, ch. 10)
        objective E[W_T - alpha q_T^2 - phi int q^2 dt] summed step by step.
    "cara": 0 until the last step, then the CARA utility -exp(-eta (W_T - W_0)) of the episode's wealth gain
        with risk aversion ``utility_gamma`` = eta (AS 2008 eq. 2.1 objective).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Literal

import numpy as np

from mmenv.config import check_finite, check_positive
from mmenv.counter_rng import det_exp
from mmenv.jit import njit

__all__ = ["OBS_NAMES", "TaskParams"]

RewardKind = Literal["pnl", "penalized", "cara"]
ActionMode = Literal["normalized", "depth"]
ObsMode = Literal["natural", "normalized"]

#: Names of the observation components, in order.
OBS_NAMES = ("inventory", "time_remaining", "mid_change", "sigma")
BIG = 1e9


@dataclass(frozen=True)
class TaskParams:
    """How the agent acts and is rewarded.

    Attributes:
        reward: "pnl", "penalized" or "cara" (see the module docstring).
        phi: running inventory penalty (price units / (unit^2 time unit)), >= 0.
        alpha: terminal inventory penalty (price units / unit^2), >= 0.
        utility_gamma: CARA risk aversion eta (1 / price unit), > 0.
        action_mode: "normalized" ([-1, 1]^2 mapped to depths) or "depth" (raw depths, price units).
        min_depth, max_depth: depth range of the normalized action map (price units), min < max.
        obs_mode: "natural" (the observation in its units, default) or "normalized" (each component divided
            by a fixed scale known at construction: [q / q_max, (T - t) / T, (s - s0) / (sigma_ref sqrt(T)),
            sigma / sigma_ref], see :meth:`observation_scale`).
    """

    reward: RewardKind = "pnl"
    phi: float = 0.0
    alpha: float = 0.0
    utility_gamma: float = 0.1
    action_mode: ActionMode = "normalized"
    min_depth: float = 0.0
    max_depth: float = 4.0
    obs_mode: ObsMode = "natural"

    def __post_init__(self) -> None:
        if self.reward not in ("pnl", "penalized", "cara"):
            raise ValueError(f"reward must be 'pnl', 'penalized' or 'cara', got {self.reward!r}")
        check_positive("phi", self.phi, allow_zero=True)
        check_positive("alpha", self.alpha, allow_zero=True)
        check_positive("utility_gamma", self.utility_gamma)
        if self.action_mode not in ("normalized", "depth"):
            raise ValueError(f"action_mode must be 'normalized' or 'depth', got {self.action_mode!r}")
        if self.obs_mode not in ("natural", "normalized"):
            raise ValueError(f"obs_mode must be 'natural' or 'normalized', got {self.obs_mode!r}")
        check_finite("min_depth", self.min_depth)
        check_finite("max_depth", self.max_depth)
        if not self.max_depth > self.min_depth:
            raise ValueError(f"max_depth must be > min_depth ({self.min_depth!r}), got {self.max_depth!r}")

    # ------------------------------------------------------------------ spaces
    def action_bounds(self) -> tuple[np.ndarray, np.ndarray, type]:
        """(low, high, dtype) of the action space."""
        if self.action_mode == "depth":
            return np.full(2, -np.inf), np.full(2, np.inf), np.float64
        return -np.ones(2, np.float32), np.ones(2, np.float32), np.float32

    def observation_scale(self, q_max: float, T: float, sigma_ref: float) -> np.ndarray | None:
        """Fixed float32 divisors of the observation in ``obs_mode="normalized"`` (None in natural mode).

        ``[q_max, T, sigma_ref sqrt(T), sigma_ref]``: inventory as a fraction of the limit, time remaining as
        a fraction of the horizon, the mid's move in units of its standard deviation over the horizon and
        the volatility relative to ``sigma_ref`` (the market's volatility at construction; 1 if it is 0).

        Args:
            q_max: inventory limit (units; must be finite in normalized mode). T: horizon (time units).
            sigma_ref: reference volatility (price units / sqrt(time unit)).
        """
        if self.obs_mode == "natural":
            return None
        if not math.isfinite(q_max):
            raise ValueError(
                "obs_mode='normalized' divides the inventory by q_max: give a finite q_max, got inf"
            )
        sig = sigma_ref if sigma_ref > 0 else 1.0
        return np.array([q_max, T, sig * math.sqrt(T), sig], dtype=np.float32)

    def observation_bounds(
        self, q_max: float, T: float, sigma_high: float = BIG, scale: np.ndarray | None = None
    ) -> tuple[np.ndarray, np.ndarray]:
        """(low, high) float32 bounds of the observation ``[q, T - t, s - s0, sigma]``, finite and honest.

        q in [-q_max, q_max] (the hard limit; +-1e9 when there is none), T - t in [0, T], s - s0 in
        [-1e9, 1e9] (the observation clips the mid's move there: a Brownian mid has no bound), sigma in
        [0, sigma_high] (the constant volatility of the model market, 1e9 where it varies). In normalized
        mode the bounds are divided by ``scale`` (:meth:`observation_scale`).
        """
        qb = q_max if math.isfinite(q_max) else BIG
        low = np.array([-qb, 0.0, -BIG, 0.0], dtype=np.float32)
        high = np.array([qb, T, BIG, sigma_high], dtype=np.float32)
        if scale is not None:
            low, high = low / scale, high / scale
        return low, high

    # ------------------------------------------------------------------ actions
    @property
    def normalized(self) -> bool:
        """True when actions live in [-1, 1]^2 and are mapped to depths."""
        return self.action_mode == "normalized"

    def action_to_depth(self, action: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Map actions of shape (N, 2) (or (2,)) to (bid_depth, ask_depth), each (N,), in price units.

        Normalized mode clips to [-1, 1] first. Raises ValueError on NaN (and on infinities in normalized
        mode; depth mode keeps +inf, "no quote").
        """
        a = as_action_array(action, normalized=self.normalized)
        out = np.empty((a.shape[0], 2))
        actions_to_depths(a, self.normalized, self.min_depth, self.max_depth, out)
        return out[:, 0], out[:, 1]

    def depth_to_action(self, bid_depth: np.ndarray, ask_depth: np.ndarray) -> np.ndarray:
        """Inverse of :meth:`action_to_depth` (normalized mode, unclipped): (N, 2) actions."""
        d = np.stack([np.asarray(bid_depth, float), np.asarray(ask_depth, float)], axis=-1)
        if self.action_mode == "depth":
            return d
        return (2.0 * (d - self.min_depth) / (self.max_depth - self.min_depth) - 1.0).astype(np.float32)

    @property
    def reward_code(self) -> int:
        """Integer code of the reward kind for the numba kernels (0 pnl, 1 penalized, 2 cara)."""
        return REWARD_CODES[self.reward]


REWARD_CODES = {"pnl": 0, "penalized": 1, "cara": 2}


def as_action_array(action, num: int | None = None, *, normalized: bool = False) -> np.ndarray:
    """Actions as a float64 (N, 2) array, checked: ValueError naming the problem.

    Args:
        action: one action (2,) or a batch (N, 2) of (bid, ask).
        num: the expected batch size: None accepts (2,) or any (N, 2); 0 requires exactly (2,) (one env);
            N >= 1 requires exactly (N, 2).
        normalized: True for ``action_mode="normalized"``, where every entry must be finite; in depth mode
            ``+inf`` is the documented "no quote" and only NaN and ``-inf`` are refused (a depth of -inf
            would buy or sell at an infinite price).
    """
    a = np.asarray(action, dtype=np.float64)
    if num == 0:  # the single env's hot path: scalar checks
        if a.shape != (2,):
            raise ValueError(f"action must have shape (2,) (bid, ask), got shape {a.shape}")
        b, c = a.tolist()
        if not (math.isfinite(b) and math.isfinite(c)):
            _raise_non_finite(a.reshape(1, 2), normalized)
        return a.reshape(1, 2)
    if num is not None:
        if a.shape != (num, 2):
            raise ValueError(
                f"actions must have shape ({num}, 2) (one (bid, ask) row per sub-env), got shape {a.shape}"
            )
    elif a.shape[-1:] != (2,) or a.ndim > 2:
        raise ValueError(f"action must have shape (2,) or (N, 2) (bid, ask), got shape {a.shape}")
    a = a.reshape(-1, 2)
    if not np.isfinite(a).all():
        _raise_non_finite(a, normalized)
    return a


def _raise_non_finite(a: np.ndarray, normalized: bool) -> None:
    """ValueError describing the first NaN / infinite entry of ``a`` (N, 2), unless all are allowed."""
    sides = ("bid", "ask")
    nan = np.isnan(a)
    if nan.any():
        i, j = np.argwhere(nan)[0]
        raise ValueError(f"action must not contain NaN: {sides[j]} of row {i} is NaN")
    bad = np.isinf(a) if normalized else np.isneginf(a)
    if bad.any():
        i, j = np.argwhere(bad)[0]
        what = (
            "a normalized action must be finite (values outside [-1, 1] are clipped)"
            if normalized
            else "a depth of -inf is not a price (+inf means no quote on that side)"
        )
        raise ValueError(f"action must be finite: {sides[j]} of row {i} is {float(a[i, j])}; {what}")


@njit(cache=True, inline="always")
def action_to_depth_one(
    a_bid: float, a_ask: float, normalized: bool, min_depth: float, max_depth: float
) -> tuple[float, float]:
    """One action pair to (delta_b, delta_a): clip to [-1, 1], then the affine map (module docstring)."""
    if not normalized:
        return a_bid, a_ask
    half = 0.5 * (max_depth - min_depth)
    return (
        min_depth + (min(max(a_bid, -1.0), 1.0) + 1.0) * half,
        min_depth + (min(max(a_ask, -1.0), 1.0) + 1.0) * half,
    )


@njit(cache=True, inline="always")
def reward_one(
    code: int,
    w_before: float,
    w_after: float,
    q_before: float,
    q_after: float,
    dt: float,
    terminal: bool,
    w0: float,
    phi: float,
    alpha: float,
    eta: float,
) -> float:
    """Reward of one step on one path (module docstring): 0 pnl, 1 penalized, 2 cara."""
    if code == 0:
        return w_after - w_before
    if code == 1:
        r = w_after - w_before - phi * q_before * q_before * dt
        if terminal:
            r -= alpha * q_after * q_after
        return r
    if terminal:
        return -det_exp(-eta * (w_after - w0))
    return 0.0


@njit(cache=True, inline="always")
def observe_one(obs: np.ndarray, i: int, q: float, tau: float, dmid: float, sigma: float) -> None:
    """Write ``[q, T - t, s - s0, sigma]`` (clipped to the finite bounds) into row i of the float32 (N, 4)
    array ``obs`` (indexed in place: no row view, which would cost two reference-count updates per path)."""
    obs[i, 0] = q
    obs[i, 1] = max(tau, 0.0)
    obs[i, 2] = min(max(dmid, -BIG), BIG)
    obs[i, 3] = min(max(sigma, 0.0), BIG)


@njit(cache=True)
def actions_to_depths(
    action: np.ndarray, normalized: bool, min_depth: float, max_depth: float, out: np.ndarray
) -> None:
    """:func:`action_to_depth_one` on every row of ``action`` (N, 2), written into ``out`` (N, 2)."""
    for i in range(action.shape[0]):
        out[i, 0], out[i, 1] = action_to_depth_one(
            action[i, 0], action[i, 1], normalized, min_depth, max_depth
        )
