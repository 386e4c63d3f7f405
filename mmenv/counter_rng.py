"""Counter-based random numbers: every draw addressed by (key, stream, episode, step, purpose).

Generator: Philox4x32-10 (Salmon, Moraes, Dror and Shaw 2011, "Parallel random numbers: as easy as 1, 2,
3", SC'11; the generator behind numpy's ``Philox``, cuRAND and Random123), written here as a scalar numba
function. It maps a 128-bit counter and a 64-bit key to 128 random bits; it passes TestU01's BigCrush for
any counter sequence (the paper's section 5), so neighbouring counters need no mixing of their own.

Addressing: the key is drawn once per full reset from the env's ``np_random`` (so Gymnasium seeding drives
everything) and the counter is ``(step, purpose, stream, episode)``:

* ``stream``: the path (or, with common random numbers, the path of the shared block);
* ``episode``: episodes started on that path since the last full reset (autoreset increments it);
* ``step``: the decision step within the episode;
* ``purpose``: what the numbers are for (:data:`MID`, :data:`FILL`, :data:`TREND`, :data:`INFO`).

A draw therefore depends on nothing else: not on N, not on the other paths, not on the thread that
computes it, not on which market variant asks for it (a variant with its switch off reads exactly the base
market's numbers; two variants read the same numbers for the purposes they share).

Bit-for-bit: the integer output is exact on every machine. The float transforms use only IEEE-754 basic
operations (+, -, *, /, sqrt: correctly rounded) with no fused multiply-add (numba without ``fastmath``
emits none) and no library transcendental: :func:`det_log` and :func:`det_exp` are the fdlibm algorithms
(Sun Microsystems 1993, the basis of most libms) written in numba, so they do not depend on the platform's
libm, its SIMD width or CPU dispatch. Same key, same numbers, bit for bit, on any IEEE-754 CPU.

Deterministic math for everything else that feeds a simulated number: :func:`det_log1p` and
:func:`det_expm1` (Kahan's formulas on top of :func:`det_log` / :func:`det_exp`, a few ulp) and the
element-wise array versions :func:`det_exp_array`, :func:`det_log_array`, :func:`det_log1p_array`,
:func:`det_expm1_array` (numba loops calling the scalar functions, the replacements of ``np.exp`` & co.,
whose AVX2 and AVX-512 implementations differ in the last bit). The CARA reward, the AS liquidity term and
reservation prices (:mod:`mmenv.engine`) and the GLFT / CJP / exact-optimum policies use them, so a rollout
under those policies is the same bit for bit on every CPU.
"""

from __future__ import annotations

import math

import numpy as np
from numba import types
from numba.extending import intrinsic

from mmenv.jit import njit

__all__ = [
    "FILL",
    "INFO",
    "MID",
    "PURPOSES",
    "TREND",
    "det_exp",
    "det_exp_array",
    "det_expm1",
    "det_expm1_array",
    "det_log",
    "det_log1p",
    "det_log1p_array",
    "det_log_array",
    "key_words",
    "new_key",
    "normal_icdf",
    "philox4x32",
    "uniform_pair",
    "uniforms",
]

#: Purpose codes (the second counter word). MID: the mid's shock (lane 0), FILL: the order flow's reach on
#: the bid (lane 0) and ask (lane 1) side, TREND: the trend sign of an episode (lane 0, step 0), INFO: the
#: number of market orders on the bid (lane 0) and ask (lane 1) side (information market).
MID, FILL, TREND, INFO = 0, 1, 2, 3
PURPOSES = {"mid": MID, "fill": FILL, "trend": TREND, "info": INFO}

_M0 = np.uint64(0xD2511F53)
_M1 = np.uint64(0xCD9E8D57)
_W0 = np.uint64(0x9E3779B9)
_W1 = np.uint64(0xBB67AE85)
_MASK = np.uint64(0xFFFFFFFF)
_S32 = np.uint64(32)
_S12 = np.uint64(12)
_HALF_ULP = 2.0**-53
_ONE_BITS = np.uint64(0x3FF0000000000000)
_BIG_BITS = np.uint64(0x4330000000000000)  # 2^52 as a double
_U20 = np.uint64(20)
_MANT_HI = np.uint64(0x000FFFFF)
_LOW32 = np.uint64(0xFFFFFFFF)
_C95F64 = np.uint64(0x95F64)
_BIT20 = np.uint64(0x100000)
_EXP_ONE = np.uint64(0x3FF00000)


@njit(cache=True, inline="always", error_model="numpy")
def philox4x32(c0, c1, c2, c3, k0, k1):
    """Philox4x32-10: four 32-bit counter words and two 32-bit key words (uint64 holding < 2^32) to four
    32-bit random words (as uint64). Ten rounds of two 32x32 -> 64-bit multiplications (the paper's Fig. 2)."""
    x0, x1, x2, x3 = np.uint64(c0), np.uint64(c1), np.uint64(c2), np.uint64(c3)
    a, b = np.uint64(k0), np.uint64(k1)
    for _ in range(10):
        p0 = _M0 * x0
        p1 = _M1 * x2
        hi0, lo0 = p0 >> _S32, p0 & _MASK
        hi1, lo1 = p1 >> _S32, p1 & _MASK
        x0, x1, x2, x3 = hi1 ^ x1 ^ a, lo1, hi0 ^ x3 ^ b, lo0
        a = (a + _W0) & _MASK
        b = (b + _W1) & _MASK
    return x0, x1, x2, x3


@njit(cache=True, inline="always", error_model="numpy")
def uniform_pair(k0, k1, step, purpose, stream, episode):
    """Two uniforms in (0, 1) for one address: 52 random bits each, (n + 1/2) 2^-52 (exact, never 0 or 1)."""
    x0, x1, x2, x3 = philox4x32(
        np.uint64(step), np.uint64(purpose), np.uint64(stream), np.uint64(episode), k0, k1
    )
    n0 = ((x0 << _S32) | x1) >> _S12
    n1 = ((x2 << _S32) | x3) >> _S12
    # 1 + n 2^-52 from its bits, minus 1 (exact), plus 2^-53: (n + 1/2) 2^-52 without an integer-to-float
    # conversion (AVX2 has none for 64-bit integers, so this form keeps the loops vectorized)
    return (_ubits_to_float(n0 | _ONE_BITS) - 1.0) + _HALF_ULP, (
        _ubits_to_float(n1 | _ONE_BITS) - 1.0
    ) + _HALF_ULP


# fdlibm constants (e_log.c, e_exp.c)
_LN2_HI = 6.93147180369123816490e-01
_LN2_LO = 1.90821492927058770002e-10
_LG1 = 6.666666666666735130e-01
_LG2 = 3.999999999940941908e-01
_LG3 = 2.857142874366239149e-01
_LG4 = 2.222219843214978396e-01
_LG5 = 1.818357216161805012e-01
_LG6 = 1.531383769920937332e-01
_LG7 = 1.479819860511658591e-01
_TINY = 2.2250738585072014e-308  # smallest normal
_TWO54 = 1.80143985094819840000e16
_INV_LN2 = 1.44269504088896338700e00
_P1 = 1.66666666666666019037e-01
_P2 = -2.77777777770155933842e-03
_P3 = 6.61375632143793436117e-05
_P4 = -1.65339022054652515390e-06
_P5 = 4.13813679705723846039e-08


@intrinsic
def _float_to_ubits(typingctx, x):
    """The IEEE-754 bits of a float64 as a uint64 (a reinterpretation, no conversion)."""
    sig = types.uint64(types.float64)

    def codegen(context, builder, signature, args):
        return builder.bitcast(args[0], context.get_value_type(types.uint64))

    return sig, codegen


@intrinsic
def _ubits_to_float(typingctx, x):
    """The float64 whose IEEE-754 bits are the uint64 ``x``."""
    sig = types.float64(types.uint64)

    def codegen(context, builder, signature, args):
        return builder.bitcast(args[0], context.get_value_type(types.float64))

    return sig, codegen


@njit(cache=True, inline="always", error_model="numpy")
def log_normal(x: float, k0: int = 0) -> float:
    """:func:`det_log` for a positive, finite, normal ``x`` (no special cases, no branch: loops over it
    vectorize; SIMD lanes perform the same IEEE operations as the scalar code, so the bits are the same).
    ``k0`` is added to the binary exponent (the subnormal rescaling of :func:`det_log`)."""
    ix = _float_to_ubits(x)
    hx = ix >> _S32
    e = hx >> _U20  # biased exponent (x > 0: no sign bit)
    hx &= _MANT_HI
    i = (hx + _C95F64) & _BIT20
    m = _ubits_to_float(((hx | (i ^ _EXP_ONE)) << _S32) | (ix & _LOW32))  # x / 2^k or x / 2^(k+1)
    # k = e - 1023 + (i >> 20) + k0 as an exact double (small integers; no 64-bit int-to-float conversion)
    dk = (_ubits_to_float((e + (i >> _U20)) | _BIG_BITS) - 4503599627370496.0) - (1023.0 - k0)
    f = m - 1.0
    s = f / (2.0 + f)
    z = s * s
    w = z * z
    t1 = w * (_LG2 + w * (_LG4 + w * _LG6))
    t2 = z * (_LG1 + w * (_LG3 + w * (_LG5 + w * _LG7)))
    r = t2 + t1
    hfsq = 0.5 * f * f
    return dk * _LN2_HI - ((hfsq - (s * (hfsq + r) + dk * _LN2_LO)) - f)


@njit(cache=True, inline="always", error_model="numpy")
def det_log(x: float) -> float:
    """Natural logarithm, fdlibm's ``__ieee754_log`` (error < 1 ulp), from IEEE basic operations only.

    x = 2^k m with m in [sqrt(1/2), sqrt(2)) (read from the bits, exact); f = m - 1, s = f / (2 + f);
    log(1 + f) = f - f^2/2 + s (f^2/2 + R(s^2)) with fdlibm's minimax R; log x = k ln 2 + log(1 + f).
    log(0) = -inf, log(x < 0) = NaN, log(inf) = inf.
    """
    if x >= _TINY and x < math.inf:
        return log_normal(x, 0)
    if x == 0.0:
        return -math.inf
    if not x > 0.0:
        return math.nan
    if x == math.inf:
        return x
    return log_normal(x * _TWO54, -54)  # subnormal: scale into the normal range (exact)


@njit(cache=True, error_model="numpy")
def det_exp(x: float) -> float:
    """Exponential, fdlibm's ``__ieee754_exp`` (error < 1 ulp), from IEEE basic operations and ``ldexp``.

    x = k ln 2 + r with |r| <= ln2 / 2; exp(r) = 1 + 2r / (2 - c) with c = r - r^2 P(r^2) (fdlibm's minimax
    P); exp x = 2^k exp(r).
    """
    if x != x:
        return x
    if x > 709.782712893384:
        return math.inf
    if x < -745.1332191019412:
        return 0.0
    k = int(_INV_LN2 * x + (-0.5 if x < 0.0 else 0.5))
    hi = x - k * _LN2_HI
    lo = k * _LN2_LO
    r = hi - lo
    t = r * r
    c = r - t * (_P1 + t * (_P2 + t * (_P3 + t * (_P4 + t * _P5))))
    y = 1.0 - ((lo - (r * c) / (2.0 - c)) - hi)
    return math.ldexp(y, k)


@njit(cache=True, error_model="numpy")
def det_log1p(x: float) -> float:
    """log(1 + x), accurate also for tiny x, from :func:`det_log` and IEEE basic operations only.

    Kahan's formula (Goldberg 1991, "What every computer scientist should know about floating-point
    arithmetic", theorem 4): u = 1 + x (rounded); log1p(x) = x if u == 1, else log(u) * (x / (u - 1)).
    The rounding of u cancels in the ratio, so the error is a few ulp. log1p(-1) = -inf, log1p(x < -1) =
    NaN, log1p(+-0) = +-0, log1p(inf) = inf.
    """
    u = 1.0 + x
    if u == 1.0:
        return x
    if u == math.inf:
        return u if x == math.inf else det_log(u) * (x / (u - 1.0))
    return det_log(u) * (x / (u - 1.0))


@njit(cache=True, error_model="numpy")
def det_expm1(x: float) -> float:
    """exp(x) - 1, accurate also for tiny x, from :func:`det_exp`, :func:`det_log` and IEEE basic operations.

    Kahan's formula: u = exp(x) (rounded); expm1(x) = x if u == 1, -1 if u - 1 == -1, else
    (u - 1) * x / log(u). The rounding of u cancels in the ratio (error a few ulp). For x > 40 the 1 is below
    half an ulp of exp(x) and exp(x) - 1 is returned directly. expm1(+-0) = +-0, expm1(-inf) = -1,
    expm1(inf) = inf.
    """
    if x > 40.0:
        return det_exp(x) - 1.0
    u = det_exp(x)
    if u == 1.0:
        return x
    um1 = u - 1.0
    if um1 == -1.0:
        return -1.0
    return um1 * (x / det_log(u))


@njit(cache=True, error_model="numpy")
def _map_inplace(code: int, x: np.ndarray, out: np.ndarray) -> None:
    """out[i] = f(x[i]) for f = (det_exp, det_log, det_log1p, det_expm1)[code] (one scalar call per element:
    the same bits as the scalar functions, whatever the SIMD width)."""
    for i in range(x.size):
        if code == 0:
            out[i] = det_exp(x[i])
        elif code == 1:
            out[i] = det_log(x[i])
        elif code == 2:
            out[i] = det_log1p(x[i])
        else:
            out[i] = det_expm1(x[i])


def _map(code: int, x: np.ndarray | float) -> np.ndarray | np.float64:
    a = np.asarray(x, dtype=np.float64, order="C")
    out = np.empty_like(a)
    _map_inplace(code, a.reshape(-1), out.reshape(-1))
    return out if out.ndim else out[()]


def det_exp_array(x: np.ndarray | float) -> np.ndarray | np.float64:
    """Element-wise :func:`det_exp` of an array (any shape, float64 result; a 0-d input gives a scalar):
    the deterministic replacement of ``np.exp``."""
    return _map(0, x)


def det_log_array(x: np.ndarray | float) -> np.ndarray | np.float64:
    """Element-wise :func:`det_log` (the deterministic ``np.log``); see :func:`det_exp_array`."""
    return _map(1, x)


def det_log1p_array(x: np.ndarray | float) -> np.ndarray | np.float64:
    """Element-wise :func:`det_log1p` (the deterministic ``np.log1p``); see :func:`det_exp_array`."""
    return _map(2, x)


def det_expm1_array(x: np.ndarray | float) -> np.ndarray | np.float64:
    """Element-wise :func:`det_expm1` (the deterministic ``np.expm1``); see :func:`det_exp_array`."""
    return _map(3, x)


@njit(cache=True, inline="always", error_model="numpy")
def _horner8(r: float, c7, c6, c5, c4, c3, c2, c1, c0) -> float:
    """(((c7 r + c6) r + c5) ... ) r + c0, in this order (the operation order of AS 241)."""
    v = c7 * r + c6
    v = v * r + c5
    v = v * r + c4
    v = v * r + c3
    v = v * r + c2
    v = v * r + c1
    return v * r + c0


@njit(cache=True, inline="always", error_model="numpy")
def normal_central(p: float) -> float:
    """AS 241's central approximation (valid for |p - 1/2| <= 0.425): a ratio of polynomials, no branch."""
    q = p - 0.5
    r = 0.180625 - q * q
    num = (
        _horner8(
            r,
            2.5090809287301226727e3,
            3.3430575583588128105e4,
            6.7265770927008700853e4,
            4.5921953931549871457e4,
            1.3731693765509461125e4,
            1.9715909503065514427e3,
            1.3314166789178437745e2,
            3.3871328727963666080e0,
        )
        * q
    )
    den = _horner8(
        r,
        5.2264952788528545610e3,
        2.8729085735721942674e4,
        3.9307895800092710610e4,
        2.1213794301586595867e4,
        5.3941960214247511077e3,
        6.8718700749205790830e2,
        4.2313330701600911252e1,
        1.0,
    )
    return num / den


@njit(cache=True, inline="always", error_model="numpy")
def normal_icdf(p: float) -> float:
    """Standard normal quantile, Wichura's AS 241 (PPND16, relative error ~1e-16), p in (0, 1).

    Three rational approximations: |p - 1/2| <= 0.425 (85% of draws: no logarithm), then in
    r = sqrt(-log(min(p, 1 - p))) for r <= 5 and beyond. Same coefficients and operation order as
    CPython's pure-Python ``statistics`` fallback (``_normal_dist_inv_cdf``); the test compares them.
    """
    if abs(p - 0.5) <= 0.425:
        return normal_central(p)
    return normal_tail(p)


@njit(cache=True, inline="always", error_model="numpy")
def normal_tail(p: float) -> float:
    """AS 241's two tail approximations (|p - 1/2| > 0.425), in r = sqrt(-log(min(p, 1 - p)))."""
    q = p - 0.5
    r = p if q <= 0.0 else 1.0 - p
    r = math.sqrt(-det_log(r))
    if r <= 5.0:
        r = r - 1.6
        num = _horner8(
            r,
            7.74545014278341407640e-4,
            2.27238449892691845833e-2,
            2.41780725177450611770e-1,
            1.27045825245236838258e0,
            3.64784832476320460504e0,
            5.76949722146069140550e0,
            4.63033784615654529590e0,
            1.42343711074968357734e0,
        )
        den = _horner8(
            r,
            1.05075007164441684324e-9,
            5.47593808499534494600e-4,
            1.51986665636164571966e-2,
            1.48103976427480074590e-1,
            6.89767334985100004550e-1,
            1.67638483018380384940e0,
            2.05319162663775882187e0,
            1.0,
        )
    else:
        r = r - 5.0
        num = _horner8(
            r,
            2.01033439929228813265e-7,
            2.71155556874348757815e-5,
            1.24266094738807843860e-3,
            2.65321895265761230930e-2,
            2.96560571828504891230e-1,
            1.78482653991729133580e0,
            5.46378491116411436990e0,
            6.65790464350110377720e0,
        )
        den = _horner8(
            r,
            2.04426310338993978564e-15,
            1.42151175831644588870e-7,
            1.84631831751005468180e-5,
            7.86869131145613259100e-4,
            1.48753612908506148525e-2,
            1.36929880922735805310e-1,
            5.99832206555887937690e-1,
            1.0,
        )
    x = num / den
    return -x if q < 0.0 else x


def new_key(rng: np.random.Generator) -> np.uint64:
    """A 64-bit key from the env's generator (one draw)."""
    return np.uint64(rng.integers(0, 2**64, dtype=np.uint64))


def key_words(key: np.uint64 | int) -> tuple[np.uint64, np.uint64]:
    """The key as its two 32-bit words (low, high), the form the kernels take."""
    k = int(key)
    return np.uint64(k & 0xFFFFFFFF), np.uint64(k >> 32)


@njit(cache=True, error_model="numpy")
def _uniforms(k0, k1, stream, episode, step, purpose, out):
    for i in range(stream.shape[0]):
        out[i, 0], out[i, 1] = uniform_pair(k0, k1, step[i], purpose, stream[i], episode[i])


def uniforms(
    key: np.uint64 | int, stream: np.ndarray, episode: np.ndarray, step: np.ndarray, purpose: int
) -> np.ndarray:
    """The two uniforms of each address (arrays broadcast to a common shape (M,)): (M, 2) float64."""
    s, e, t = np.broadcast_arrays(
        np.asarray(stream, np.int64), np.asarray(episode, np.int64), np.asarray(step, np.int64)
    )
    out = np.empty((s.size, 2))
    k0, k1 = key_words(key)
    _uniforms(k0, k1, s.ravel(), e.ravel(), t.ravel(), int(purpose), out)
    return out
