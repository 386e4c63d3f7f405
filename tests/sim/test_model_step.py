"""The model market's vectorised env step (mmenv.sim.model_step) against the generic fused kernel, bit for bit,
and the vector env's buffers, info option and action checks on top of it."""

from __future__ import annotations

import math
import os
import warnings

import numpy as np
import pytest

from mmenv.config import MarketParams
from mmenv.envs.vector_env import MarketMakingVectorEnv
from mmenv.markets import ModelMarket
from mmenv.sim.core import SimulationCore
from mmenv.sim.env_step import OUT_COLUMNS, OUT_NAMES
from mmenv.sim.model_step import N_OUT, check_actions, trader_params
from mmenv.sim.shard_choice import ShardChoice
from mmenv.sim.shards import get_num_threads, set_num_threads
from mmenv.sim.task import TaskParams

SHORT = dict(T=0.05, dt=0.005)  # 10 steps: several episodes, so the autoreset is exercised
MARKETS = [
    {},
    dict(mid_model="binomial", fill_model="linear", A=140.0, event_order="move_then_fill"),
    dict(fill_model="linear", **SHORT),
    dict(fee_rate=0.001, fee_per_unit=0.01, **SHORT),
]
TASKS = [
    TaskParams(reward="penalized", phi=0.01, alpha=0.1, max_depth=3.0),
    TaskParams(),
    TaskParams(reward="cara", utility_gamma=0.1),
    TaskParams(action_mode="depth"),
]


def test_output_columns_agree_with_the_core():
    assert N_OUT == OUT_COLUMNS == len(OUT_NAMES)


@pytest.mark.parametrize("reset_after", [False, True])
@pytest.mark.parametrize("task", TASKS, ids=["penalized", "pnl", "cara", "depth"])
@pytest.mark.parametrize("market", MARKETS, ids=["default", "as2008", "linear", "fees"])
def test_model_step_is_the_generic_fused_step_bit_for_bit(market, task, reset_after):
    """Every output, state array and autoreset of the vectorised step equals :meth:`SimulationCore.env_step`
    (the scalar kernel of every market kind), with a binding inventory limit and +inf ("no quote") depths."""
    n, dtype = 301, np.float32 if reset_after else np.float64  # an odd N: a partial last chunk
    p = MarketParams(**market)
    ref, new = (SimulationCore(ModelMarket(p, n), q_max=3.0) for _ in range(2))
    for c in (ref, new):
        c.reset(np.random.default_rng(6))
    w_ref, w_new = ref.equity(), new.equity()
    out = np.empty((OUT_COLUMNS, n)).T
    obs, fin = np.empty((n, 4), np.float32), np.zeros((n, 4), np.float32)
    reward, term = np.empty(n), np.empty(n, bool)
    done = np.zeros(n, bool)
    rng = np.random.default_rng(1)
    for s in range(40):
        act = rng.uniform(-1.2, 1.2, (n, 2)).astype(dtype)
        if not task.normalized and s % 3 == 0:
            act[::4, s % 2] = np.inf
        first = np.zeros(n, bool) if reset_after else done.copy()
        fin_ref = np.zeros((n, 4), np.float32)
        fin[:] = 0.0
        with warnings.catch_warnings(record=True) as w_1:
            warnings.simplefilter("always")
            o_ref, obs_ref, _ = ref.env_step(
                act.astype(np.float64),
                task,
                w_ref,
                None,
                reset_first=first,
                reset_after=reset_after,
                final_obs=fin_ref,
            )
        with warnings.catch_warnings(record=True) as w_2:
            warnings.simplefilter("always")
            new.model_step(
                act,
                task,
                w_new,
                reset_first=first,
                obs=obs,
                reward=reward,
                terminated=term,
                out=out,
                reset_after=reset_after,
                final_obs=fin,
            )
        assert [str(x.message) for x in w_1] == [str(x.message) for x in w_2]  # the clipping warning, once
        np.testing.assert_array_equal(out, o_ref)
        np.testing.assert_array_equal(obs, obs_ref)
        np.testing.assert_array_equal(reward, o_ref[:, 7])
        np.testing.assert_array_equal(term, o_ref[:, 8] > 0)
        np.testing.assert_array_equal(fin, fin_ref)
        for a, b in ((ref.state.q, new.state.q), (ref.state.cash, new.state.cash), (w_ref, w_new)):
            np.testing.assert_array_equal(a, b)
        for f in ("mid", "t", "episode", "sigma"):
            np.testing.assert_array_equal(getattr(ref.market, f), getattr(new.market, f), err_msg=f)
        done = term.copy()
    if "T" in market:
        assert new.market.episode.min() >= 2  # the autoreset ran on every path


def test_without_output_rows_the_same_step():
    n = 600
    p = MarketParams(**MARKETS[1])
    task = TaskParams()
    a, b = (SimulationCore(ModelMarket(p, n), q_max=math.inf) for _ in range(2))
    for c in (a, b):
        c.reset(np.random.default_rng(2))
    bufs = [(np.empty((n, 4), np.float32), np.empty(n), np.empty(n, bool)) for _ in range(2)]
    act = np.random.default_rng(3).uniform(-1, 1, (n, 2))
    no = np.zeros(n, bool)
    for _ in range(5):
        a.model_step(
            act,
            task,
            a.equity(),
            reset_first=no,
            obs=bufs[0][0],
            reward=bufs[0][1],
            terminated=bufs[0][2],
            out=np.empty((OUT_COLUMNS, n)).T,
        )
        b.model_step(
            act, task, b.equity(), reset_first=no, obs=bufs[1][0], reward=bufs[1][1], terminated=bufs[1][2]
        )
        for x, y in zip(*bufs, strict=True):
            np.testing.assert_array_equal(x, y)


def test_check_actions_counts_what_the_env_refuses():
    a = np.zeros((5, 2), np.float32)
    assert check_actions(a, True) == 0
    a[1, 0], a[2, 1], a[3, 0] = np.nan, np.inf, -np.inf
    assert check_actions(a, True) == 3
    assert check_actions(a, False) == 2  # depth mode: +inf is "no quote"


def test_model_step_does_not_depend_on_threads_or_shards(monkeypatch):
    """numba's pool (prange over the shards), the Python thread pool (numba's workqueue layer) and one
    thread give the same numbers; so does a smaller N for its paths."""
    from mmenv.sim import thread_layer

    n = 20_000
    act = np.random.default_rng(1).uniform(-1.2, 1.2, (n, 2))
    saved = get_num_threads()
    res = []
    try:
        for threads, pool in ((1, False), (2, False), (3, False), (2, True), (3, True)):
            set_num_threads(threads)
            if pool:
                monkeypatch.setattr(thread_layer, "parallel_layer_ok", lambda: False)
            env = MarketMakingVectorEnv(num_envs=n, T=0.05, dt=0.005, q_max=2.0, info_keys=("cash",))
            env.core.shard_choice = ShardChoice(fixed=threads > 1)  # the shards on every step
            env.reset(seed=4)
            steps = [env.step(act) for _ in range(12)]
            res.append([np.concatenate([s[0].ravel(), s[1], s[2], s[4]["cash"]]) for s in steps])
    finally:
        set_num_threads(saved)
    for r in res[1:]:
        for x, y in zip(res[0], r, strict=True):
            np.testing.assert_array_equal(x, y)
    small = MarketMakingVectorEnv(num_envs=7, T=0.05, dt=0.005, q_max=2.0)
    small.reset(seed=4)
    assert small.core.market.key == env.core.market.key
    for s in range(12):  # path i does not depend on N (same key: the same seed)
        np.testing.assert_array_equal(small.step(act[:7])[0], res[0][s][: 7 * 4].reshape(7, 4))


def test_num_threads_argument():
    a = np.random.default_rng(0).uniform(-1, 1, (9000, 2))
    one, three = (MarketMakingVectorEnv(num_envs=9000, num_threads=t) for t in (1, 3))
    assert one.core.num_threads == 1 and three.core.num_threads == 3
    three.core.shard_choice = ShardChoice(fixed=True)  # three shards on every step
    for e in (one, three):
        e.reset(seed=2)
    for _ in range(15):
        for x, y in zip(one.step(a)[:4], three.step(a)[:4], strict=True):
            np.testing.assert_array_equal(x, y)
    assert one.core.shard_choice.calls == [0, 0]  # N = 9000 on one thread is one shard: no choice to make
    assert three.core.shard_choice.calls == [0, 15]
    for bad in (0, 1.5, True, "2"):
        with pytest.raises(ValueError, match="num_threads must be None or an integer >= 1"):
            MarketMakingVectorEnv(num_envs=2, num_threads=bad)


def test_copy_false_returns_the_reused_buffers():
    env = MarketMakingVectorEnv(num_envs=4, copy=False, info_keys=())
    env.reset(seed=0)
    a = np.zeros((4, 2), np.float32)
    obs1, r1, t1, tr1, _ = env.step(a)
    saved = obs1.copy(), r1.copy()
    obs2, r2, t2, tr2, _ = env.step(a)
    assert obs2 is obs1 and r2 is r1 and t2 is t1 and tr2 is tr1  # one buffer each, rewritten in place
    assert not np.array_equal(obs2, saved[0])
    env = MarketMakingVectorEnv(num_envs=4, info_keys=())  # copy=True (default): fresh arrays every step
    env.reset(seed=0)
    o1, r1, *_ = env.step(a)
    o2, r2, *_ = env.step(a)
    assert o1 is not o2 and r1 is not r2 and not np.shares_memory(o1, o2)


def test_info_option_full_equals_the_slow_route():
    """``info_keys=None`` gives every key, with the values of the unfused route; the default gives none."""
    kw = dict(T=0.05, dt=0.005, q_max=1.0, action_mode="depth")
    fast, slow = (MarketMakingVectorEnv(num_envs=6, info_keys=None, **kw) for _ in range(2))
    slow._fused = slow._model = False
    for e in (fast, slow):
        e.reset(seed=5)
    acts = np.random.default_rng(0).uniform(0.0, 0.5, (25, 6, 2))
    acts[::3, ::2, 1] = np.inf
    for a in acts:
        x, y = fast.step(a), slow.step(a)
        for u, v in zip(x[:4], y[:4], strict=True):
            np.testing.assert_array_equal(u, v)
        assert x[4].keys() == y[4].keys() and "cash" in x[4]
        for k in x[4]:
            np.testing.assert_array_equal(x[4][k], y[4][k], err_msg=k)
    plain = MarketMakingVectorEnv(num_envs=6, **kw)
    assert plain.reset(seed=5)[1] == {}  # reset: the same keys as the steps
    assert plain.step(acts[0])[4] == {}
    with pytest.raises(ValueError, match="info_keys must be None or a subset"):
        MarketMakingVectorEnv(num_envs=2, info_keys="cash")


def test_bad_actions_raise_before_the_state_moves():
    env = MarketMakingVectorEnv(num_envs=3)
    env.reset(seed=0)
    before = env.core.state.cash.copy(), env.core.market.mid.copy()
    a = np.zeros((3, 2), np.float32)
    a[2, 1] = np.nan
    with pytest.raises(ValueError, match="ask of row 2 is NaN"):
        env.step(a)
    np.testing.assert_array_equal(env.core.market.mid, before[1])
    assert env.core.market.t.max() == 0
    env.step([[0.0, 0.0]] * 3)  # lists take the general route
    assert env.core.market.t.max() == 1


def test_trader_params_rejects_nothing_silently():
    core = SimulationCore(ModelMarket(MarketParams(fill_model="linear", A=140.0), 2), q_max=1.0)
    fp = trader_params(core, TaskParams(), reset_after=False, write_out=False)
    assert np.isfinite(fp[:14]).all()
    assert np.isneginf(
        fp[14]
    )  # A dt < 1: the linear fill probability is never clipped for normalized actions


@pytest.mark.skipif(not hasattr(os, "fork"), reason="os.fork is POSIX only")
def test_a_forked_child_steps_large_envs_after_the_parent_used_the_thread_pool():
    """GNU OpenMP must not be launched again in a forked child (numba terminates the process): the child
    falls back to the Python thread pool and gives the parent's numbers."""
    env = MarketMakingVectorEnv(num_envs=9000, num_threads=2)
    env.core.shard_choice = ShardChoice(fixed=True)  # the parent starts numba's pool
    env.reset(seed=1)
    a = np.zeros((9000, 2), np.float32)
    for _ in range(12):
        env.step(a)
    env.reset(seed=1)
    want = [env.step(a)[0].copy() for _ in range(12)]
    env.reset(seed=1)
    pid = os.fork()
    if pid == 0:  # the child: any failure, or a kill by numba, is a non-zero status
        try:
            got = [env.step(a)[0] for _ in range(12)]
            os._exit(0 if all(np.array_equal(x, y) for x, y in zip(got, want, strict=True)) else 3)
        except BaseException:
            os._exit(4)
    _, status = os.waitpid(pid, 0)
    assert os.WIFEXITED(status) and os.WEXITSTATUS(status) == 0, status
