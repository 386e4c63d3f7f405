"""Every built-in strategy runs compiled in the replay (its ``quote_rule()``, ``touch_rule()`` or
``jit_policy()``), and gives the same records, bit for bit, as its Python ``quote`` on the reference path,
on a slice of the real Binance sample."""

from __future__ import annotations

import functools
from types import SimpleNamespace

import numpy as np
import pytest

from agents import ExactOptimumAgent, TouchAgent
from agents.intensity_quotes import IntensityASAgent, IntensityGLFTAgent
from mmenv.replay.engine import ReplayConfig, compiled_rule, replay
from mmenv.replay.jit_policy import as_jit_policy
from mmenv.studies.strategies import TAPE_STRATEGIES, tape_policies

CAL = SimpleNamespace(A=2.0, k=5.0, sigma=7.5)


def _power_law(depth):
    """A non-exponential intensity (orders / s at depth in price units)."""
    return 3.0 / (1.0 + np.asarray(depth, dtype=np.float64) / 0.15) ** 2.5


def _builtins():
    pols = tape_policies(TAPE_STRATEGIES, CAL, max_lots=4, risk_aversion=0.5, horizon=60.0, s0=61800.0)
    pols["touch1"] = TouchAgent(1)
    pols["as-power"] = IntensityASAgent(_power_law, gamma=2e-3, sigma=7.5, min_depth=0.05, max_depth=3.0)
    pols["glft-power"] = IntensityGLFTAgent(_power_law, gamma=2e-3, sigma=7.5, q_max=4, start_depth=0.1)
    pols["exact"] = ExactOptimumAgent(A=2.0, k=5.0, T=60.0, dt=1.0, q_max=4.0, phi=1e-3, max_depth=4.0)
    return pols


BUILTINS = _builtins()


@functools.cache
def _tape(paths):
    from mmenv.data.loaders import load_binance

    return load_binance(*paths).slice(0, 15_000)


@pytest.mark.parametrize("name", sorted(BUILTINS))
def test_builtin_is_compiled_and_equals_its_python_quotes(name, binance_sample):
    pol = BUILTINS[name]
    assert compiled_rule(pol) is not None or as_jit_policy(pol) is not None, name
    tape = _tape(tuple(binance_sample))
    cfg = ReplayConfig(order_size=0.01, q_max=0.04, sigma=7.5, horizon_s=30.0, entry_latency_s=0.001)
    fast = replay(pol, tape, cfg, path="fast")
    ref = replay(pol, tape, cfg, path="reference")
    assert fast.n_decisions == ref.n_decisions > 1000
    for rec in ("fills", "states"):
        a, b = getattr(fast, rec), getattr(ref, rec)
        assert len(a) == len(b), rec
        for field in a.dtype.names:
            np.testing.assert_array_equal(a[field], b[field], err_msg=f"{name}: {rec}.{field}")
    assert len(fast.fills) > 10, name
    assert fast.pnl == ref.pnl
