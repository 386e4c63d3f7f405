"""The counter-based generator (mmenv/counter_rng.py): exact integers, deterministic transforms, quality.

What is compared bit for bit, and why it holds on every CPU:

* Philox4x32-10's output words: integer arithmetic (32x32 -> 64-bit products, xor, masks), exact everywhere;
  checked against the known-answer vectors of Random123 (the reference implementation).
* The uniforms: (52-bit integer + 1/2) * 2^-52, exact in IEEE double.
* det_log / det_exp / normal_icdf: IEEE-754 basic operations only (correctly rounded by the standard), no
  fused multiply-add (numba without fastmath emits none; checked in the assembly below), no libm call and no
  SIMD library routine (whose results depend on the vector width and CPU dispatch): the same inputs give
  the same bits on any IEEE-754 machine. The golden values below were computed once and must never change.
"""

from __future__ import annotations

import math
import statistics

import numba as nb
import numpy as np
import pytest

from mmenv.counter_rng import (
    FILL,
    MID,
    det_exp,
    det_exp_array,
    det_expm1,
    det_expm1_array,
    det_log,
    det_log1p,
    det_log1p_array,
    det_log_array,
    key_words,
    new_key,
    normal_icdf,
    philox4x32,
    uniforms,
)


@nb.njit
def _philox(c, k):
    return philox4x32(c[0], c[1], c[2], c[3], k[0], k[1])


@pytest.mark.parametrize(
    "ctr, key, expected",
    [  # Random123 kat_vectors, philox4x32 with 10 rounds
        ((0, 0, 0, 0), (0, 0), (0x6627E8D5, 0xE169C58D, 0xBC57AC4C, 0x9B00DBD8)),
        ((0xFFFFFFFF,) * 4, (0xFFFFFFFF,) * 2, (0x408F276D, 0x41C83B0E, 0xA20BC7C6, 0x6D5451FD)),
        (
            (0x243F6A88, 0x85A308D3, 0x13198A2E, 0x03707344),
            (0xA4093822, 0x299F31D0),
            (0xD16CFE09, 0x94FDCCEB, 0x5001E420, 0x24126EA1),
        ),
    ],
)
def test_philox_known_answers(ctr, key, expected):
    got = _philox(np.array(ctr, np.uint64), np.array(key, np.uint64))
    assert tuple(int(x) for x in got) == expected


@nb.njit
def _apply(kind, x):
    out = np.empty_like(x)
    for i in range(x.shape[0]):
        if kind == 0:
            out[i] = det_log(x[i])
        elif kind == 1:
            out[i] = det_exp(x[i])
        else:
            out[i] = normal_icdf(x[i])
    return out


def _ulps(a, b):
    return np.abs(a - b) / np.spacing(np.abs(b))


def test_det_log_and_exp_within_one_ulp_of_libm():
    rng = np.random.default_rng(0)
    x = np.concatenate(
        [
            np.exp(rng.uniform(-700, 700, 20_000)),
            rng.uniform(0.5, 2.0, 20_000),
            1 + rng.uniform(-1e-6, 1e-6, 2000),
        ]
    )
    x = x[x != 1.0]
    assert _ulps(_apply(0, x), np.log(x)).max() <= 1.0
    y = np.concatenate([rng.uniform(-700, 700, 20_000), rng.uniform(-1, 1, 20_000)])
    assert _ulps(_apply(1, y), np.exp(y)).max() <= 1.0
    special = _apply(0, np.array([0.0, -1.0, np.inf, 1.0, 5e-324, 2.0**-1074 * 3]))
    assert special[0] == -np.inf and np.isnan(special[1]) and special[2] == np.inf and special[3] == 0.0
    np.testing.assert_allclose(special[4:], np.log([5e-324, 2.0**-1074 * 3]), rtol=1e-15)


def test_det_log1p_and_expm1_within_a_few_ulp_of_libm():
    """Kahan's log1p / expm1 from det_log / det_exp: a few ulp from the exact value (about 2.3 ulp at most
    over such samples against a 200-bit reference), so within 4 ulp of the libm (itself < 1 ulp)."""
    rng = np.random.default_rng(2)
    x = np.concatenate(
        [
            rng.uniform(-1, 1, 20_000),
            rng.uniform(-1e-3, 1e-3, 5000),
            10.0 ** rng.uniform(-300, 300, 5000),
            -(10.0 ** rng.uniform(-300, -1e-4, 5000)),
            -1 + 10.0 ** rng.uniform(-15, -1, 3000),
        ]
    )
    assert _ulps(det_log1p_array(x), np.log1p(x)).max() <= 4.0
    y = np.concatenate(
        [
            rng.uniform(-1, 1, 20_000),
            rng.uniform(-1e-3, 1e-3, 5000),
            10.0 ** rng.uniform(-300, 2.8, 5000),
            -(10.0 ** rng.uniform(-300, 2.8, 5000)),
            rng.uniform(-745, 709, 5000),
        ]
    )
    assert _ulps(det_expm1_array(y), np.expm1(y)).max() <= 4.0


def test_det_log1p_and_expm1_special_values():
    for x in (0.0, -0.0, 5e-324, -5e-324, 1e-300):
        assert det_log1p(x) == x and math.copysign(1, det_log1p(x)) == math.copysign(1, x)
        assert det_expm1(x) == x and math.copysign(1, det_expm1(x)) == math.copysign(1, x)
    assert det_log1p(-1.0) == -math.inf and det_log1p(math.inf) == math.inf
    assert (
        math.isnan(det_log1p(-1.5)) and math.isnan(det_log1p(-math.inf)) and math.isnan(det_log1p(math.nan))
    )
    assert det_expm1(-math.inf) == -1.0 and det_expm1(math.inf) == math.inf and det_expm1(710.0) == math.inf
    assert det_expm1(-50.0) == -1.0 and math.isnan(det_expm1(math.nan))
    assert det_log1p(1.7976931348623157e308) == det_log(1.7976931348623157e308)


def test_array_versions_are_the_scalar_functions():
    rng = np.random.default_rng(3)
    x = rng.uniform(-0.9, 3.0, (3, 5))
    for vec, scalar in ((det_exp_array, det_exp), (det_log1p_array, det_log1p), (det_expm1_array, det_expm1)):
        got = vec(x)
        assert got.shape == x.shape and got.dtype == np.float64
        np.testing.assert_array_equal(got, np.vectorize(scalar)(x))
    np.testing.assert_array_equal(det_log_array(np.abs(x)), np.vectorize(det_log)(np.abs(x)))
    assert np.ndim(det_exp_array(1.0)) == 0 and det_exp_array(1.0) == det_exp(1.0)
    assert det_log1p_array([0.5, 1.0]).tolist() == [det_log1p(0.5), det_log1p(1.0)]


def test_normal_icdf_is_as241():
    """Same operations as CPython's pure-Python AS 241: identical bits where no logarithm is involved
    (|p - 1/2| <= 0.425), within 1e-13 relative in the tails (there CPython calls the platform's libm)."""
    rng = np.random.default_rng(1)
    p = np.concatenate([rng.uniform(0, 1, 20_000), 10.0 ** rng.uniform(-300, -1.2, 2000)])
    ref = np.array([statistics._normal_dist_inv_cdf(v, 0.0, 1.0) for v in p])
    got = _apply(2, p)
    central = np.abs(p - 0.5) <= 0.425
    np.testing.assert_array_equal(got[central], ref[central])
    np.testing.assert_allclose(got[~central], ref[~central], rtol=1e-13)


def test_no_fused_multiply_add_in_the_transforms():
    asm = "".join(_apply.inspect_asm().values()).lower()
    for fn in (det_exp, det_log1p, det_expm1):  # fresh, uncached compilations (cached code has no asm)
        fresh = nb.njit(fn.py_func, error_model="numpy")
        fresh(0.5)
        asm += "".join(fresh.inspect_asm().values()).lower()
    assert "ret" in asm and "vfmadd" not in asm and "vfmsub" not in asm and "vfnmadd" not in asm


def test_golden_values_bit_for_bit():
    """Frozen outputs: any CPU, any N, any thread count must give exactly these numbers."""
    u = uniforms(0x0123456789ABCDEF, np.array([0, 1, 7, 123_456]), 3, 11, FILL)
    assert [x.hex() for x in u.ravel()] == GOLDEN_UNIFORMS
    z = _apply(2, u[:, 0].copy())
    e = _apply(0, u[:, 1].copy())
    assert [x.hex() for x in z] == GOLDEN_NORMALS
    assert [x.hex() for x in e] == GOLDEN_LOGS


GOLDEN_UNIFORMS = [
    "0x1.e4ea6d84a5ddfp-1",
    "0x1.de9fb737ee1bap-2",
    "0x1.93457023aa0fcp-3",
    "0x1.f800a5d40eaf4p-3",
    "0x1.d38f475055930p-5",
    "0x1.776aa2b2b29fcp-3",
    "0x1.9bd516af5efa5p-1",
    "0x1.1565e938bb34fp-1",
]
GOLDEN_NORMALS = [
    "0x1.9e0c1e6db183bp+0",
    "-0x1.b4968a463ab6bp-1",
    "-0x1.946e72df450dep+0",
    "0x1.b6efde07b8b16p-1",
]
GOLDEN_LOGS = [
    "-0x1.8567b09cec502p-1",
    "-0x1.66ebf14ae32c3p+0",
    "-0x1.b2533fed1a2a6p+0",
    "-0x1.39ca3a6365dbap-1",
]


def test_keys_and_addresses():
    rng = np.random.default_rng(3)
    k = new_key(rng)
    assert k == new_key(np.random.default_rng(3))
    k0, k1 = key_words(k)
    assert int(k0) | (int(k1) << 32) == int(k)
    a = uniforms(k, np.arange(4), 0, 5, MID)
    np.testing.assert_array_equal(a, uniforms(k, np.arange(4), 0, 5, MID))  # reproducible
    for other in (
        uniforms(k, np.arange(4), 1, 5, MID),
        uniforms(k, np.arange(4), 0, 6, MID),
        uniforms(k, np.arange(4), 0, 5, FILL),
        uniforms(int(k) ^ 1, np.arange(4), 0, 5, MID),
    ):
        assert not np.any(a == other)  # every part of the address changes every number
    assert np.all((a > 0) & (a < 1))


# ---------------------------------------------------------------- statistical sanity (TestU01-style)
def _sample(streams=400, steps=500, purpose=FILL):
    s, t = np.meshgrid(np.arange(streams), np.arange(steps), indexing="ij")
    return uniforms(42, s.ravel(), 0, t.ravel(), purpose).reshape(streams, steps, 2)


def _chi2_p(counts):
    from scipy.stats import chi2

    exp = counts.sum() / counts.size
    stat = ((counts - exp) ** 2 / exp).sum()
    return chi2.sf(stat, counts.size - 1)


def test_equidistribution_and_serial_pairs():
    u = _sample()
    flat = u.ravel()
    assert _chi2_p(np.bincount((flat * 1000).astype(int), minlength=1000)) > 1e-4  # frequency test
    x, y = u[:, :-1, 0].ravel(), u[:, 1:, 0].ravel()  # consecutive steps of a stream
    assert _chi2_p(np.bincount((x * 32).astype(int) * 32 + (y * 32).astype(int), minlength=1024)) > 1e-4
    a, b = u[:-1, :, 0].ravel(), u[1:, :, 0].ravel()  # neighbouring streams, same step
    assert _chi2_p(np.bincount((a * 32).astype(int) * 32 + (b * 32).astype(int), minlength=1024)) > 1e-4
    lanes = (u[..., 0] * 32).astype(int) * 32 + (u[..., 1] * 32).astype(int)  # the two lanes of one draw
    assert _chi2_p(np.bincount(lanes.ravel(), minlength=1024)) > 1e-4


def test_bits_are_fair_and_streams_uncorrelated():
    u = _sample(200, 2000)
    n = (u[..., 0].ravel() * 2.0**52).astype(np.uint64)
    bits = (n[:, None] >> np.arange(52, dtype=np.uint64)) & np.uint64(1)
    freq = bits.mean(axis=0)
    assert np.abs(freq - 0.5).max() < 5 * 0.5 / math.sqrt(n.size)  # every bit: 1/2 within 5 SE
    c = np.corrcoef(u[:50, :, 0])  # 50 streams x 2000 steps
    off = c[~np.eye(50, dtype=bool)]
    assert np.abs(off).max() < 5 / math.sqrt(2000)
    # independence of a stream from the next purpose and from its own lag-1 value
    assert abs(np.corrcoef(u[..., 0].ravel(), _sample(200, 2000, MID)[..., 0].ravel())[0, 1]) < 5 / math.sqrt(
        4e5
    )
    assert abs(np.corrcoef(u[:, 1:, 0].ravel(), u[:, :-1, 0].ravel())[0, 1]) < 5 / math.sqrt(4e5)


def test_birthday_spacings():
    """Marsaglia's birthday spacings (TestU01 smarsa_BirthdaySpacings, small): m birthdays in a year of
    d days; the number of repeated spacings is Poisson(m^3 / (4 d))."""
    from scipy.stats import poisson

    m, d = 1024, 2**32
    lam = m**3 / (4 * d)  # 0.0625 per sample: pool 200 samples -> Poisson(12.5)
    u = uniforms(7, np.arange(200 * m), 0, 0, MID)[:, 0]
    days = np.sort((u * d).astype(np.int64).reshape(200, m), axis=1)
    sp = np.sort(np.diff(days, axis=1), axis=1)
    repeats = int((np.diff(sp, axis=1) == 0).sum())
    lo, hi = poisson.ppf(1e-4, 200 * lam), poisson.ppf(1 - 1e-4, 200 * lam)
    assert lo <= repeats <= hi


def test_normal_draws_have_normal_moments():
    u = _sample(400, 500, MID)[..., 0].ravel()
    z = _apply(2, u)
    n = z.size
    assert abs(z.mean()) < 4 / math.sqrt(n)
    assert abs(z.var() - 1) < 4 * math.sqrt(2 / n)
    assert abs((z**3).mean()) < 4 * math.sqrt(15 / n)
    assert abs((z**4).mean() - 3) < 4 * math.sqrt(96 / n)
