"""Market sources that break one assumption of the Avellaneda-Stoikov model each (the weaknesses study).

Every variant is a :class:`mmenv.markets.ModelMarket` with one switch; with the switch off it is the AS
market (same draws, same paths, bit for bit). Kinds (``gymnasium.make("mmenv/MarketMaking-v0", market=kind,
**params, **switches)``):

* ``"garch"``: stochastic volatility. Per-step mid changes r_t = mu dt + sqrt(v_t) Z_t with a GARCH(1,1)
  conditional variance v_{t+1} = omega + a (r_t - mu dt)^2 + b v_t (Bollerslev 1986), omega chosen so that
  the long-run variance omega / (1 - a - b) is sigma^2 dt: the unconditional volatility is the AS sigma.
  ``sigma_estimate`` selects what the market shows as ``sigma`` (the policy's input): "true"
  (sqrt(v_t / dt)), "ewma" (RiskMetrics EWMA of r^2 with decay ``ewma_lambda``) or "rolling" (std of the last
  ``window`` changes, root mean square: the changes have mean ~0), or "constant" (the AS sigma).
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
  interval's mid change. The market learns the fills through the hook :meth:`ImpactMarket.on_fills`
  (called after matching) or by watching the inventory array it is bound to (:meth:`ImpactMarket.bind`).
* ``"information"``: every market order moves the mid (trades carry information). Per side, N ~ Poisson(A dt)
  orders arrive with depths i.i.d. Exp(k), so the reach (their maximum) keeps P(reach >= d) =
  1 - exp(-A e^{-k d} dt) for d >= 0; the mid moves by theta (N_buy - N_sell) plus a Brownian part, with
  theta = sigma sqrt(``info_share`` / (2 A)) and the Brownian volatility sigma sqrt(1 - info_share), so the
  total variance stays sigma^2 dt per step.

Random draws per block of B steps: first the base model's Exp(1) (B, 2, N) and shocks (B, N) (the AS
market's exact stream), then each variant's own draws. Draws never depend on the policy, so common random
numbers hold across strategies (for ``impact`` the mid then differs only through the strategy's own fills).
"""

from __future__ import annotations

import math

import numpy as np

from mmenv.config import MarketParams, check_finite, check_positive
from mmenv.markets import ModelMarket

__all__ = [
    "VARIANTS",
    "AsymmetricMarket",
    "GarchMarket",
    "ImpactMarket",
    "InformationMarket",
    "ToxicMarket",
    "TrendMarket",
    "make_variant",
]


class _VariantMarket(ModelMarket):
    """A :class:`ModelMarket` whose block of draws is kept raw (Exp(1) and N(0, 1)) for the variants.

    Subclasses override :meth:`_extra_draws` (more draws after the base ones) and :meth:`_step`
    (the move and reach of one interval) and may keep per-path state across steps.
    """

    def __init__(self, params: MarketParams, num_paths: int = 1) -> None:
        super().__init__(params, num_paths)
        if params.mid_model != "brownian":
            raise ValueError(f"market variants need mid_model='brownian', got {params.mid_model!r}")

    def _reach(self, log_adt: np.ndarray | float, e: np.ndarray) -> np.ndarray:
        """Reach of the deepest order for intensity A (log(A dt) given) from Exp(1) draws (markets.py)."""
        if self._linear:
            return (log_adt + e) * self._inv_k
        return (log_adt - np.log(e)) * self._inv_k

    def _refill(self, rng: np.random.Generator) -> None:
        b, n = self._block, self.num_paths
        self._e = rng.standard_exponential((b, 2, n))
        self._z = rng.standard_normal((b, n))
        self._extra_draws(rng, b, n)
        self._pos = 0

    def _extra_draws(self, rng: np.random.Generator, b: int, n: int) -> None:
        """Variant-specific draws for the block (after the base ones)."""

    def advance(self, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
        """One interval: reach (relative to the mid before the move), then the mid moves."""
        if self._pos >= self._block:
            self._refill(rng)
        i = self._pos
        self._pos = i + 1
        return self._step(i)

    def _step(self, i: int) -> tuple[np.ndarray, np.ndarray]:
        e = self._e[i]
        self.mid = self.mid + (self._drift + self._vol * self._z[i])
        r = self._reach(self._log_adt, e)
        return r[0], r[1]


class GarchMarket(_VariantMarket):
    """Stochastic volatility: GARCH(1,1) mid changes with long-run volatility sigma (module docstring).

    Args:
        params: market parameters (sigma is the long-run volatility). num_paths: N.
        garch_alpha: a >= 0, reaction to the last squared change. garch_beta: b >= 0, persistence; a + b < 1.
        sigma_estimate: "true", "ewma", "rolling" or "constant": what ``self.sigma`` shows.
        ewma_lambda: EWMA decay in (0, 1) (RiskMetrics 0.94). window: rolling window (steps), >= 2.
    """

    def __init__(
        self,
        params: MarketParams,
        num_paths: int = 1,
        garch_alpha: float = 0.2,
        garch_beta: float = 0.78,
        sigma_estimate: str = "true",
        ewma_lambda: float = 0.94,
        window: int = 20,
    ) -> None:
        super().__init__(params, num_paths)
        check_positive("garch_alpha", garch_alpha, allow_zero=True)
        check_positive("garch_beta", garch_beta, allow_zero=True)
        if garch_alpha + garch_beta >= 1.0:
            raise ValueError(
                f"garch_alpha + garch_beta must be < 1 (stationary), got {garch_alpha!r} + {garch_beta!r}"
            )
        if sigma_estimate not in ("true", "ewma", "rolling", "constant"):
            raise ValueError(
                f"sigma_estimate must be 'true', 'ewma', 'rolling' or 'constant', got {sigma_estimate!r}"
            )
        if not 0.0 < ewma_lambda < 1.0:
            raise ValueError(f"ewma_lambda must lie in (0, 1), got {ewma_lambda!r}")
        if int(window) != window or window < 2:
            raise ValueError(f"window must be an integer >= 2, got {window!r}")
        self.garch_alpha, self.garch_beta = float(garch_alpha), float(garch_beta)
        self.sigma_estimate, self.ewma_lambda, self.window = sigma_estimate, float(ewma_lambda), int(window)
        self._v_long = float(params.sigma) ** 2 * self.dt
        self._omega = self._v_long * (1.0 - self.garch_alpha - self.garch_beta)
        self._init_state(np.ones(self.num_paths, dtype=bool))

    def _init_state(self, mask: np.ndarray) -> None:
        n = self.num_paths
        if not hasattr(self, "_v"):
            self._v = np.full(n, self._v_long)
            self._ewma = np.full(n, self._v_long)
            self._hist = np.zeros((self.window, n))
            self._count = np.zeros(n, dtype=np.int64)
        self._v[mask] = self._v_long
        self._ewma[mask] = self._v_long
        self._hist[:, mask] = 0.0
        self._count[mask] = 0
        self._update_sigma()

    @property
    def true_sigma(self) -> np.ndarray:
        """sqrt(v_t / dt): the conditional volatility of the next change (price / sqrt(time))."""
        return np.sqrt(self._v / self.dt)

    def _update_sigma(self) -> None:
        dt = self.dt
        if self.sigma_estimate == "true":
            self.sigma = np.sqrt(self._v / dt)
        elif self.sigma_estimate == "ewma":
            self.sigma = np.sqrt(self._ewma / dt)
        elif self.sigma_estimate == "rolling":
            m = np.minimum(self._count, self.window)
            with np.errstate(invalid="ignore", divide="ignore"):
                s2 = (self._hist**2).sum(axis=0) / np.maximum(m, 1)
            # Until 2 changes are seen, fall back to the long-run value.
            self.sigma = np.where(m >= 2, np.sqrt(s2 / dt), math.sqrt(self._v_long / dt))
        else:
            self.sigma = np.full(self.num_paths, float(self.params.sigma))

    def reset(self, rng: np.random.Generator, mask: np.ndarray | None = None) -> None:
        """Restart paths at s0 with the long-run variance."""
        super().reset(rng, mask)
        self._init_state(np.ones(self.num_paths, dtype=bool) if mask is None else np.asarray(mask, bool))

    def _step(self, i: int) -> tuple[np.ndarray, np.ndarray]:
        eps = np.sqrt(self._v) * self._z[i]
        self.mid = self.mid + (self._drift + eps)
        self._v = self._omega + self.garch_alpha * eps * eps + self.garch_beta * self._v
        lam = self.ewma_lambda
        self._ewma = lam * self._ewma + (1.0 - lam) * eps * eps
        self._hist[self._count % self.window, np.arange(self.num_paths)] = eps
        self._count += 1
        self._update_sigma()
        r = self._reach(self._log_adt, self._e[i])
        return r[0], r[1]


class TrendMarket(_VariantMarket):
    """A trending mid: per path and episode a drift of +trend or -trend (price / time), sign unknown to AS.

    Args:
        trend: |mu| (price units per time unit), >= 0. Draws one uniform per path at every reset.
    """

    def __init__(self, params: MarketParams, num_paths: int = 1, trend: float = 2.0) -> None:
        super().__init__(params, num_paths)
        check_positive("trend", trend, allow_zero=True)
        self.trend = float(trend)
        self.mu = np.full(self.num_paths, float(params.mu))

    def reset(self, rng: np.random.Generator, mask: np.ndarray | None = None) -> None:
        """Restart paths at s0 and draw each restarted path's drift sign."""
        super().reset(rng, mask)
        sign = np.where(rng.random(self.num_paths) < 0.5, -1.0, 1.0)
        new = float(self.params.mu) + self.trend * sign
        self.mu = new if mask is None else np.where(mask, new, self.mu)

    def _step(self, i: int) -> tuple[np.ndarray, np.ndarray]:
        self.mid = self.mid + (self.mu * self.dt + self._vol * self._z[i])
        r = self._reach(self._log_adt, self._e[i])
        return r[0], r[1]


class AsymmetricMarket(_VariantMarket):
    """Different intensities of sell (A_bid: they hit our bid) and buy (A_ask: they lift our ask) orders.

    Args:
        A_bid, A_ask: intensities at depth 0 (orders / time) of the two sides; None: the params' A.
    """

    def __init__(
        self,
        params: MarketParams,
        num_paths: int = 1,
        A_bid: float | None = None,
        A_ask: float | None = None,
    ) -> None:
        super().__init__(params, num_paths)
        self.A_bid = float(params.A if A_bid is None else A_bid)
        self.A_ask = float(params.A if A_ask is None else A_ask)
        check_positive("A_bid", self.A_bid)
        check_positive("A_ask", self.A_ask)
        self._log_adt2 = np.log(np.array([self.A_bid, self.A_ask]) * self.dt)[:, None]

    def _step(self, i: int) -> tuple[np.ndarray, np.ndarray]:
        self.mid = self.mid + (self._drift + self._vol * self._z[i])
        r = self._reach(self._log_adt2, self._e[i])
        return r[0], r[1]


class ToxicMarket(_VariantMarket):
    """A share of the flow informed of the next mid move (intensity A(1 +- p) on the side the mid goes to).

    Args:
        toxic_share: p in [0, 1].
    """

    def __init__(self, params: MarketParams, num_paths: int = 1, toxic_share: float = 0.5) -> None:
        super().__init__(params, num_paths)
        check_finite("toxic_share", toxic_share)
        if not 0.0 <= toxic_share <= 1.0:
            raise ValueError(f"toxic_share must lie in [0, 1], got {toxic_share!r}")
        self.toxic_share = float(toxic_share)
        p = self.toxic_share
        self._log_up = math.log1p(p) if p < 1 else math.log(2.0)
        self._log_down = math.log1p(-p) if p < 1 else -math.inf

    def _step(self, i: int) -> tuple[np.ndarray, np.ndarray]:
        move = self._drift + self._vol * self._z[i]
        self.mid = self.mid + move
        up = self._z[i] > 0
        # Buyers (reach_ask) gain the informed share when the mid is about to rise, sellers when it falls.
        log_ask = self._log_adt + np.where(up, self._log_up, self._log_down)
        log_bid = self._log_adt + np.where(up, self._log_down, self._log_up)
        with np.errstate(invalid="ignore"):
            rb = self._reach(log_bid, self._e[i, 0])
            ra = self._reach(log_ask, self._e[i, 1])
        return rb, ra


class ImpactMarket(_VariantMarket):
    """Our own fills move the mid, permanently and transiently (module docstring).

    Args:
        perm_impact: permanent impact per unit of signed flow (price / unit), >= 0.
        temp_impact: transient impact per unit (price / unit), >= 0.
        decay: decay rate of the transient part (1 / time), >= 0.
    """

    def __init__(
        self,
        params: MarketParams,
        num_paths: int = 1,
        perm_impact: float = 0.05,
        temp_impact: float = 0.1,
        decay: float = 20.0,
    ) -> None:
        super().__init__(params, num_paths)
        check_positive("perm_impact", perm_impact, allow_zero=True)
        check_positive("temp_impact", temp_impact, allow_zero=True)
        check_positive("decay", decay, allow_zero=True)
        self.perm_impact, self.temp_impact, self.decay = float(perm_impact), float(temp_impact), float(decay)
        self._keep = math.exp(-self.decay * self.dt)
        n = self.num_paths
        self._pending = np.zeros(n)
        self.transient = np.zeros(n)

    def on_fills(self, bought: np.ndarray, sold: np.ndarray) -> None:
        """Hook the core calls after matching: this interval's fills move the next interval's mid."""
        self._pending = self._pending + (np.asarray(sold, float) - np.asarray(bought, float))

    def reset(self, rng: np.random.Generator, mask: np.ndarray | None = None) -> None:
        """Restart paths at s0 with no pending or transient impact."""
        super().reset(rng, mask)
        m = np.ones(self.num_paths, dtype=bool) if mask is None else np.asarray(mask, bool)
        self._pending[m] = 0.0
        self.transient[m] = 0.0

    def _step(self, i: int) -> tuple[np.ndarray, np.ndarray]:
        f = self._pending
        new_t = self._keep * self.transient + self.temp_impact * f
        impact = self.perm_impact * f + (new_t - self.transient)
        self.transient = new_t
        self._pending = np.zeros(self.num_paths)
        self.mid = self.mid + (self._drift + self._vol * self._z[i] + impact)
        r = self._reach(self._log_adt, self._e[i])
        return r[0], r[1]


class InformationMarket(_VariantMarket):
    """Trades move the mid: theta per market order, N ~ Poisson(A dt) per side (module docstring).

    Args:
        info_share: share of the mid's variance driven by the order flow, in [0, 1].
    """

    def __init__(self, params: MarketParams, num_paths: int = 1, info_share: float = 0.5) -> None:
        super().__init__(params, num_paths)
        if params.fill_model != "exponential":
            raise ValueError(
                f"market='information' needs fill_model='exponential', got {params.fill_model!r}"
            )
        check_finite("info_share", info_share)
        if not 0.0 <= info_share <= 1.0:
            raise ValueError(f"info_share must lie in [0, 1], got {info_share!r}")
        self.info_share = float(info_share)
        self.theta = float(params.sigma) * math.sqrt(self.info_share / (2.0 * float(params.A)))
        self._vol_b = self._vol * math.sqrt(1.0 - self.info_share)

    def _extra_draws(self, rng: np.random.Generator, b: int, n: int) -> None:
        self._count = rng.poisson(self.params.A * self.dt, (b, 2, n))

    def _step(self, i: int) -> tuple[np.ndarray, np.ndarray]:
        cnt = self._count[i]
        u = np.exp(-self._e[i])  # U(0, 1) from the base Exp(1) draw
        with np.errstate(divide="ignore"):
            # max of N i.i.d. Exp(k) depths: P(max <= x) = (1 - e^{-k x})^N  =>  x = -ln(1 - U^{1/N}) / k.
            reach = np.where(cnt > 0, -np.log1p(-(u ** (1.0 / np.maximum(cnt, 1)))) * self._inv_k, -np.inf)
        flow = cnt[1] - cnt[0]
        self.mid = self.mid + (self._drift + self._vol_b * self._z[i] + self.theta * flow)
        return reach[0], reach[1]


VARIANTS: dict[str, type[_VariantMarket]] = {
    "garch": GarchMarket,
    "trend": TrendMarket,
    "asymmetric": AsymmetricMarket,
    "toxic": ToxicMarket,
    "impact": ImpactMarket,
    "information": InformationMarket,
}


def make_variant(kind: str, params: MarketParams, num_paths: int, **kwargs) -> _VariantMarket:
    """Build the variant market ``kind`` (a key of :data:`VARIANTS`) with its switches as keyword arguments."""
    if kind not in VARIANTS:
        raise ValueError(f"market variant must be one of {sorted(VARIANTS)}, got {kind!r}")
    return VARIANTS[kind](params, num_paths, **kwargs)
