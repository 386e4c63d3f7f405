"""The signals of mmenv.signals.features: causal (row i from events 0..i), finite and bounded, and equal to a
brute-force computation of their formulas."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from mmenv.data.tape import Tape
from mmenv.signals import FeatureSpec, compute_features, fit_microprice


def random_tape(seed: int, n: int, tick: float = 0.5) -> Tape:
    """A tape of n events: quotes moving the book by whole ticks, trades in between, times with ties."""
    rng = np.random.default_rng(seed)
    kind = (rng.random(n) < 0.3).astype(np.int8)
    bid = 100.0 + tick * np.cumsum(rng.integers(-1, 2, n) * (kind == 0))
    spread = tick * rng.integers(1, 4, n)
    ask = bid + spread
    bq = rng.integers(1, 20, n).astype(float)
    aq = rng.integers(1, 20, n).astype(float)
    side = np.where(kind == 1, rng.choice([-1, 1], n), 0).astype(np.int8)
    tq = np.where(kind == 1, rng.integers(1, 5, n).astype(float), np.nan)
    tpx = np.where(kind == 1, np.where(side > 0, ask, bid), np.nan)
    time = np.cumsum(rng.integers(0, 400_000_000, n)).astype(np.int64)  # 0 to 0.4 s apart, ties included
    return Tape(time, kind, bid, bq, ask, aq, tpx, tq, side, tick=tick)


def perturbed_after(tape: Tape, i: int, seed: int) -> Tape:
    """``tape`` with every event after i replaced by those of another random tape (time kept increasing)."""
    other = random_tape(seed, len(tape), tape.tick)
    cols = {}
    for c in ("time", "kind", "bid_px", "bid_qty", "ask_px", "ask_qty", "trade_px", "trade_qty", "side"):
        a = getattr(tape, c).copy()
        b = getattr(other, c)
        if c == "time":
            b = b - b[i + 1] + a[i]
        a[i + 1 :] = b[i + 1 :]
        cols[c] = a
    return Tape(**cols, tick=tape.tick)


def spec_for(tape: Tape) -> FeatureSpec:
    """Windows of 0.5 s and 3 s, and a micro-price table fitted on ``tape`` (a tape whose mid never moves
    after a quote has none to fit: the table of a longer tape then)."""
    fit_on = tape if len(tape) >= 200 else random_tape(0, 500, tape.tick)
    return FeatureSpec(ofi_windows_s=(0.5, 3.0), flow_windows_s=(1.0,), micro=fit_microprice(fit_on, 4, 3, 3))


@settings(max_examples=40, deadline=None)
@given(seed=st.integers(0, 2**32 - 1), n=st.integers(5, 300), frac=st.floats(0.0, 1.0))
def test_row_i_depends_on_events_up_to_i_only(seed, n, frac):
    tape = random_tape(seed, n)
    spec = spec_for(tape)
    _, full = compute_features(tape, spec)
    i = min(n - 2, int(frac * (n - 1)))
    _, cut = compute_features(tape.slice(0, i + 1), spec)
    np.testing.assert_array_equal(cut, full[: i + 1])
    _, pert = compute_features(perturbed_after(tape, i, seed + 1), spec)
    np.testing.assert_array_equal(pert[: i + 1], full[: i + 1])


def brute_force(tape: Tape, spec: FeatureSpec) -> np.ndarray:
    """The module docstring's formulas, one row at a time, in plain Python."""
    n, t = len(tape), tape.time
    e = np.zeros(n)
    for k in range(1, n):
        pb, pa, b0, a0 = tape.bid_px[k], tape.ask_px[k], tape.bid_px[k - 1], tape.ask_px[k - 1]
        e[k] = (
            (pb >= b0) * tape.bid_qty[k]
            - (pb <= b0) * tape.bid_qty[k - 1]
            - (pa <= a0) * tape.ask_qty[k]
            + (pa >= a0) * tape.ask_qty[k - 1]
        )
    rows = []
    last = 0
    for i in range(n):
        r = [(tape.bid_qty[i] - tape.ask_qty[i]) / (tape.bid_qty[i] + tape.ask_qty[i])]
        s = round((tape.ask_px[i] - tape.bid_px[i]) / tape.tick)
        if spec.micro is not None:
            imb = tape.bid_qty[i] / (tape.bid_qty[i] + tape.ask_qty[i])
            b = min(int(imb * spec.micro.n_imbalance), spec.micro.n_imbalance - 1)
            g = spec.micro.g_ticks[b, min(s, spec.micro.n_spread) - 1]
            r.append(float(g))
        for w in spec.ofi_windows_s:
            j = (t <= t[i]) & (t > t[i] - w * 1e9) & (np.arange(n) <= i)
            den = np.abs(e[j]).sum()
            r.append(e[j].sum() / den if den > 0 else 0.0)
        for w in spec.flow_windows_s:
            j = (t > t[i] - w * 1e9) & (np.arange(n) <= i) & (tape.kind == 1)
            v = tape.trade_qty[j].sum()
            r.append((tape.side[j] * tape.trade_qty[j]).sum() / v if v > 0 else 0.0)
        r.append(min(spec.spread_cap, s))
        if i == 0 or tape.mid[i] != tape.mid[i - 1]:
            last = t[i]
        r.append(min(spec.max_age_s, (t[i] - last) * 1e-9))
        rows.append(r)
    return np.array(rows)


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_features_match_their_formulas(seed):
    tape = random_tape(seed, 400)
    spec = spec_for(tape)
    names, m = compute_features(tape, spec)
    assert names == ["imbalance", "micro_ticks", "ofi_0.5s", "ofi_3s", "flow_1s", "spread_ticks", "mid_age_s"]
    np.testing.assert_allclose(m, brute_force(tape, spec), rtol=0, atol=1e-12)
    assert m.dtype == np.float64 and m.flags.c_contiguous and np.isfinite(m).all()


def test_bounds_on_a_long_tape():
    tape = random_tape(7, 20_000)
    spec = FeatureSpec(spread_cap=2, max_age_s=0.5)
    names, m = compute_features(tape, spec)
    col = {n: m[:, k] for k, n in enumerate(names)}
    for n in ("imbalance", "ofi_1s", "ofi_10s", "flow_1s", "flow_10s"):
        assert (np.abs(col[n]) <= 1.0).all(), n
    assert col["spread_ticks"].min() >= 1 and col["spread_ticks"].max() == 2
    assert col["mid_age_s"].min() >= 0 and col["mid_age_s"].max() <= 0.5
    # the sliding sums are exact after long runs: the last row equals a fresh computation of it
    _, tail = compute_features(tape.slice(0, len(tape)), spec)
    np.testing.assert_array_equal(tail[-1], m[-1])


@pytest.mark.parametrize(
    ("kw", "field"),
    [
        ({"ofi_windows_s": (0.0,)}, "ofi_windows_s"),
        ({"flow_windows_s": (float("nan"),)}, "flow_windows_s"),
        ({"spread_cap": 0}, "spread_cap"),
        ({"max_age_s": -1.0}, "max_age_s"),
        ({"micro": "table"}, "micro"),
    ],
)
def test_spec_names_the_bad_field(kw, field):
    with pytest.raises(ValueError, match=field):
        FeatureSpec(**kw)


def test_empty_and_bad_inputs():
    tape = random_tape(0, 10)
    names, m = compute_features(tape.slice(0, 0))
    assert m.shape == (0, len(names))
    with pytest.raises(ValueError, match="tape must be a Tape"):
        compute_features("tape.csv")
    with pytest.raises(ValueError, match="spec must be a FeatureSpec"):
        compute_features(tape, {"ofi_windows_s": (1.0,)})


@pytest.mark.parametrize("key", ["lobster", "binance"])
def test_real_samples_give_finite_bounded_signals(key):
    from tests.conftest import SAMPLE_FILES

    if key not in SAMPLE_FILES:
        pytest.skip(f"the shared sample {key!r} is absent")
    from mmenv.data.loaders import load_binance, load_lobster

    tape = (load_lobster if key == "lobster" else load_binance)(*SAMPLE_FILES[key]).slice(0, 8000)
    ins = tape.slice(0, 4000)
    spec = FeatureSpec(micro=fit_microprice(ins))
    names, m = compute_features(tape, spec)
    assert np.isfinite(m).all()
    k = names.index("micro_ticks")
    assert (np.abs(m[:, k]) <= np.abs(spec.micro.g_ticks).max()).all()
    assert (np.abs(m[:, [names.index(c) for c in ("imbalance", "ofi_1s", "flow_10s")]]) <= 1).all()
