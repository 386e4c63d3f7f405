"""One interval of the model market and its variants, per path, as numba functions (the markets' kernels).

Every market of :mod:`mmenv.markets` and :mod:`mmenv.markets.variants` is one ``kind`` code, a float64
parameter vector ``p`` (slots below) and a per-path state matrix ``st`` (N, S). :func:`step_one` moves one
path by one interval and returns the order flow's reach on both sides; :func:`reset_one` starts a path's
episode; :func:`after_fills_one` lets the market see the path's fills (impact). The same functions serve
the markets' own ``advance`` (:func:`advance_paths`) and the fused env step of :mod:`mmenv.sim.env_step`, so the
market a policy trades in is one code path whichever loop drives it.

Random numbers (:mod:`mmenv.counter_rng`): the draws of path ``i`` at step ``t`` of episode ``e`` are
addressed by (key, stream[i], e, t, purpose). Every kind reads the base draws the same way:

* ``MID`` lane 0: u_m, the mid's shock z = Phi^{-1}(u_m) ("brownian") or z = -1 if u_m < 1/2 else +1
  ("binomial");
* ``FILL`` lanes 0 and 1: u_b, u_a, the Exp(1) variables E = -ln u of the reach on the bid (sellers) and ask
  (buyers) side: R = (ln(A dt) - ln E) / k ("exponential") or (ln(A dt) + E) / k ("linear"), see
  :mod:`mmenv.markets`;

and a variant only adds purposes of its own (``TREND``, ``INFO``) or transforms these numbers with its
switch, written so that the switch's off value gives the base market's floating-point operations exactly
(e.g. GARCH in units of the long-run variance: sqrt(1) z = z). Hence: switch off = base market bit for bit,
variants share every draw they have in common, and a path's numbers do not depend on N or on threads.

Event order (``p[EVENT]``): "fill_then_move" (0) fills the quotes against the flow of the interval at the
mid they were set at, then the mid moves; "move_then_fill" (1) moves the mid first and then matches the flow
around the new mid against the stale quotes (the order of AS 2008's simulation). The reach is returned
relative to the mid at quote time in both cases: a seller reaching depth R below the new mid s + m reaches
depth R - m below the old one, a buyer R + m above it. Nothing else changes: same draws, same mid path.
"""

from __future__ import annotations

import math

import numpy as np

from mmenv.counter_rng import FILL, INFO, MID, TREND, log_normal, normal_central, normal_tail, uniform_pair
from mmenv.jit import njit

__all__ = [
    "KERNEL_CODES",
    "P_SIZE",
    "advance_paths",
    "after_fills_one",
    "model_reach",
    "reset_one",
    "reset_paths",
    "step_one",
]

#: Market kind codes, one per branch of :func:`step_one`; their names are rows of the one table of market
#: kinds, :data:`mmenv.markets.registry.MARKETS`.
KERNEL_CODES = tuple(range(7))
MODEL, GARCH, TRENDING, ASYMMETRIC, TOXIC, IMPACT, INFORMATION = KERNEL_CODES
#: Event order codes.
EVENT_ORDERS = {"fill_then_move": 0, "move_then_fill": 1}

# Common parameter slots.
LOG_ADT, INV_K, LINEAR, DRIFT, VOL, BINOMIAL, EVENT, DT, SIGMA, MU = range(10)
# Variant slots (from X0 on).
X0 = 10
P_SIZE = X0 + 6


#: Paths per chunk of the draw loops (their buffers fit in L1).
CHUNK = 256


@njit(cache=True, inline="always", error_model="numpy")
def draw_chunk(
    p: np.ndarray,
    k0,
    k1,
    stream: np.ndarray,
    episode: np.ndarray,
    t: np.ndarray,
    lo: int,
    n: int,
    z: np.ndarray,
    e_b: np.ndarray,
    e_a: np.ndarray,
    lg_b: np.ndarray,
    lg_a: np.ndarray,
    zc: np.ndarray,
) -> None:
    """The base draws of paths lo .. lo + n - 1 at their current step, into the chunk buffers: the mid's
    shock z, the Exp(1) variables E = -ln u of both sides and (exponential fill model) ln E.

    Loops without branches (they vectorize; SIMD lanes perform the scalar IEEE operations, so the numbers
    are the same bits as one path at a time): Philox, the logarithms (:func:`mmenv.counter_rng.log_normal`:
    u in [2^-53, 1 - 2^-53] and E in [1.1e-16, 37] are normal numbers), AS 241's central part; the tails of
    the normal quantile (15% of draws) are patched after.
    """
    for j in range(n):
        i = np.uint64(lo + j)  # unsigned: no negative-index wraparound, so contiguous (not gathered) loads
        u_m, _ = uniform_pair(k0, k1, t[i], MID, stream[i], episode[i])
        u_b, u_a = uniform_pair(k0, k1, t[i], FILL, stream[i], episode[i])
        z[j] = u_m
        e_b[j] = u_b
        e_a[j] = u_a
    for j in range(n):
        e_b[j] = -log_normal(e_b[j], 0)
        e_a[j] = -log_normal(e_a[j], 0)
    if p[LINEAR] == 0.0:
        for j in range(n):
            lg_b[j] = log_normal(e_b[j], 0)
            lg_a[j] = log_normal(e_a[j], 0)
    if p[BINOMIAL] != 0.0:
        for j in range(n):
            z[j] = -1.0 if z[j] < 0.5 else 1.0
    else:
        for j in range(n):
            zc[j] = normal_central(z[j])
        for j in range(n):
            u = z[j]
            z[j] = zc[j] if abs(u - 0.5) <= 0.425 else normal_tail(u)


@njit(cache=True, inline="always", error_model="numpy")
def _poisson_tail(u: float, m: float, p0: float) -> int:
    """Poisson(m) by inversion of the uniform u, given p0 = e^{-m}."""
    n = 0
    pk = p0
    c = pk
    while u > c and n < 1000:
        n += 1
        pk *= m / n
        c += pk
    return n


@njit(cache=True, inline="always", error_model="numpy")
def reset_one(kind: int, p: np.ndarray, st: np.ndarray, i: int, k0, k1, stream: int, episode: int) -> float:
    """Start path i's episode: its variant state; returns the sigma the market shows at the start."""
    if kind == GARCH:
        st[i, 0] = 1.0  # variance in units of the long-run variance sigma^2 dt
        st[i, 1] = p[VOL] * p[VOL]  # EWMA of the squared changes
        st[i, 2] = 0.0  # changes seen
        for j in range(3, st.shape[1]):
            st[i, j] = 0.0
    elif kind == TRENDING:
        u, _ = uniform_pair(k0, k1, 0, TREND, stream, episode)
        st[i, 0] = p[MU] + p[X0] * (-1.0 if u < 0.5 else 1.0)
    elif kind == IMPACT:
        st[i, 0] = 0.0  # signed flow of our fills not yet applied
        st[i, 1] = 0.0  # transient impact
    return p[SIGMA]


@njit(cache=True, inline="always", error_model="numpy")
def model_reach(
    p: np.ndarray, z: float, e_b: float, e_a: float, lg_b: float, lg_a: float
) -> tuple[float, float, float]:
    """The model market's interval from its base draws (:func:`draw_chunk`): (move, reach_bid, reach_ask),
    the mid's move and the reach of the flow relative to the mid at quote time. A scalar function (no
    per-path arrays), so a loop that keeps the path's state in registers can call it; :func:`step_one` does."""
    move = p[DRIFT] + p[VOL] * z
    if p[LINEAR] != 0.0:
        r_b = (p[LOG_ADT] + e_b) * p[INV_K]
        r_a = (p[LOG_ADT] + e_a) * p[INV_K]
    else:
        r_b = (p[LOG_ADT] - lg_b) * p[INV_K]
        r_a = (p[LOG_ADT] - lg_a) * p[INV_K]
    if p[EVENT] != 0.0:
        r_b = r_b - move
        r_a = r_a + move
    return move, r_b, r_a


@njit(cache=True, inline="always", error_model="numpy")
def step_one(
    kind: int,
    p: np.ndarray,
    st: np.ndarray,
    i: int,
    k0,
    k1,
    stream: int,
    episode: int,
    t: int,
    mid: np.ndarray,
    sigma: np.ndarray,
    z: float,
    e_b: float,
    e_a: float,
    lg_b: float,
    lg_a: float,
) -> tuple[float, float]:
    """Path i's interval t from its base draws (:func:`draw_chunk`: shock z, Exp(1) variables e_b, e_a and
    their logarithms lg_b, lg_a): returns (reach_bid, reach_ask) relative to the mid at quote time and moves
    ``mid[i]`` (and ``sigma[i]`` where the market's volatility estimate changes)."""
    if kind == MODEL:  # the common case first, on its own: the compiler keeps it tight
        move, r_b, r_a = model_reach(p, z, e_b, e_a, lg_b, lg_a)
        mid[i] = mid[i] + move
        return r_b, r_a
    linear = p[LINEAR] != 0.0
    inv_k = p[INV_K]
    log_b = p[LOG_ADT]
    log_a = p[LOG_ADT]
    if kind == ASYMMETRIC:
        move = p[DRIFT] + p[VOL] * z
        log_b = p[X0]
        log_a = p[X0 + 1]
    elif kind == GARCH:
        h = st[i, 0]
        x = math.sqrt(h) * z  # the change in units of the long-run volatility
        eps = p[VOL] * x
        move = p[DRIFT] + eps
        a, b = p[X0], p[X0 + 1]
        h = p[X0 + 5] + a * x * x + b * h  # v' = omega + a eps^2 + b v, divided by sigma^2 dt
        st[i, 0] = h
        lam = p[X0 + 2]
        st[i, 1] = lam * st[i, 1] + (1.0 - lam) * eps * eps
        window = st.shape[1] - 3
        cnt = int(st[i, 2])
        st[i, 3 + cnt % window] = eps
        cnt += 1
        st[i, 2] = cnt
        est = int(p[X0 + 3])
        if est == 0:  # true
            sigma[i] = p[SIGMA] * math.sqrt(h)
        elif est == 1:  # ewma
            sigma[i] = math.sqrt(st[i, 1] / p[DT])
        elif est == 2:  # rolling root mean square of the last window changes
            m = min(cnt, window)
            if m >= 2:
                s2 = 0.0
                for j in range(window):
                    s2 += st[i, 3 + j] * st[i, 3 + j]
                sigma[i] = math.sqrt(s2 / m / p[DT])
    elif kind == TRENDING:
        move = st[i, 0] * p[DT] + p[VOL] * z
    elif kind == TOXIC:
        move = p[DRIFT] + p[VOL] * z
        if z > 0.0:  # buyers gain the informed share when the mid is about to rise, sellers when it falls
            log_a, log_b = p[X0], p[X0 + 1]
        else:
            log_a, log_b = p[X0 + 1], p[X0]
    elif kind == IMPACT:
        f = st[i, 0]
        old = st[i, 1]
        new_t = p[X0 + 2] * old + p[X0 + 1] * f
        impact = p[X0] * f + (new_t - old)
        st[i, 1] = new_t
        st[i, 0] = 0.0
        move = p[DRIFT] + p[VOL] * z + impact
    else:  # INFORMATION: market orders per side, given the reach (module docstring of market_variants)
        v_b, v_a = uniform_pair(k0, k1, t, INFO, stream, episode)
        u_b, u_a = uniform_pair(k0, k1, t, FILL, stream, episode)
        adt = p[X0 + 2]
        n_b = 0 if e_b > adt else 1 + _poisson_tail(v_b, adt - e_b, p[X0 + 3] / u_b)
        n_a = 0 if e_a > adt else 1 + _poisson_tail(v_a, adt - e_a, p[X0 + 3] / u_a)
        move = p[DRIFT] + p[X0 + 1] * z + p[X0] * float(n_a - n_b)
    if linear:  # the reach of the deepest order (mmenv.markets): (ln(A dt) + E) / k or (ln(A dt) - ln E) / k
        r_b = (log_b + e_b) * inv_k
        r_a = (log_a + e_a) * inv_k
    else:
        r_b = (log_b - lg_b) * inv_k
        r_a = (log_a - lg_a) * inv_k
    if p[EVENT] != 0.0:  # move_then_fill: the flow meets the stale quotes around the new mid
        r_b = r_b - move
        r_a = r_a + move
    mid[i] = mid[i] + move
    return r_b, r_a


@njit(cache=True, inline="always", error_model="numpy")
def after_fills_one(kind: int, st: np.ndarray, i: int, bought: float, sold: float) -> None:
    """Path i's fills of the interval (units bought at the bid, sold at the ask), for markets that react."""
    if kind == IMPACT:
        st[i, 0] += sold - bought  # a buyer lifting our ask pushes the price up


@njit(cache=True, nogil=True, error_model="numpy")
def advance_paths(
    kind: int,
    p: np.ndarray,
    st: np.ndarray,
    k0,
    k1,
    stream: np.ndarray,
    episode: np.ndarray,
    t: np.ndarray,
    mid: np.ndarray,
    sigma: np.ndarray,
    reach_b: np.ndarray,
    reach_a: np.ndarray,
) -> None:
    """:func:`step_one` on every path (arrays updated in place; ``t`` advanced by one)."""
    buf = np.empty((6, CHUNK))
    n = mid.shape[0]
    for lo in range(0, n, CHUNK):
        m = min(CHUNK, n - lo)
        draw_chunk(p, k0, k1, stream, episode, t, lo, m, buf[0], buf[1], buf[2], buf[3], buf[4], buf[5])
        for j in range(m):
            i = lo + j
            reach_b[i], reach_a[i] = step_one(
                kind,
                p,
                st,
                i,
                k0,
                k1,
                stream[i],
                episode[i],
                t[i],
                mid,
                sigma,
                buf[0, j],
                buf[1, j],
                buf[2, j],
                buf[3, j],
                buf[4, j],
            )
            t[i] += 1


@njit(cache=True, nogil=True, error_model="numpy")
def reset_paths(
    kind: int,
    p: np.ndarray,
    st: np.ndarray,
    k0,
    k1,
    stream: np.ndarray,
    episode: np.ndarray,
    t: np.ndarray,
    mid: np.ndarray,
    s0: np.ndarray,
    sigma: np.ndarray,
    mask: np.ndarray,
) -> None:
    """Start a new episode on the paths where ``mask`` is True: episode + 1, t = 0, mid = s0, own state."""
    for i in range(mid.shape[0]):
        if mask[i]:
            episode[i] += 1
            t[i] = 0
            mid[i] = s0[i]
            sigma[i] = reset_one(kind, p, st, i, k0, k1, stream[i], episode[i])


@njit(cache=True, nogil=True, error_model="numpy")
def after_fills_paths(kind: int, st: np.ndarray, bought: np.ndarray, sold: np.ndarray) -> None:
    """:func:`after_fills_one` on every path."""
    for i in range(bought.shape[0]):
        after_fills_one(kind, st, i, bought[i], sold[i])
