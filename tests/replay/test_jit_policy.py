"""A compiled policy (:mod:`mmenv.replay.jit_policy`) in the replay: the compiled loop, the reference path
(its Python function) and the same strategy written as an ordinary Python policy give the same records bit
for bit on a real tape, with features, memory and latency; the state vector holds what its slots say."""

from __future__ import annotations

import itertools
import math

import numpy as np
import pytest

from mmenv.jit import njit
from mmenv.replay import jit_policy as jp
from mmenv.replay import kernel as kn
from mmenv.replay.engine import ReplayConfig, replay
from mmenv.replay.jit_policy import JitPolicy


@njit
def ema_skew(state, features, params, memory, out):
    """Depths ``params[0]`` ticks, skewed by inventory and by the mid's distance from its EMA (weight
    ``params[1]``, in ``memory``), skewed by the first feature (ticks) when there is one."""
    if memory[1] == 0.0:
        memory[0] = state[jp.J_MID]
        memory[1] = 1.0
    else:
        memory[0] += params[1] * (state[jp.J_MID] - memory[0])
    tick = state[jp.J_TICK]
    d = params[0] * tick
    sk = 0.1 * state[jp.J_Q] * tick + (state[jp.J_MID] - memory[0])
    f = features[0] * tick if features.shape[0] > 0 else 0.0
    out[0] = d + sk + f
    out[1] = d - sk - f if state[jp.J_Q] > -3.0 else math.nan  # withdraws the ask when short 3 lots


class EmaSkew:
    """The same strategy as an ordinary Python policy, from :class:`mmenv.policy.QuoteState`."""

    name = "ema_skew_py"

    def __init__(self, ticks: float, w: float) -> None:
        self.ticks, self.w = ticks, w

    def reset(self, num_paths: int = 1) -> None:
        self.ema = None

    def quote(self, s):
        mid, q = float(s.mid[0]), float(s.q[0])
        self.ema = mid if self.ema is None else self.ema + self.w * (mid - self.ema)
        tick = s.book.tick
        d = self.ticks * tick
        sk = 0.1 * q * tick + (mid - self.ema)
        f = s.features[0] * tick if s.features is not None and s.features.shape[0] > 0 else 0.0
        return np.array([d + sk + f]), np.array([d - sk - f if q > -3.0 else math.nan])


def _same(a, b) -> None:
    for rec in ("fills", "states"):
        x, y = getattr(a, rec), getattr(b, rec)
        assert len(x) == len(y), rec
        for name in x.dtype.names:
            np.testing.assert_array_equal(x[name], y[name], err_msg=f"{rec}.{name}")
    assert a.n_decisions == b.n_decisions


@pytest.fixture
def tape(binance_sample):
    from mmenv.data.loaders import load_binance

    return load_binance(*binance_sample).slice(0, 20_000)


@pytest.mark.parametrize(("latency", "with_features"), [(0.0, False), (0.002, True)])
def test_compiled_policy_equals_its_python_function_and_the_python_policy(tape, latency, with_features):
    cfg = ReplayConfig(order_size=0.01, q_max=0.05, sigma=7.5, entry_latency_s=latency, maker_fee_bps=-0.5)
    rng = np.random.default_rng(7)
    feats = np.cumsum(rng.normal(size=(len(tape), 2)), axis=0) * 0.05 if with_features else None
    pol = JitPolicy(ema_skew, params=[3.0, 0.05], memory_size=2)
    fast = replay(pol, tape, cfg, features=feats)
    assert len(fast.fills) > 50 and fast.strategy == "ema_skew"
    _same(fast, replay(pol, tape, cfg, features=feats, path="reference"))
    _same(fast, replay(EmaSkew(3.0, 0.05), tape, cfg, features=feats))
    # memory starts at zero on every replay: a second run is the same
    _same(fast, replay(pol, tape, cfg, features=feats, path="fast"))
    # chunking changes nothing (the features row follows the event across chunks)
    small = ReplayConfig(**{**cfg.to_dict(), "chunk_size": 777, "fill_capacity": 8, "state_capacity": 64})
    _same(fast, replay(pol, tape, small, features=feats))
    if with_features:  # the features matter
        assert not np.array_equal(
            fast.fills["price"], replay(pol, tape, cfg).fills["price"][: len(fast.fills)]
        )


@njit
def _copy_state(state, features, params, memory, out):
    for j in range(state.shape[0]):
        memory[j] = state[j]
    out[0] = 2.0 * state[jp.J_TICK]
    out[1] = 2.0 * state[jp.J_TICK]


def test_state_vector_slots_hold_what_the_python_policy_sees(tape):
    cfg = ReplayConfig(order_size=0.01, q_max=0.05, sigma=7.5, horizon_s=30.0, entry_latency_s=0.001)
    pol = JitPolicy(_copy_state, memory_size=jp.N_STATE)
    seen = []

    def observe(state):
        s0 = state.st[kn.S_S0] if not math.isnan(state.st[kn.S_S0]) else state.mid
        seen.append((state.policy_state(s0), np.array(state.pmem), int(state.ist[kn.I_LAST_T])))

    replay(pol, tape.slice(0, 3000), cfg, path="reference", observe=observe)
    assert len(seen) > 100
    for (qs, _, t_ns), (_, mem, _) in itertools.pairwise(seen):  # memory: the previous decision
        assert mem[jp.J_MID] == qs.mid[0] and mem[jp.J_Q] == qs.q[0] and mem[jp.J_TAU] == qs.tau[0]
        assert (mem[jp.J_BID], mem[jp.J_BID_SIZE], mem[jp.J_ASK], mem[jp.J_ASK_SIZE]) == qs.book[:4]
        assert (mem[jp.J_TICK], mem[jp.J_LOT], mem[jp.J_SIGMA]) == (qs.book.tick, qs.book.lot, 7.5)
        assert mem[jp.J_Q_MAX] == pytest.approx(5.0) and mem[jp.J_S0] == qs.s0[0]
        o = qs.orders
        np.testing.assert_array_equal(mem[[jp.J_OWN_BID, jp.J_OWN_ASK]], [o.bid, o.ask])
        np.testing.assert_array_equal(
            mem[[jp.J_OWN_BID_LEFT, jp.J_OWN_ASK_LEFT]], [o.bid_size / 0.01, o.ask_size / 0.01]
        )
        assert (mem[jp.J_BID_IN_FLIGHT], mem[jp.J_ASK_IN_FLIGHT]) == (o.bid_in_flight, o.ask_in_flight)
        assert mem[jp.J_TIME] * 1e9 == pytest.approx(float(t_ns), abs=1e3)
        assert mem[jp.J_ELAPSED] == pytest.approx(float(t_ns - tape.time[0]) * 1e-9, abs=1e-9)


def test_bad_input_is_named():
    with pytest.raises(ValueError, match="fn must be"):
        JitPolicy(42)
    with pytest.raises(ValueError, match="memory_size"):
        JitPolicy(ema_skew, memory_size=-1)
    with pytest.raises(ValueError, match="params must be finite"):
        JitPolicy(ema_skew, params=[1.0, math.inf])
    with pytest.raises(ValueError, match="params must be a 1-D"):
        JitPolicy(ema_skew, params=[[1.0], [2.0]])
    assert JitPolicy(ema_skew).name == "ema_skew" and JitPolicy(ema_skew, name="x").name == "x"


def test_features_must_have_one_row_per_event(tape):
    pol = JitPolicy(ema_skew, params=[3.0, 0.05], memory_size=2)
    small = tape.slice(0, 500)
    with pytest.raises(ValueError, match="499 rows, not one per tape event"):
        replay(pol, small, ReplayConfig(order_size=0.01), features=np.zeros((499, 1)))
    with pytest.raises(ValueError, match="features must be a 2-D array"):
        replay(pol, small, ReplayConfig(order_size=0.01), features=np.zeros(500))
    with pytest.raises(ValueError, match="path='fast' needs"):
        replay(EmaSkew(3.0, 0.05), small, ReplayConfig(order_size=0.01), path="fast")
