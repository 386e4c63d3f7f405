"""Two strong reference strategies: the GLFT closed-form quotes and the exact CJP finite-horizon optimum.

* :class:`GLFTAgent`: Gueant, Lehalle & Fernandez-Tapia (2013), "Dealing with the inventory risk: a solution
  to the market making problem", Mathematics and Financial Economics 7(4), the asymptotic (large-T)
  closed-form quotes with inventory bounds (their eqs. for delta^b_inf, delta^a_inf, with xi = gamma).
* :class:`CJPAgent`: Cartea, Jaimungal & Penalva (2015), "Algorithmic and High-Frequency Trading", CUP,
  section 10.2: the exact optimum of

      max E[ X_T + q_T (S_T - alpha q_T) - phi int_0^T q_u^2 du ]

  with fill intensity lambda(delta) = A e^{-k delta} per side, unit orders and inventory in [-Q, Q],
  solved through the matrix exponential of its linear ODE system. The env's ``reward="penalized"`` (with
  the same phi and alpha) is this objective step by step, so the mean episode reward of this policy is the
  value function h(0, q0) up to the time discretisation of the fills (see :meth:`CJPAgent.value`,
  :meth:`CJPAgent.discrete_value`).

Both are vectorised over paths: ``quote`` looks up precomputed tables by inventory (and time).
"""

from __future__ import annotations

import math

import numpy as np

from agents.base import BasePolicy, QuoteState
from agents.compiled import glft_policy, table_params, table_policy
from mmenv.config import check_finite, check_positive
from mmenv.counter_rng import det_exp, det_exp_array, det_expm1_array, det_log, det_log1p, det_log_array
from mmenv.jit import njit
from mmenv.replay.jit_policy import JitPolicy

__all__ = ["CJPAgent", "GLFTAgent", "cjp_generator", "solve_cjp"]


def _check_q_max(q_max: float, order_size: float) -> int:
    check_positive("q_max", q_max)
    check_positive("order_size", order_size)
    n = q_max / order_size
    if not math.isfinite(n) or abs(n - round(n)) > 1e-9 or round(n) < 1:
        raise ValueError(
            f"q_max must be a finite positive multiple of order_size ({order_size!r}), got {q_max!r}"
        )
    return round(n)


class GLFTAgent(BasePolicy):
    """Gueant-Lehalle-Fernandez-Tapia (2013) asymptotic optimal quotes with inventory bounds.

    With risk aversion gamma (= xi, the CARA coefficient), volatility sigma, intensity A e^{-k delta} and
    order size Delta (GLFT 2013, section 4, closed-form approximations; Gueant 2016, eq. 10.25 with
    xi = gamma):

        c1 = (1 / (gamma Delta)) ln(1 + gamma Delta / k)
        c2 = sqrt( sigma^2 gamma / (2 A Delta k) * (1 + gamma Delta / k)^(1 + k / (gamma Delta)) )
        delta_b(q) = c1 + (2 q + Delta) / 2 * c2,      delta_a(q) = c1 - (2 q - Delta) / 2 * c2

    (price units). In the limit gamma -> 0: c1 -> 1/k and c2 -> 0. The bid is withdrawn when a fill
    would take q above Q (q + Delta > Q) and the ask when it would take q below -Q: the depth is +inf (a
    quote infinitely far from the mid never fills; the env rejects NaN actions, and the core's hard limit
    withdraws that side anyway when Q is the env's q_max).

    Args:
        gamma: risk aversion (1 / price unit), >= 0.
        A: intensity at depth 0 (orders / time unit), > 0. k: intensity decay (1 / price unit), > 0.
        sigma: volatility (price / sqrt(time)); None reads it from the state (the env's observation).
        q_max: inventory bound Q (units). order_size: Delta (units). s0: see :class:`BasePolicy`.
    """

    name = "glft"

    def __init__(
        self,
        gamma: float = 0.1,
        A: float = 140.0,
        k: float = 1.5,
        sigma: float | None = None,
        q_max: float = 25.0,
        order_size: float = 1.0,
        s0: float = 100.0,
    ) -> None:
        super().__init__(s0)
        check_positive("gamma", gamma, allow_zero=True)
        check_positive("A", A)
        check_positive("k", k)
        if sigma is not None:
            check_positive("sigma", sigma, allow_zero=True)
        check_positive("q_max", q_max, allow_inf=True)
        check_positive("order_size", order_size)
        self.gamma, self.A, self.k, self.sigma = float(gamma), float(A), float(k), sigma
        self.q_max, self.order_size = float(q_max), float(order_size)

    def _c1_growth(self) -> tuple[float, float]:
        """(c1, (1 + x)^(1 + 1/x)) with x = gamma Delta / k (class docstring)."""
        g, k, d = self.gamma, self.k, self.order_size
        x = g * d / k
        if x < 1e-8:  # gamma -> 0 limit: ln(1+x)/x -> 1, (1+x)^(1+1/x) -> e, c2 ~ sqrt(gamma)
            return 1.0 / k, math.e
        return det_log1p(x) / (g * d), det_exp((1.0 + 1.0 / x) * det_log1p(x))

    def coefficients(self, sigma: np.ndarray | float) -> tuple[float, np.ndarray]:
        """(c1, c2) of the closed form (class docstring) for volatility ``sigma``."""
        g, k, d, a = self.gamma, self.k, self.order_size, self.A
        c1, growth = self._c1_growth()
        c2 = np.sqrt(np.square(sigma) * g / (2.0 * a * d * k) * growth)
        return c1, c2

    def jit_policy(self) -> JitPolicy | None:
        """This strategy as a compiled policy (:func:`agents.compiled.glft_policy`) for the replay's loop;
        None for a subclass that changes ``quote``."""
        if type(self).quote is not GLFTAgent.quote:
            return None
        g, k, d, a = self.gamma, self.k, self.order_size, self.A
        c1, growth = self._c1_growth()
        c2 = math.nan if self.sigma is None else float(self.coefficients(self.sigma)[1])
        p = [c1, c2, g, 2.0 * a * d * k, growth, d, self.q_max]
        return JitPolicy(glft_policy, params=p, name=self.name)

    def quote(self, state: QuoteState) -> tuple[np.ndarray, np.ndarray]:
        """Closed-form depths; +inf on a side whose fill would break the inventory bound."""
        sigma = state.sigma if self.sigma is None else self.sigma
        q = np.asarray(state.q, dtype=float)
        c1, c2 = self.coefficients(sigma)
        d = self.order_size
        bid = c1 + (2.0 * q + d) / 2.0 * c2
        ask = c1 - (2.0 * q - d) / 2.0 * c2
        bid = np.where(q + d > self.q_max + 1e-9, np.inf, bid)
        ask = np.where(q - d < -self.q_max - 1e-9, np.inf, ask)
        return np.broadcast_to(bid, q.shape).copy(), np.broadcast_to(ask, q.shape).copy()


def cjp_generator(A: float, k: float, phi: float, n_q: int, mu: float = 0.0, size: float = 1.0) -> np.ndarray:
    """The matrix of the CJP linear ODE  d omega / d tau = M omega  (tau = T - t), over q = -Q..Q.

    With h(t, q) = (1/k) ln omega(t, q) the HJB of CJP (2015) eq. (10.10) (running penalty phi, intensity
    A e^{-k delta}, drift mu) becomes linear (CJP section 10.2.1):

        d omega(q) / d tau = k (mu q - phi q^2) omega(q) + (A / e) [omega(q - 1) 1_{q > -Q} + omega(q + 1) 1_{q < Q}]

    so M is tridiagonal: diagonal k (mu q - phi q^2), off-diagonals A e^{-1}. With orders of ``size``
    Delta units, q steps by Delta and k becomes kappa = k / Delta in the transform h = (1/kappa) ln omega.

    Args:
        A, k: intensity A e^{-k delta}. phi: running inventory penalty (>= 0). n_q: Q / size.
        mu: drift of the mid (price / time). size: units per fill.
    """
    q = np.arange(-n_q, n_q + 1) * size
    m = np.diag(k / size * (mu * q - phi * q * q))
    off = A / math.e
    i = np.arange(2 * n_q)
    m[i, i + 1] = off  # omega(q + 1): a bid fill from q (buying takes q to q + 1)
    m[i + 1, i] = off  # omega(q - 1): an ask fill from q
    return m


@njit(cache=True, error_model="numpy")
def _matmul(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """a @ b with a fixed order of IEEE operations (no BLAS, no FMA): c_ij = sum_p a_ip b_pj summed in p
    order, so the bits do not depend on the CPU's BLAS kernel or SIMD width."""
    c = np.zeros((a.shape[0], b.shape[1]))
    for i in range(a.shape[0]):
        for p in range(a.shape[1]):
            aip = a[i, p]
            if aip == 0.0:  # skipping a zero term leaves the sum's bits unchanged (finite entries)
                continue
            for j in range(b.shape[1]):
                c[i, j] += aip * b[p, j]
    return c


@njit(cache=True, error_model="numpy")
def _expm(a: np.ndarray) -> np.ndarray:
    """exp(a) of a square matrix, the same bits on every CPU: scaling and squaring
    (Moler and Van Loan 2003, "Nineteen dubious ways to compute the exponential of a matrix", SIAM Review
    45(1), method 3).

    a / 2^s with 1-norm <= 1/2 (exact scaling by a power of two); exp by its Taylor polynomial of degree
    18 in Horner form (truncation < 0.5^19 / 19! ~ 2e-23 of the norm); then s squarings. Where a >= 0 every
    sum adds nonnegative terms (no cancellation), so small entries keep their relative accuracy. Products
    by :func:`_matmul` (fixed summation order, no BLAS).
    """
    n = a.shape[0]
    norm = 0.0
    for j in range(n):
        col = 0.0
        for i in range(n):
            col += abs(a[i, j])
        norm = max(norm, col)
    s = 0
    scale = 1.0
    while norm * scale > 0.5:
        scale *= 0.5
        s += 1
    b = a * scale
    e = np.eye(n)
    for m in range(18, 0, -1):
        e = _matmul(b, e) / m
        for i in range(n):
            e[i, i] += 1.0
    for _ in range(s):
        e = _matmul(e, e)
    return e


def solve_cjp(
    A: float,
    k: float,
    phi: float,
    alpha: float,
    n_q: int,
    T: float,
    dt: float,
    mu: float = 0.0,
    size: float = 1.0,
) -> np.ndarray:
    """h(tau_j, q) on the grid tau_j = j dt, j = 0..n (n = T / dt), q = -Q..Q: array (n + 1, 2 Q + 1).

    omega(tau) = exp(M tau) z with z(q) = exp(-k alpha q^2) (terminal condition h(T, q) = -alpha q^2),
    stepped exactly by E = expm(M dt): omega_{j+1} = E omega_j, renormalised each step (the log of the
    scale is carried) so that long horizons do not overflow. h = (1/k) ln omega (CJP 2015, eq. 10.11).
    """
    n = round(T / dt)
    q = np.arange(-n_q, n_q + 1) * size
    kappa = k / size
    g = cjp_generator(A, k, phi, n_q, mu, size) * dt
    # exp(g) = e^c exp(g - c I), the factor e^c carried in the log scale (c per step). c = the smallest
    # diagonal entry makes g - c I >= 0 (off-diagonals A/e dt >= 0: no cancellation); where the diagonal
    # spans more than 500, c = largest - 500 keeps exp(g - c I) finite (rows below are ~e^-500 anyway)
    diag = g.diagonal()
    c = float(max(diag.min(), diag.max() - 500.0))
    e = _expm(g - c * np.eye(q.size))
    log_z = -kappa * alpha * q * q
    shift = log_z.max()
    w = det_exp_array(log_z - shift)
    log_scale = shift
    h = np.empty((n + 1, q.size))
    tiny = np.finfo(float).tiny
    h[0] = log_z / kappa
    for j in range(1, n + 1):
        w = _matmul(e, w.reshape(-1, 1)).reshape(-1)
        top = w.max()
        w = w / top
        log_scale += det_log(top) + c
        h[j] = (det_log_array(np.maximum(w, tiny)) + log_scale) / kappa
    return h


class CJPAgent(BasePolicy):
    """The exact finite-horizon optimum of the running-penalty problem (Cartea-Jaimungal-Penalva 2015, 10.2).

    Objective: max E[X_T + q_T (S_T - alpha q_T) - phi int_0^T q_u^2 du], fills at intensity
    A e^{-k delta} per side, unit orders (``order_size``), inventory in [-Q, Q]. Optimal depths
    (CJP eq. 10.12), with h from :func:`solve_cjp`:

        delta_b(t, q) = 1/k - h(t, q + 1) + h(t, q)   (no bid at q = Q: depth +inf)
        delta_a(t, q) = 1/k - h(t, q - 1) + h(t, q)   (no ask at q = -Q)

    (for orders of Delta units: q +- Delta and the differences divided by Delta).

    The tables are precomputed on the decision grid t = T - j dt and looked up by (round(tau / dt),
    round(q / size)); tau beyond T uses the table at T, q outside [-Q, Q] is clipped (the core's hard limit
    stops further trading away from the grid).

    A mean-variance link to the AS / GLFT risk aversion: phi = gamma sigma^2 / 2 (Gueant 2016, ch. 10);
    ``phi=None`` uses it with the given ``gamma`` and ``sigma``.

    Args:
        phi: running inventory penalty (price / (unit^2 time)), >= 0; None: gamma sigma^2 / 2.
        alpha: terminal inventory penalty (price / unit^2), >= 0.
        A, k: intensity A e^{-k delta}. T, dt: horizon and decision interval (time units).
        q_max: Q (units). order_size: units per fill. mu: drift of the mid (price / time), 0 in CJP 10.2.
        gamma, sigma: used only when ``phi`` is None. s0: see :class:`BasePolicy`.
    """

    name = "optimal"

    def __init__(
        self,
        phi: float | None = None,
        alpha: float = 0.0,
        A: float = 140.0,
        k: float = 1.5,
        T: float = 1.0,
        dt: float = 0.005,
        q_max: float = 25.0,
        order_size: float = 1.0,
        mu: float = 0.0,
        gamma: float = 0.1,
        sigma: float = 2.0,
        s0: float = 100.0,
    ) -> None:
        super().__init__(s0)
        if phi is None:
            check_positive("gamma", gamma, allow_zero=True)
            check_positive("sigma", sigma, allow_zero=True)
            phi = 0.5 * gamma * sigma * sigma
        check_positive("phi", phi, allow_zero=True)
        check_positive("alpha", alpha, allow_zero=True)
        check_positive("A", A)
        check_positive("k", k)
        check_positive("T", T)
        check_positive("dt", dt)
        check_finite("mu", mu)
        n = T / dt
        if abs(n - round(n)) > 1e-9 * max(1.0, n):
            raise ValueError(f"T / dt must be an integer number of steps, got T={T!r}, dt={dt!r}")
        self.n_q = _check_q_max(q_max, order_size)
        self.phi, self.alpha, self.A, self.k = float(phi), float(alpha), float(A), float(k)
        self.T, self.dt, self.q_max, self.order_size, self.mu = (
            float(T),
            float(dt),
            float(q_max),
            float(order_size),
            float(mu),
        )
        self.h = solve_cjp(
            self.A, self.k, self.phi, self.alpha, self.n_q, self.T, self.dt, self.mu, self.order_size
        )
        inv_k, s = 1.0 / self.k, self.order_size
        nanc = np.full((self.h.shape[0], 1), np.inf)
        # bid from q: 1/k - (h(q+D) - h(q))/D, none at q = Q; ask from q: 1/k - (h(q-D) - h(q))/D, none at -Q.
        self.bid_table = np.hstack([inv_k - (self.h[:, 1:] - self.h[:, :-1]) / s, nanc])
        self.ask_table = np.hstack([nanc, inv_k - (self.h[:, :-1] - self.h[:, 1:]) / s])

    @property
    def q_grid(self) -> np.ndarray:
        """Inventory grid -Q..Q (units)."""
        return np.arange(-self.n_q, self.n_q + 1) * self.order_size

    def _index(self, q: np.ndarray, tau: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        j = np.clip(np.rint(np.asarray(tau, dtype=float) / self.dt), 0, self.h.shape[0] - 1).astype(np.intp)
        iq = np.clip(np.rint(np.asarray(q, dtype=float) / self.order_size) + self.n_q, 0, 2 * self.n_q)
        return j, iq.astype(np.intp)

    def quote(self, state: QuoteState) -> tuple[np.ndarray, np.ndarray]:
        """Table look-up of the optimal depths at (tau, q); +inf (withdrawn) at the inventory bound."""
        j, iq = self._index(state.q, state.tau)
        return self.bid_table[j, iq], self.ask_table[j, iq]

    def jit_policy(self) -> JitPolicy | None:
        """This strategy as a compiled policy (:func:`agents.compiled.table_policy` on its depth tables, the
        same look-up as ``quote``); None for a subclass that changes ``quote``."""
        if type(self).quote is not CJPAgent.quote or type(self)._index is not CJPAgent._index:
            return None
        p = table_params(self.bid_table, self.ask_table, self.dt, 0, 0.0, self.order_size, self.n_q)
        return JitPolicy(table_policy, params=p, name=self.name)

    def value(self, q: float = 0.0, tau: float | None = None) -> float:
        """h(t, q) = (1/k) ln omega(t, q): the optimal expected objective minus X_t + q S_t (price units).

        At (t = 0, q0) this is the expected sum of the env's ``reward="penalized"`` rewards under this
        policy in continuous time (the env's per-step fills make it an O(dt) upper bound, see
        :meth:`discrete_value`).
        """
        j, iq = self._index(np.asarray(q), np.asarray(self.T if tau is None else tau))
        return float(self.h[j, iq])

    def discrete_value(self, q0: float = 0.0) -> np.ndarray:
        """Exact expected penalized reward of this policy in the env's discrete-time model, by backward recursion.

        The env fills each live quote at most once per step, with probability p = 1 - exp(-A e^{-k delta} dt),
        independently per side, and charges phi q^2 dt on the inventory held during the step (and alpha q_T^2
        at T); with a martingale mid the expected step reward is p_b delta_b + p_a delta_a - phi q^2 dt
        (plus mu q' dt with a drift). Returns V_0(q) over the q grid; ``V[q0 index]`` is the value at q0.
        The gap to :meth:`value` is the time-discretisation bias of the fills (O(dt)).
        """
        q = self.q_grid
        n = self.h.shape[0] - 1
        v = -self.alpha * q * q
        s = self.order_size
        for j in range(1, n + 1):  # tau = j dt: the decision at time T - j dt
            db, da = self.bid_table[j], self.ask_table[j]
            pb = -det_expm1_array(
                -self.A * det_exp_array(-self.k * db) * self.dt
            )  # 0 at a withdrawn (inf) side
            pa = -det_expm1_array(-self.A * det_exp_array(-self.k * da) * self.dt)
            up = np.append(v[1:], 0.0)  # V(q + 1)
            down = np.insert(v[:-1], 0, 0.0)  # V(q - 1)
            cont = pb * (1 - pa) * up + pa * (1 - pb) * down + (pb * pa + (1 - pb) * (1 - pa)) * v
            with np.errstate(invalid="ignore"):  # 0 * inf at a withdrawn side
                gain = s * (np.where(pb > 0, pb * db, 0.0) + np.where(pa > 0, pa * da, 0.0))
            drift = self.mu * self.dt * (q + s * (pb - pa))
            v = gain + drift - self.phi * q * q * self.dt + cont
        return v
