"""Quotes for a general fill intensity lambda(delta): AS-style, GLFT-style and the exact optimum.

Any fitted law of :mod:`mmenv.calibration.intensity` (its ``intensity`` callable: orders per second per side at
quoting depth delta) drives three policies; with the exponential they reduce to the closed forms.

* :class:`IntensityASAgent`: Avellaneda & Stoikov (2008), section 2.4, for a general intensity. With
  the frozen-inventory reservation prices ``r^b = s - (1 + 2q) gamma sigma^2 tau / 2`` and
  ``r^a = s + (1 - 2q) gamma sigma^2 tau / 2``, the optimal depths solve::

      delta^b - (1/gamma) ln(1 + gamma / kappa(delta^b)) = (1 + 2q) gamma sigma^2 tau / 2
      delta^a - (1/gamma) ln(1 + gamma / kappa(delta^a)) = (1 - 2q) gamma sigma^2 tau / 2

  with the local decay ``kappa(delta) = -d ln lambda / d delta`` (AS eqs. 2.11-2.12 write
  ``ln(1 - gamma lambda / lambda')``; for A e^{-k delta}, kappa = k and the solution is AS eqs.
  3.17-3.18). Solved on a fine depth grid: the smallest depth where the left side reaches the
  right (the left side is made non-decreasing by its running maximum), with linear interpolation.
* :class:`IntensityGLFTAgent`: the closed form of Gueant, Lehalle & Fernandez-Tapia (2013) with the
  exponential that touches lambda at the GLFT half-spread delta0 (``k = kappa(delta0)``, ``A =
  lambda(delta0) e^{k delta0}``, delta0 the fixed point of ``delta0 = (1/(gamma Delta)) ln(1 + gamma
  Delta / kappa(delta0))``): a local approximation, exact for the exponential.
* :func:`exact_agent`: :class:`agents.exact_optimum.ExactOptimumAgent` (the discrete-time dynamic
  programme of the env) with ``intensity=`` the fitted law.

:func:`policies_for` builds the three from a fitted law, AS and GLFT closed forms for the exponential.
Time: the fitted rates are per second; with the env's time unit of ``time_unit_s`` seconds the
intensity is multiplied by it and sigma by its square root (:func:`intensity_per_unit`).
"""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any

import numpy as np

from agents.avellaneda_stoikov import AvellanedaStoikovAgent
from agents.base import BasePolicy, QuoteState
from agents.compiled import interp_policy
from agents.exact_optimum import ExactOptimumAgent
from agents.optimal import GLFTAgent
from mmenv.config import check_positive
from mmenv.counter_rng import det_exp, det_log1p, det_log1p_array, det_log_array
from mmenv.replay.jit_policy import JitPolicy

__all__ = [
    "IntensityASAgent",
    "IntensityGLFTAgent",
    "exact_agent",
    "intensity_per_unit",
    "local_decay",
    "policies_for",
]

Intensity = Callable[[np.ndarray], np.ndarray]


def intensity_per_unit(intensity: Intensity, time_unit_s: float) -> Intensity:
    """lambda per time unit of ``time_unit_s`` seconds from lambda per second."""
    check_positive("time_unit_s", time_unit_s)

    def scaled(depth: np.ndarray) -> np.ndarray:
        return np.asarray(intensity(depth), dtype=np.float64) * time_unit_s

    return scaled


def local_decay(intensity: Intensity, depth: np.ndarray, rel_step: float = 1e-4) -> np.ndarray:
    """kappa(delta) = -d ln lambda / d delta by central differences (1 / price unit)."""
    d = np.asarray(depth, dtype=np.float64)
    h = rel_step * np.maximum(np.abs(d), 1e-3)
    lo, hi = det_log_array(intensity(d - h)), det_log_array(intensity(d + h))
    return -(hi - lo) / (2.0 * h)


def _liquidity_term(gamma: float, kappa: np.ndarray) -> np.ndarray:
    """(1/gamma) ln(1 + gamma / kappa), -> 1/kappa as gamma -> 0."""
    kappa = np.maximum(kappa, 1e-300)
    if gamma < 1e-12:
        return 1.0 / kappa
    return det_log1p_array(gamma / kappa) / gamma


class IntensityASAgent(BasePolicy):
    """AS-style quotes for a general intensity (module docstring).

    Args:
        intensity: lambda(delta) per time unit per side, vectorised.
        gamma: risk aversion (1 / price unit), >= 0. sigma: volatility (price / sqrt(time)); None
            reads it from the state.
        min_depth, max_depth: the depth grid of the solution (price units); a depth that would lie
            outside is clipped to it. n_grid: grid points.
        s0: see :class:`agents.base.BasePolicy`.
    """

    name = "as_intensity"

    def __init__(
        self,
        intensity: Intensity,
        gamma: float = 0.1,
        sigma: float | None = None,
        *,
        min_depth: float = 0.0,
        max_depth: float = 10.0,
        n_grid: int = 20_001,
        s0: float = 100.0,
    ) -> None:
        super().__init__(s0)
        if not callable(intensity):
            raise ValueError(f"intensity must be callable (depths -> rates), got {intensity!r}")
        check_positive("gamma", gamma, allow_zero=True)
        if sigma is not None:
            check_positive("sigma", sigma, allow_zero=True)
        if not max_depth > min_depth:
            raise ValueError(f"max_depth must be > min_depth ({min_depth!r}), got {max_depth!r}")
        self.intensity, self.gamma, self.sigma = intensity, float(gamma), sigma
        self.grid = np.linspace(min_depth, max_depth, int(n_grid))
        lam = np.asarray(intensity(self.grid), dtype=np.float64)
        if not (np.isfinite(lam).all() and (lam > 0).all()):
            raise ValueError("intensity must be finite and > 0 on [min_depth, max_depth]")
        self.kappa = local_decay(intensity, self.grid)
        self.lhs = np.maximum.accumulate(self.grid - _liquidity_term(self.gamma, self.kappa))

    def solve(self, target: np.ndarray) -> np.ndarray:
        """The smallest grid depth where delta - (1/gamma) ln(1 + gamma / kappa(delta)) >= target."""
        t = np.asarray(target, dtype=np.float64)
        return np.interp(t, self.lhs, self.grid)

    def jit_policy(self) -> JitPolicy | None:
        """This strategy as a compiled policy (:func:`agents.compiled.interp_policy` on its solved grid);
        None for a subclass that changes ``quote`` or ``solve``."""
        if type(self).quote is not IntensityASAgent.quote or type(self).solve is not IntensityASAgent.solve:
            return None
        sigma = math.nan if self.sigma is None else float(self.sigma)
        p = np.concatenate([[self.gamma, sigma, float(self.grid.size)], self.lhs, self.grid])
        return JitPolicy(interp_policy, params=p, name=self.name)

    def quote(self, state: QuoteState) -> tuple[np.ndarray, np.ndarray]:
        sigma = state.sigma if self.sigma is None else self.sigma
        q = np.asarray(state.q, dtype=np.float64)
        base = 0.5 * self.gamma * np.square(sigma) * np.asarray(state.tau, dtype=np.float64)
        return self.solve((1.0 + 2.0 * q) * base), self.solve((1.0 - 2.0 * q) * base)


def _glft_local(
    intensity: Intensity, gamma: float, order_size: float, start: float, min_depth: float = 0.0
) -> tuple[float, float, float]:
    """(A, k, delta0) of the exponential touching lambda at the GLFT half-spread delta0 (searched at
    ``min_depth`` or beyond)."""
    d0 = max(start, min_depth, 0.0)
    for _ in range(100):
        k = float(local_decay(intensity, np.array([d0]))[0])
        if not (math.isfinite(k) and k > 0):
            raise ValueError(f"the intensity must decrease at the quoting depth {d0!r} (local decay {k!r})")
        x = gamma * order_size / k
        new = max(1.0 / k if x < 1e-8 else det_log1p(x) / (gamma * order_size), min_depth)
        if abs(new - d0) <= 1e-10 * max(1.0, abs(d0)):
            d0 = new
            break
        d0 = 0.5 * (d0 + new)
    lam0 = float(np.asarray(intensity(np.array([d0])))[0])
    return lam0 * det_exp(k * d0), k, d0


class IntensityGLFTAgent(GLFTAgent):
    """GLFT closed form with the exponential that touches lambda at the GLFT half-spread (module
    docstring); arguments as :class:`agents.optimal.GLFTAgent` with ``intensity`` instead of A, k.

    ``min_depth``: the smallest half-spread searched (e.g. just past the touch for a law fitted only
    beyond it). Attributes: A, k (the local exponential) and delta0 (where it touches lambda).
    """

    name = "glft_intensity"

    def __init__(
        self,
        intensity: Intensity,
        gamma: float = 0.1,
        sigma: float | None = None,
        q_max: float = 25.0,
        order_size: float = 1.0,
        s0: float = 100.0,
        start_depth: float = 0.0,
        min_depth: float = 0.0,
    ) -> None:
        check_positive("gamma", gamma, allow_zero=True)
        A, k, d0 = _glft_local(intensity, float(gamma), float(order_size), start_depth, float(min_depth))
        super().__init__(gamma=gamma, A=A, k=k, sigma=sigma, q_max=q_max, order_size=order_size, s0=s0)
        self.delta0 = d0
        self.intensity = intensity


def exact_agent(intensity: Intensity, **solver_kwargs: Any) -> ExactOptimumAgent:
    """The exact discrete-time optimum (:func:`agents.exact_optimum.solve_exact`) for ``intensity``."""
    return ExactOptimumAgent(intensity=intensity, **solver_kwargs)


def policies_for(
    fit: Any,
    *,
    gamma: float,
    sigma: float,
    time_unit_s: float = 1.0,
    q_max: float = 25.0,
    order_size: float = 1.0,
    s0: float = 100.0,
    max_depth: float | None = None,
    exact: dict[str, Any] | None = None,
) -> dict[str, BasePolicy]:
    """AS-style, GLFT-style and (with ``exact`` = solver arguments such as T, dt, phi) exact-optimal
    policies from a fitted law of :mod:`mmenv.calibration.intensity` (anything with ``name``, ``params`` and
    ``intensity``). The exponential gets the closed forms (:class:`AvellanedaStoikovAgent`,
    :class:`GLFTAgent`) with its A and k.

    Args:
        fit: the fitted law; rates per second per side.
        gamma: risk aversion; sigma: volatility per sqrt(second); time_unit_s: the env's time unit.
        max_depth: upper end of the depth search (default 20 / kappa at the typical depth).
    """
    lam = intensity_per_unit(fit.intensity, time_unit_s)
    sig = float(sigma) * math.sqrt(time_unit_s)
    if fit.name == "exponential":
        A, k = fit.params["A"] * time_unit_s, fit.params["k"]
        out: dict[str, BasePolicy] = {
            "as": AvellanedaStoikovAgent(gamma=gamma, k=k, sigma=sig, q_max=q_max, s0=s0),
            "glft": GLFTAgent(gamma=gamma, A=A, k=k, sigma=sig, q_max=q_max, order_size=order_size, s0=s0),
        }
    else:
        glft = IntensityGLFTAgent(lam, gamma=gamma, sigma=sig, q_max=q_max, order_size=order_size, s0=s0)
        k = glft.k
        top = 20.0 / k if max_depth is None else max_depth
        out = {
            "as": IntensityASAgent(lam, gamma=gamma, sigma=sig, max_depth=top, s0=s0),
            "glft": glft,
        }
    if exact is not None:
        kw = {"q_max": q_max, "order_size": order_size, "s0": s0, "max_depth": 20.0 / k, **exact}
        out["exact"] = exact_agent(lam, **kw)
    return out
