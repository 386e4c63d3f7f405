"""Market sources that break one assumption of the Avellaneda-Stoikov model each (the weaknesses study).

Every variant is a :class:`mmenv.markets.ModelMarket` with one switch; with the switch off it is the AS
market (same draws, same paths, bit for bit). Kinds (``gymnasium.make("mmenv/MarketMaking-v0", market=kind,
**params, **switches)``):

* ``"garch"``: stochastic volatility. Per-step mid changes r_t = mu dt + sqrt(v_t) Z_t with a GARCH(1,1)
  conditional variance v_{t+1} = omega + a (r_t - mu dt)^2 + b v_t (Bollerslev 1986), omega chosen so that
  the long-run variance omega / (1 - a - b) is sigma^2 dt: the unconditional volatility is the AS sigma.
  ``sigma_estimate`` selects what the market shows as ``sigma`` (the policy's input): "true"
  (sqrt(v_t / dt)), "ewma" (RiskMetrics EWMA of r^2 with decay ``ewma_lambda``) or "rolling" (std of the last
  ``window`` changes, root mean square: the changes have mean ~0), or "constant" (the AS sigma). The
  defaults have a finite fourth moment (:class:`GarchMarket`).
* ``"trend"``: a trending mid: each episode draws a drift +trend or -trend (probability 1/2 each, per path),
  unknown to the policy (AS assume a martingale mid).
* ``"asymmetric"``: different arrival rates of sell and buy market orders, A_bid (sellers, hitting the bid)
  and A_ask (buyers, lifting the ask), instead of one A.
* ``"toxic"``: a share p of the order flow is informed of the next mid move: on the side the mid is about to
  move to, the intensity is A (1 + p), on the other A (1 - p) (the total stays 2A): quotes on the side
  about to be run over fill more often (adverse selection).
* ``"impact"``: our own fills move the mid. The signed taker flow of our fills, f_t = sold_t - bought_t
  (a buyer lifting our ask pushes the price up), moves the mid by a permanent ``perm_impact * f_t`` and a
  transient part I_t = e^{-``decay`` dt} I_{t-1} + ``temp_impact`` f_t, which both show up in the next
  interval's mid change. The market learns the fills through the hook :meth:`ImpactMarket.on_fills`,
  which the core calls after matching (the fused env step does the same inside its kernel).
* ``"information"``: every market order moves the mid (trades carry information). Per side, N ~ Poisson(A dt)
  orders arrive with depths i.i.d. Exp(k), so the reach (their maximum) keeps P(reach >= d) =
  1 - exp(-A e^{-k d} dt) for d >= 0; the mid moves by theta (N_buy - N_sell) plus a Brownian part, with
  theta = sigma sqrt(``info_share`` / (2 A)) and the Brownian volatility sigma sqrt(1 - info_share), so the
  total variance stays sigma^2 dt per step. The reach is the base market's (same draw); N is drawn given it:
  N = 0 when the reach R < 0 (no order reached depth 0), else 1 + Poisson(A dt (1 - e^{-k R})) (the orders
  of a Poisson process below its maximum), which gives N ~ Poisson(A dt) with the reach as its maximum.
  Quotes at negative depth keep the base market's law.

Random numbers (:mod:`mmenv.counter_rng`, :mod:`mmenv.sim.market_kernels`): every draw is addressed by (seed,
path, episode, step, purpose); every variant reads the base market's mid and fill draws the same way and
adds purposes of its own (the trend sign, the information market's order counts). So a variant with its
switch off is the AS market bit for bit, two variants share every draw they have in common, and the
pairing holds at any N and thread count. Draws never depend on the policy, so common random numbers hold
across strategies (for ``impact`` the mid then differs only through the strategy's own fills).
"""

from __future__ import annotations

import math

import numpy as np

from mmenv.config import MarketParams, check_finite, check_positive
from mmenv.counter_rng import det_exp, det_log
from mmenv.markets import ModelMarket
from mmenv.sim import market_kernels as mk
from mmenv.sim.market_kernels import X0

__all__ = [
    "AsymmetricMarket",
    "GarchMarket",
    "ImpactMarket",
    "InformationMarket",
    "ToxicMarket",
    "TrendMarket",
]


class _VariantMarket(ModelMarket):
    """A :class:`ModelMarket` with one switch: the kernel kind and the variant's parameter slots.

    The per-path dynamics are :func:`mmenv.sim.market_kernels.step_one`; subclasses only validate and store
    their switches in ``kernel_params[X0:]`` and size their per-path state.
    """

    def __init__(self, params: MarketParams, num_paths: int = 1, crn_groups: int = 1) -> None:
        super().__init__(params, num_paths, crn_groups)
        if params.mid_model != "brownian":
            raise ValueError(f"market variants need mid_model='brownian', got {params.mid_model!r}")


class GarchMarket(_VariantMarket):
    """Stochastic volatility: GARCH(1,1) mid changes with long-run volatility sigma (module docstring).

    With Gaussian innovations the changes have a finite fourth moment iff 3a^2 + 2ab + b^2 < 1 (Bollerslev
    1986, Theorem 2); then their kurtosis is 3 (1 - (a + b)^2) / (1 - (a + b)^2 - 2a^2) and the squared
    changes have the autocorrelation rho_1 = a (1 - ab - b^2) / (1 - 2ab - b^2), decaying as (a + b)^j. The
    defaults a = 0.1, b = 0.85 (persistence 0.95) satisfy it: kurtosis 3.77, rho_1 = 0.18.

    Args:
        params: market parameters (sigma is the long-run volatility). num_paths: N.
        garch_alpha: a >= 0, reaction to the last squared change. garch_beta: b >= 0, persistence; a + b < 1.
        sigma_estimate: "true", "ewma", "rolling" or "constant": what ``self.sigma`` shows.
        ewma_lambda: EWMA decay in (0, 1) (RiskMetrics 0.94). window: rolling window (steps), >= 2.
    """

    kernel_kind = mk.GARCH

    def __init__(
        self,
        params: MarketParams,
        num_paths: int = 1,
        garch_alpha: float = 0.1,
        garch_beta: float = 0.85,
        sigma_estimate: str = "true",
        ewma_lambda: float = 0.94,
        window: int = 20,
        crn_groups: int = 1,
    ) -> None:
        check_positive("garch_alpha", garch_alpha, allow_zero=True)
        check_positive("garch_beta", garch_beta, allow_zero=True)
        if garch_alpha + garch_beta >= 1.0:
            raise ValueError(
                f"garch_alpha + garch_beta must be < 1 (stationary), got {garch_alpha!r} + {garch_beta!r}"
            )
        if sigma_estimate not in _ESTIMATES:
            raise ValueError(
                f"sigma_estimate must be 'true', 'ewma', 'rolling' or 'constant', got {sigma_estimate!r}"
            )
        if not 0.0 < ewma_lambda < 1.0:
            raise ValueError(f"ewma_lambda must lie in (0, 1), got {ewma_lambda!r}")
        if int(window) != window or window < 2:
            raise ValueError(f"window must be an integer >= 2, got {window!r}")
        self.window = int(window)
        super().__init__(params, num_paths, crn_groups)
        self.garch_alpha, self.garch_beta = float(garch_alpha), float(garch_beta)
        self.sigma_estimate, self.ewma_lambda = sigma_estimate, float(ewma_lambda)
        p = self.kernel_params
        p[X0], p[X0 + 1], p[X0 + 2] = self.garch_alpha, self.garch_beta, self.ewma_lambda
        p[X0 + 3] = float(_ESTIMATES[sigma_estimate])
        p[X0 + 5] = 1.0 - self.garch_alpha - self.garch_beta

    def _state_width(self) -> int:
        return 3 + self.window  # relative variance, EWMA, count, the last ``window`` changes

    @property
    def true_sigma(self) -> np.ndarray:
        """sqrt(v_t / dt): the conditional volatility of the next change (price / sqrt(time))."""
        return float(self.params.sigma) * np.sqrt(self.kernel_state[:, 0])

    @property
    def fourth_moment_finite(self) -> bool:
        """3a^2 + 2ab + b^2 < 1: the changes have a finite kurtosis (class docstring)."""
        a, b = self.garch_alpha, self.garch_beta
        return 3 * a * a + 2 * a * b + b * b < 1.0


_ESTIMATES = {"true": 0, "ewma": 1, "rolling": 2, "constant": 3}


class TrendMarket(_VariantMarket):
    """A trending mid: per path and episode a drift of +trend or -trend (price / time), sign unknown to AS.

    Args:
        trend: |mu| (price units per time unit), >= 0. The sign is the episode's own draw (purpose TREND).
    """

    kernel_kind = mk.TRENDING

    def __init__(
        self, params: MarketParams, num_paths: int = 1, trend: float = 2.0, crn_groups: int = 1
    ) -> None:
        check_positive("trend", trend, allow_zero=True)
        super().__init__(params, num_paths, crn_groups)
        self.trend = float(trend)
        self.kernel_params[X0] = self.trend
        self.kernel_state[:, 0] = float(params.mu)

    @property
    def mu(self) -> np.ndarray:
        """Each path's drift in the current episode (price units per time unit)."""
        return self.kernel_state[:, 0]


class AsymmetricMarket(_VariantMarket):
    """Different intensities of sell (A_bid: they hit our bid) and buy (A_ask: they lift our ask) orders.

    Args:
        A_bid, A_ask: intensities at depth 0 (orders / time) of the two sides; None: the params' A.
    """

    kernel_kind = mk.ASYMMETRIC

    def __init__(
        self,
        params: MarketParams,
        num_paths: int = 1,
        A_bid: float | None = None,
        A_ask: float | None = None,
        crn_groups: int = 1,
    ) -> None:
        a_bid = params.A if A_bid is None else A_bid
        a_ask = params.A if A_ask is None else A_ask
        check_positive("A_bid", a_bid)
        check_positive("A_ask", a_ask)
        super().__init__(params, num_paths, crn_groups)
        self.A_bid, self.A_ask = float(a_bid), float(a_ask)
        self.kernel_params[X0] = det_log(self.A_bid * self.dt)
        self.kernel_params[X0 + 1] = det_log(self.A_ask * self.dt)


class ToxicMarket(_VariantMarket):
    """A share of the flow informed of the next mid move (intensity A(1 +- p) on the side the mid goes to).

    Args:
        toxic_share: p in [0, 1].
    """

    kernel_kind = mk.TOXIC

    def __init__(
        self, params: MarketParams, num_paths: int = 1, toxic_share: float = 0.5, crn_groups: int = 1
    ) -> None:
        check_finite("toxic_share", toxic_share)
        if not 0.0 <= toxic_share <= 1.0:
            raise ValueError(f"toxic_share must lie in [0, 1], got {toxic_share!r}")
        super().__init__(params, num_paths, crn_groups)
        self.toxic_share = p = float(toxic_share)
        adt = float(params.A) * self.dt
        self.kernel_params[X0] = det_log(adt * (1.0 + p))  # the side the mid moves to
        self.kernel_params[X0 + 1] = det_log(adt * (1.0 - p))  # -inf at p = 1: nobody on that side


class ImpactMarket(_VariantMarket):
    """Our own fills move the mid, permanently and transiently (module docstring).

    Args:
        perm_impact: permanent impact per unit of signed flow (price / unit), >= 0.
        temp_impact: transient impact per unit (price / unit), >= 0.
        decay: decay rate of the transient part (1 / time), >= 0.
    """

    kernel_kind = mk.IMPACT

    def __init__(
        self,
        params: MarketParams,
        num_paths: int = 1,
        perm_impact: float = 0.05,
        temp_impact: float = 0.1,
        decay: float = 20.0,
        crn_groups: int = 1,
    ) -> None:
        check_positive("perm_impact", perm_impact, allow_zero=True)
        check_positive("temp_impact", temp_impact, allow_zero=True)
        check_positive("decay", decay, allow_zero=True)
        super().__init__(params, num_paths, crn_groups)
        self.perm_impact, self.temp_impact, self.decay = float(perm_impact), float(temp_impact), float(decay)
        p = self.kernel_params
        p[X0], p[X0 + 1], p[X0 + 2] = self.perm_impact, self.temp_impact, det_exp(-self.decay * self.dt)

    def _state_width(self) -> int:
        return 2  # signed flow of our fills not yet applied, transient impact

    @property
    def transient(self) -> np.ndarray:
        """The transient impact I_t of every path (price units)."""
        return self.kernel_state[:, 1]

    def on_fills(self, bought: np.ndarray, sold: np.ndarray) -> None:
        """Hook the core calls after matching: this interval's fills move the next interval's mid."""
        b = np.ascontiguousarray(bought, dtype=np.float64).reshape(self.num_paths)
        s = np.ascontiguousarray(sold, dtype=np.float64).reshape(self.num_paths)
        mk.after_fills_paths(self.kernel_kind, self.kernel_state, b, s)


class InformationMarket(_VariantMarket):
    """Trades move the mid: theta per market order, N ~ Poisson(A dt) per side (module docstring).

    Args:
        info_share: share of the mid's variance driven by the order flow, in [0, 1].
    """

    kernel_kind = mk.INFORMATION

    def __init__(
        self, params: MarketParams, num_paths: int = 1, info_share: float = 0.5, crn_groups: int = 1
    ) -> None:
        if params.fill_model != "exponential":
            raise ValueError(
                f"market='information' needs fill_model='exponential', got {params.fill_model!r}"
            )
        check_finite("info_share", info_share)
        if not 0.0 <= info_share <= 1.0:
            raise ValueError(f"info_share must lie in [0, 1], got {info_share!r}")
        super().__init__(params, num_paths, crn_groups)
        self.info_share = float(info_share)
        self.theta = float(params.sigma) * math.sqrt(self.info_share / (2.0 * float(params.A)))
        adt = float(params.A) * self.dt
        p = self.kernel_params
        p[X0], p[X0 + 1] = self.theta, p[mk.VOL] * math.sqrt(1.0 - self.info_share)
        p[X0 + 2], p[X0 + 3] = adt, det_exp(-adt)
