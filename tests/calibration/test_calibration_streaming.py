"""Calibration of long bar files from streamed sufficient statistics (memory of one chunk)."""

from __future__ import annotations

import numpy as np
import pytest

from mmenv.calibration import calibrate
from mmenv.calibration.streaming import calibrate_streamed, stream_ticks
from mmenv.data import synthetic_bars


@pytest.fixture(scope="module")
def bars():
    return synthetic_bars(3, seed=4)  # 1,170 bars


def test_streamed_fit_equals_the_likelihood_maximum_of_all_trades(bars):
    st = stream_ticks(bars, seed=1, chunk_bars=200, keep_trades=10**9)  # every chunk kept
    assert st.n_chunks == 6 and st.kept_chunks == 6 and st.sample.ticks.depth.size == st.n
    streamed = calibrate_streamed(st)
    direct = calibrate(st.sample)  # the optimiser on the same trades
    assert streamed.intensity.A == pytest.approx(direct.intensity.A, rel=1e-7)
    assert streamed.intensity.k == pytest.approx(direct.intensity.k, rel=1e-7)
    assert streamed.intensity.k_se == pytest.approx(direct.intensity.k_se, rel=1e-4)
    assert streamed.intensity.loglik == pytest.approx(direct.intensity.loglik, rel=1e-9)
    # sigma: chunk edges are piece edges, otherwise the same realised variance
    assert streamed.sigma == pytest.approx(direct.sigma, rel=0.02)


def test_kept_chunks_are_a_systematic_sample(bars):
    st = stream_ticks(bars, seed=1, chunk_bars=200, keep_trades=6000)
    assert st.n_chunks == 6 and st.kept_chunks == 2  # every third chunk: ~6,000 of ~17,500 trades
    res = calibrate_streamed(st)
    assert res.intensity.n_trades == st.n > st.sample.ticks.depth.size
    # the truth of the tick model is recovered within 4 standard errors
    assert abs(res.intensity.k - st.k) < 4 * res.intensity.k_se
    assert abs(res.intensity.A - st.A) < 4 * res.intensity.A_se
    seg = st.sample.mid_segments()
    assert len(np.unique(seg)) >= 2  # the two kept chunks are not one continuous path


def test_bad_arguments(bars):
    with pytest.raises(ValueError, match="chunk_bars"):
        stream_ticks(bars, chunk_bars=1)
    with pytest.raises(ValueError, match="keep_trades"):
        stream_ticks(bars, keep_trades=0)


def test_unbounded_ticks_per_bar_is_refused_before_allocating(bars):
    import tracemalloc

    from mmenv.data.ticks import MAX_TICKS_PER_BAR, synthesize_ticks

    tracemalloc.start()
    with pytest.raises(ValueError, match=f"hi <= {MAX_TICKS_PER_BAR} trades per bar"):
        synthesize_ticks(bars, (4, 10**9))
    peak = tracemalloc.get_traced_memory()[1]
    tracemalloc.stop()
    assert peak < 10 * 2**20  # nothing of the size of 10^9 trades per bar was allocated
