"""The exact optimum of the env itself: backward induction over (step, inventory) in discrete time.

The env is a discrete-time Markov decision process. On the model market (:class:`mmenv.markets.ModelMarket`)
each step of length dt does, for quotes at depths (delta_b, delta_a) set at the mid s_t:

* each live side fills at most once, independently, with probability
  p(delta) = 1 - exp(-lambda(delta) dt) (``fill_model="exponential"``) or min(1, lambda(delta) dt)
  (``"linear"``), lambda(delta) = A e^{-k delta} per side (AS 2008 eqs. 2.10-2.12);
* the hard inventory limit of :func:`mmenv.sim.fills.match_and_settle`: no bid when q + Delta > Q, no ask when
  q - Delta < -Q (Delta = order size);
* the mid moves by mu dt + sigma sqrt(dt) Z, independent of the fills.

The reward ``"pnl"`` is the change of cash + q s; ``"penalized"`` subtracts phi q_t^2 dt each step and
alpha q_T^2 at the end (:mod:`mmenv.sim.task`). Both are linear in the mid move, so the expected reward of a
step given (q, delta_b, delta_a) does not depend on s, and (step, q) is a sufficient state for these two
rewards. With p_b, p_a the fill probabilities, V_j the value with j steps to go, V^+ = V_{j-1}(q + Delta),
V^- = V_{j-1}(q - Delta), V^0 = V_{j-1}(q) and the fee c_f per unit:

    V_j(q) = max_{delta_b, delta_a}  mu dt q - phi q^2 dt + V^0
              + p_b [Delta delta_b - c_f Delta + mu dt Delta + V^+ - V^0]
              + p_a [Delta delta_a - c_f Delta - mu dt Delta + V^- - V^0]
              + p_b p_a [2 V^0 - V^+ - V^-],

    V_0(q) = -alpha q^2 ("penalized") or 0 ("pnl").

The last term is the joint fill of both sides (q unchanged). Given the other side's p, each side is a 1-D
problem max_delta p(delta) (Delta delta + c): closed form delta = 1/k - c / Delta (clipped to the bounds and
to the depth where the linear probability reaches 1) for the linear fill model with the exponential
intensity; otherwise a bounded scalar search (Newton on the first-order condition for the exponential
intensity, a grid bracket plus golden section for a general intensity). The two sides are solved jointly by
iterating the pair of 1-D best responses to a fixed point (the coupling term is small, the iteration
contracts). Depths are searched in [min_depth, max_depth], the action bounds of the env's normalised action
space (:class:`mmenv.sim.task.TaskParams`); with ``allow_withdraw`` a side may also post no quote (p = 0), as
an agent acting in raw depths can.

V_n(q0) is the exact expected episode reward of the env under the optimal policy (no Monte-Carlo noise); the
continuous-time CJP policy (:class:`agents.optimal.CJPAgent`, Cartea, Jaimungal & Penalva 2015, section
10.2) is optimal only in the limit dt -> 0 and falls short of it by O(dt) at finite dt.

The default intensity runs in a numba kernel (one scalar problem per state); a general intensity
``lambda(delta)`` runs vectorised in numpy (see :func:`solve_exact`).
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np

from agents.base import BasePolicy, QuoteState
from agents.compiled import table_params, table_policy
from mmenv.config import check_finite, check_positive
from mmenv.counter_rng import det_exp, det_expm1, det_expm1_array, det_log
from mmenv.envs.env import build_simulation
from mmenv.jit import njit
from mmenv.replay.jit_policy import JitPolicy

__all__ = ["ExactOptimumAgent", "ExactSolution", "exact_optimum_for_env", "solve_exact"]

_TOL_P = 1e-14  # fixed-point tolerance on the fill probabilities (kernel)
_MAX_ITER = 500
_GOLDEN = (math.sqrt(5.0) - 1.0) / 2.0


@dataclass(frozen=True)
class ExactSolution:
    """The solved recursion on the grid j = 0..n steps to go, q = q0 + i Delta within [-Q, Q].

    Attributes:
        value: (n + 1, M) V_j(q) (price units); ``value[n]`` at q0 is the expected episode reward.
        bid, ask: (n + 1, M) optimal depths with j steps to go (row 0 unused: NaN); +inf = no quote.
        q_grid: (M,) inventories (units). i0: index of q0 in ``q_grid``. dt: step (time units).
    """

    value: np.ndarray
    bid: np.ndarray
    ask: np.ndarray
    q_grid: np.ndarray
    i0: int
    dt: float

    @property
    def n_steps(self) -> int:
        """n, the number of decision steps."""
        return self.value.shape[0] - 1

    def v0(self) -> float:
        """V_n(q0): the exact expected episode reward of the optimal policy (price units)."""
        return float(self.value[-1, self.i0])


# ---------------------------------------------------------------- the default intensity: numba kernel
@njit(cache=True)
def _best_exp(
    c: float, s: float, a: float, k: float, linear: bool, lo: float, hi: float, withdraw: bool
) -> tuple[float, float]:
    """argmax over [lo, hi] of p(d) (s d + c), p = 1 - exp(-a e^{-k d}) or min(1, a e^{-k d}); (d, p).

    p(d) is log-concave in d and s d + c linear, so the objective is unimodal: the linear model has the
    closed form d = 1/k - c/s clipped; the exponential model solves the first-order condition
    s (1 - e^{-x}) = k x e^{-x} (s d + c), x = a e^{-k d}, by Newton safeguarded with bisection.
    """
    if linear:
        lo2 = min(max(lo, det_log(a) / k), hi)
        d = min(max(1.0 / k - c / s, lo2), hi)
        p = min(1.0, a * det_exp(-k * d))
    else:
        # g(d) = f'(d) = s (1 - e^-x) - k x e^-x (s d + c)
        x = a * det_exp(-k * lo)
        g_lo = -s * det_expm1(-x) - k * x * det_exp(-x) * (s * lo + c)
        x = a * det_exp(-k * hi)
        g_hi = -s * det_expm1(-x) - k * x * det_exp(-x) * (s * hi + c)
        if g_lo <= 0.0:
            d = lo
        elif g_hi >= 0.0:
            d = hi
        else:
            left, right = lo, hi
            d = min(max(1.0 / k - c / s, lo), hi)
            for _ in range(200):
                x = a * det_exp(-k * d)
                ex = det_exp(-x)
                u = s * d + c
                g = -s * det_expm1(-x) - k * x * ex * u
                if g > 0.0:
                    left = d
                else:
                    right = d
                h = -2.0 * s * k * x * ex + k * k * x * (1.0 - x) * ex * u
                nd = d - g / h if h < 0.0 else 0.5 * (left + right)
                if not (left < nd < right):
                    nd = 0.5 * (left + right)
                if abs(nd - d) <= 1e-15 * (1.0 + abs(d)) or right - left <= 1e-15 * (1.0 + abs(d)):
                    d = nd
                    break
                d = nd
        p = -det_expm1(-a * det_exp(-k * d))
    if withdraw and p * (s * d + c) < 0.0:
        return math.inf, 0.0
    return d, p


@njit(cache=True)
def _solve_exp_kernel(
    v: np.ndarray,
    bid: np.ndarray,
    ask: np.ndarray,
    q: np.ndarray,
    s: float,
    dt: float,
    a: float,
    k: float,
    linear: bool,
    lo: float,
    hi: float,
    withdraw: bool,
    mu: float,
    phi: float,
    fee: float,
) -> int:
    """Fill ``v``, ``bid``, ``ask`` (n + 1, M) from the terminal row ``v[0]``; returns unconverged states."""
    n, m = v.shape[0] - 1, v.shape[1]
    bad = 0
    pb_prev = np.zeros(m)
    pa_prev = np.zeros(m)
    for j in range(1, n + 1):
        w = v[j - 1]
        for i in range(m):
            v0 = w[i]
            bid_live = i + 1 < m
            ask_live = i > 0
            vu = w[i + 1] if bid_live else v0
            vd = w[i - 1] if ask_live else v0
            coup = (2.0 * v0 - vu - vd) if (bid_live and ask_live) else 0.0
            cb0 = vu - v0 - fee * s + mu * dt * s
            ca0 = vd - v0 - fee * s - mu * dt * s
            pb, pa = pb_prev[i], pa_prev[i]
            db, da = math.inf, math.inf
            done = False
            for it in range(_MAX_ITER):
                if bid_live:
                    db, npb = _best_exp(cb0 + pa * coup, s, a, k, linear, lo, hi, withdraw)
                else:
                    npb = 0.0
                if ask_live:
                    da, npa = _best_exp(ca0 + pb * coup, s, a, k, linear, lo, hi, withdraw)
                else:
                    npa = 0.0
                if abs(npb - pb) <= _TOL_P and abs(npa - pa) <= _TOL_P:
                    done = True
                if it > 50:  # damped iteration if plain Jacobi has not settled
                    npb = 0.5 * (npb + pb)
                    npa = 0.5 * (npa + pa)
                pb, pa = npb, npa
                if done:
                    break
            if not done:
                bad += 1
            gain = 0.0
            if pb > 0.0:
                gain += pb * (s * db + cb0)
            if pa > 0.0:
                gain += pa * (s * da + ca0)
            v[j, i] = v0 + mu * dt * q[i] - phi * q[i] * q[i] * dt + gain + pb * pa * coup
            bid[j, i] = db if bid_live else math.inf
            ask[j, i] = da if ask_live else math.inf
            pb_prev[i], pa_prev[i] = pb, pa
    return bad


# ---------------------------------------------------------------- a general intensity: numpy
def _fill_prob(lam: np.ndarray, dt: float, linear: bool) -> np.ndarray:
    x = lam * dt
    return np.minimum(1.0, x) if linear else -det_expm1_array(-x)


def _checked_intensity(intensity: Callable[[np.ndarray], np.ndarray], d: np.ndarray) -> np.ndarray:
    lam = np.asarray(intensity(d), dtype=float)
    if lam.shape != d.shape:
        raise ValueError(
            f"intensity must return an array of the shape of its input {d.shape}, got shape {lam.shape}"
        )
    if not np.all(np.isfinite(lam)) or np.any(lam < 0):
        bad = d[~(np.isfinite(lam) & (lam >= 0))][:3]
        raise ValueError(f"intensity must be finite and >= 0 on [min_depth, max_depth]; not at depths {bad}")
    return lam


class _SearchMax:
    """Vectorised argmax over [lo, hi] of p(d) (s d + c) for a general intensity: grid bracket + golden section.

    The grid (``grid`` points, p tabulated once) brackets the maximum between the neighbours of the best
    grid point; golden-section search then narrows the bracket to ``xtol`` (price units). Exact for an
    objective unimodal in d (p log-concave in d, e.g. lambda(d) = A e^{-k d} or a power law); with a
    multi-modal p the grid picks the right mode up to its spacing.
    """

    def __init__(self, intensity, dt, linear, lo, hi, s, withdraw, grid=257, xtol=1e-10):
        self.intensity, self.dt, self.linear, self.s, self.withdraw = intensity, dt, linear, s, withdraw
        self.lo, self.hi, self.xtol = lo, hi, xtol
        self.d = np.linspace(lo, hi, grid)
        self.p = _fill_prob(_checked_intensity(intensity, self.d), dt, linear)

    def prob(self, d: np.ndarray) -> np.ndarray:
        return _fill_prob(_checked_intensity(self.intensity, d), self.dt, self.linear)

    def __call__(self, c: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        s, d = self.s, self.d
        f = self.p[None, :] * (s * d[None, :] + c[:, None])
        g = np.argmax(f, axis=1)
        a = d[np.maximum(g - 1, 0)]
        b = d[np.minimum(g + 1, d.size - 1)]
        x1 = b - _GOLDEN * (b - a)
        x2 = a + _GOLDEN * (b - a)
        f1 = self.prob(x1) * (s * x1 + c)
        f2 = self.prob(x2) * (s * x2 + c)
        n_iter = max(0, math.ceil(det_log(self.xtol / max(d[1] - d[0], 1e-300)) / det_log(_GOLDEN)) + 1)
        for _ in range(n_iter):
            right = f1 < f2  # the maximum lies in [x1, b], else in [a, x2]
            a = np.where(right, x1, a)
            b = np.where(right, b, x2)
            new = np.where(right, a + _GOLDEN * (b - a), b - _GOLDEN * (b - a))
            fn = self.prob(new) * (s * new + c)
            x1, f1, x2, f2 = (
                np.where(right, x2, new),
                np.where(right, f2, fn),
                np.where(right, new, x1),
                np.where(right, fn, f1),
            )
        # the best of the golden point and the grid point (the latter wins at a bound)
        xg, fg = d[g], f[np.arange(c.size), g]
        xs, fs = np.where(f1 >= f2, x1, x2), np.maximum(f1, f2)
        x = np.where(fs >= fg, xs, xg)
        p = self.prob(x)
        if self.withdraw:
            out = p * (s * x + c) < 0.0
            x, p = np.where(out, np.inf, x), np.where(out, 0.0, p)
        return x, p


def _solve_general(v, bid, ask, q, s, dt, search: _SearchMax, mu, phi, fee, tol=1e-7) -> int:
    n, m = v.shape[0] - 1, v.shape[1]
    live_b = np.arange(m) + 1 < m
    live_a = np.arange(m) > 0
    pb = np.zeros(m)
    pa = np.zeros(m)
    bad = 0
    for j in range(1, n + 1):
        w = v[j - 1]
        vu = np.append(w[1:], w[-1])
        vd = np.insert(w[:-1], 0, w[0])
        coup = np.where(live_b & live_a, 2.0 * w - vu - vd, 0.0)
        cb0 = vu - w - fee * s + mu * dt * s
        ca0 = vd - w - fee * s - mu * dt * s
        for it in range(_MAX_ITER):
            d, p = search(np.concatenate([cb0 + pa * coup, ca0 + pb * coup]))
            db, npb = np.where(live_b, d[:m], np.inf), np.where(live_b, p[:m], 0.0)
            da, npa = np.where(live_a, d[m:], np.inf), np.where(live_a, p[m:], 0.0)
            done = max(np.abs(npb - pb).max(), np.abs(npa - pa).max()) <= tol
            if it > 50:
                npb, npa = 0.5 * (npb + pb), 0.5 * (npa + pa)
            pb, pa = npb, npa
            if done:
                break
        else:
            bad += 1
        with np.errstate(invalid="ignore"):
            gain = np.where(pb > 0, pb * (s * db + cb0), 0.0) + np.where(pa > 0, pa * (s * da + ca0), 0.0)
        v[j] = w + mu * dt * q - phi * q * q * dt + gain + pb * pa * coup
        bid[j], ask[j] = db, da
    return bad


# ---------------------------------------------------------------- the solver
def solve_exact(
    *,
    T: float = 1.0,
    dt: float = 0.005,
    q_max: float = 25.0,
    order_size: float = 1.0,
    q0: float = 0.0,
    reward: str = "penalized",
    phi: float = 0.0,
    alpha: float = 0.0,
    mu: float = 0.0,
    fill_model: str = "exponential",
    A: float = 140.0,
    k: float = 1.5,
    intensity: Callable[[np.ndarray], np.ndarray] | None = None,
    min_depth: float = 0.0,
    max_depth: float = 5.0 / 1.5,
    allow_withdraw: bool = False,
    fee_per_unit: float = 0.0,
) -> ExactSolution:
    """Backward induction for the exact discrete-time optimum of the env (module docstring).

    Args:
        T, dt: horizon and step (time units), T / dt an integer n.
        q_max: hard inventory limit Q (units), finite. order_size: Delta (units). q0: initial inventory.
        reward: "pnl" or "penalized" (the env's rewards, :mod:`mmenv.sim.task`); phi, alpha: the penalties of
            "penalized" (ignored for "pnl").
        mu: drift of the mid (price / time unit).
        fill_model: "exponential" (p = 1 - exp(-lambda dt)) or "linear" (p = min(1, lambda dt)).
        A, k: the default intensity lambda(delta) = A e^{-k delta} (orders / time unit; 1 / price unit).
        intensity: a general intensity instead of A e^{-k delta}: a callable taking a float64 array of
            depths delta (price units, any shape, values in [min_depth, max_depth]) and returning the
            arrival rate lambda(delta) per unit time on one side at each depth, an array of the same shape,
            finite and >= 0 (e.g. a power law A (1 + delta / d0)^-beta or a two-part model fitted on
            trades). The same lambda applies to both sides. The search assumes p(lambda(delta)) (Delta
            delta + c) unimodal in delta (true when lambda is log-concave); it is vectorised (called with
            arrays of about 2 M depths, a few hundred times per step).
        min_depth, max_depth: depth bounds of the search (price units): the action bounds of the env's
            normalised action space (``TaskParams.min_depth``, ``max_depth``; the env's default max is 5/k).
        allow_withdraw: a side may post no quote (p = 0), as in the env's raw-depth action mode.
        fee_per_unit: fee per unit filled (price units; negative: rebate). A fee proportional to the
            notional would make the expected reward depend on the mid: not supported here.

    Returns:
        an :class:`ExactSolution`. Raises ValueError on bad input and RuntimeError if the joint best
        responses of some state did not reach a fixed point.
    """
    check_positive("T", T)
    check_positive("dt", dt)
    n = T / dt
    if abs(n - round(n)) > 1e-9 * max(1.0, n):
        raise ValueError(f"T / dt must be an integer number of steps, got T={T!r}, dt={dt!r}")
    n = round(n)
    check_positive("q_max", q_max)
    check_positive("order_size", order_size)
    check_finite("q0", q0)
    if abs(q0) > q_max:
        raise ValueError(f"q0 must lie in [-q_max, q_max] = [-{q_max}, {q_max}], got {q0!r}")
    if reward not in ("pnl", "penalized"):
        raise ValueError(f"reward must be 'pnl' or 'penalized' for the exact optimum, got {reward!r}")
    check_positive("phi", phi, allow_zero=True)
    check_positive("alpha", alpha, allow_zero=True)
    check_finite("mu", mu)
    if fill_model not in ("exponential", "linear"):
        raise ValueError(f"fill_model must be 'exponential' or 'linear', got {fill_model!r}")
    check_finite("min_depth", min_depth)
    check_finite("max_depth", max_depth)
    if not max_depth > min_depth:
        raise ValueError(f"max_depth must be > min_depth ({min_depth!r}), got {max_depth!r}")
    check_finite("fee_per_unit", fee_per_unit)
    eps = 1e-9
    i_lo = -math.floor((q_max + q0) / order_size + eps)
    i_hi = math.floor((q_max - q0) / order_size + eps)
    q = q0 + np.arange(i_lo, i_hi + 1) * order_size
    m = q.size
    if reward == "pnl":
        phi = alpha = 0.0
    v = np.empty((n + 1, m))
    v[0] = -alpha * q * q
    bid = np.full((n + 1, m), np.nan)
    ask = np.full((n + 1, m), np.nan)
    linear = fill_model == "linear"
    if intensity is None:
        check_positive("A", A)
        check_positive("k", k)
        bad = _solve_exp_kernel(
            v,
            bid,
            ask,
            q,
            float(order_size),
            float(dt),
            float(A * dt),
            float(k),
            linear,
            float(min_depth),
            float(max_depth),
            bool(allow_withdraw),
            float(mu),
            float(phi),
            float(fee_per_unit),
        )
    else:
        if not callable(intensity):
            raise ValueError(f"intensity must be callable (depths -> rates), got {intensity!r}")
        search = _SearchMax(intensity, dt, linear, min_depth, max_depth, order_size, allow_withdraw)
        bad = _solve_general(v, bid, ask, q, order_size, dt, search, mu, phi, fee_per_unit)
    if bad:
        raise RuntimeError(f"the joint best responses did not converge in {bad} (step, q) states")
    return ExactSolution(value=v, bid=bid, ask=ask, q_grid=q, i0=-i_lo, dt=float(dt))


_SOLVER_MARKET = ("T", "dt", "q_max", "order_size", "q0", "mu", "fill_model", "A", "k", "fee_per_unit")


def exact_optimum_for_env(env_kwargs: dict[str, Any], **overrides: Any) -> ExactOptimumAgent:
    """The exact optimum of the env built from ``env_kwargs`` (market and task arguments of the env).

    Reads the market parameters, the reward and the action bounds as the env does
    (:func:`mmenv.envs.env.build_simulation`, so ``max_depth`` defaults to 5/k). In ``action_mode="depth"`` a side
    may also be withdrawn. ``overrides`` go to :class:`ExactOptimumAgent` (e.g. ``intensity=``).
    Raises ValueError for a market other than the model market, a notional fee or an infinite q_max.
    """
    kwargs = dict(env_kwargs)
    market = kwargs.get("market", "model")
    if market != "model":
        raise ValueError(f"market must be 'model' for the exact optimum (a (step, q) MDP), got {market!r}")
    params, task, _ = build_simulation(1, kwargs)
    if params.fee_rate != 0.0:
        raise ValueError(
            f"fee_rate must be 0 for the exact optimum (a notional fee depends on the mid), got {params.fee_rate!r}"
        )
    args = {name: getattr(params, name) for name in _SOLVER_MARKET}
    args.update(
        reward=task.reward,
        phi=task.phi,
        alpha=task.alpha,
        min_depth=task.min_depth,
        max_depth=task.max_depth,
        allow_withdraw=task.action_mode == "depth",
        s0=params.s0,
    )
    args.update(overrides)
    return ExactOptimumAgent(**args)


class ExactOptimumAgent(BasePolicy):
    """The env's exact discrete-time optimum (:func:`solve_exact`) as a policy: table look-up by (tau, q).

    ``quote`` reads the depth table at j = round(tau / dt) steps to go (clipped to 1..n) and
    i = round((q - q0) / Delta) (clipped to the grid); +inf where the hard limit withdraws the side.
    ``value()`` is V_n(q0), the exact expected episode reward. Arguments: those of :func:`solve_exact`,
    plus ``s0`` (see :class:`agents.base.BasePolicy`).
    """

    name = "exact"

    def __init__(self, s0: float = 100.0, **solver_kwargs: Any) -> None:
        super().__init__(s0)
        self.solver_kwargs = dict(solver_kwargs)
        self.solution = solve_exact(**solver_kwargs)
        sol = self.solution
        self.dt, self.q_grid, self.order_size = (
            sol.dt,
            sol.q_grid,
            float(solver_kwargs.get("order_size", 1.0)),
        )

    def value(self, q: float | None = None, steps_to_go: int | None = None) -> float:
        """V_j(q): exact expected reward to the end from q with j steps to go (default: the start, q0)."""
        sol = self.solution
        j = sol.n_steps if steps_to_go is None else int(steps_to_go)
        i = (
            sol.i0
            if q is None
            else int(np.clip(round((q - sol.q_grid[0]) / self.order_size), 0, sol.q_grid.size - 1))
        )
        return float(sol.value[j, i])

    def jit_policy(self) -> JitPolicy | None:
        """This strategy as a compiled policy (:func:`agents.compiled.table_policy` on its depth tables, the
        same look-up as ``quote``); None for a subclass that changes ``quote``."""
        if type(self).quote is not ExactOptimumAgent.quote:
            return None
        sol = self.solution
        bid, ask = sol.bid[: sol.n_steps + 1], sol.ask[: sol.n_steps + 1]
        p = table_params(bid, ask, self.dt, 1, float(sol.q_grid[0]), self.order_size, 0)
        return JitPolicy(table_policy, params=p, name=self.name)

    def quote(self, state: QuoteState) -> tuple[np.ndarray, np.ndarray]:
        """Optimal depths at (tau, q) (class docstring)."""
        sol = self.solution
        j = np.clip(np.rint(np.asarray(state.tau, dtype=float) / self.dt), 1, sol.n_steps).astype(np.intp)
        i = np.rint((np.asarray(state.q, dtype=float) - sol.q_grid[0]) / self.order_size)
        i = np.clip(i, 0, sol.q_grid.size - 1).astype(np.intp)
        return sol.bid[j, i], sol.ask[j, i]
