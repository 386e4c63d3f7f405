"""Vector env and its kernel: path-steps per second, in this process (min of many timings: the least noisy).

Printed, for N = 10,000 paths of the AS 2008 setting (binomial mid, linear fills, A = 140, k = 1.5, no
inventory limit) with a constant action, on one thread and on all threads (:mod:`mmenv.sim.shards`):

* where the time of one path-step goes (one thread): the draws (Philox4x32-10 for the mid and both sides,
  the Exp(1) logarithms), the trading pass (action map, fills, accounting, reward, observation), and the
  whole kernel (:meth:`mmenv.sim.core.SimulationCore.model_step`, autoreset included);
* the vector env through ``gymnasium.make_vec(..., vectorization_mode="vector_entry_point")``: default
  (no per-step ``infos``, fresh arrays), ``copy=False`` (the env's reused buffers) and ``info_keys=None``
  (every info key);
* the AS agent at N = 1,000 and 10,000 through the core and the vector env, and the peak memory.

Usage, from the repository root (either form)::

    python -m benchmarks.bench_vector_env
    python benchmarks/bench_vector_env.py
"""

from __future__ import annotations

import argparse
import sys
import time
import warnings
from pathlib import Path

import gymnasium as gym
import numba as nb
import numpy as np

if not __package__:  # run as a file: import this checkout, as python -m does
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import mmenv  # noqa: F401  (registers the env id)
from agents import AvellanedaStoikovAgent, QuoteState
from benchmarks._util import machine, peak_rss_mib, rate
from mmenv.config import MarketParams
from mmenv.envs.vector_env import MarketMakingVectorEnv
from mmenv.markets import ModelMarket
from mmenv.sim import market_kernels as mk
from mmenv.sim import model_step as ms
from mmenv.sim import thread_layer
from mmenv.sim.core import SimulationCore
from mmenv.sim.shard_choice import ShardChoice
from mmenv.sim.shards import get_num_threads, set_num_threads

N = 10_000
AS2008 = dict(q_max=float("inf"), mid_model="binomial", fill_model="linear", A=140.0, k=1.5)


def _best(fn, reps: int = 30, inner: int = 10) -> float:
    """Seconds per call: the minimum over ``reps`` timings of ``inner`` calls."""
    fn()
    best = float("inf")
    for _ in range(reps):
        t0 = time.perf_counter()
        for _ in range(inner):
            fn()
        best = min(best, (time.perf_counter() - t0) / inner)
    return best


@nb.njit(cache=True, nogil=True, error_model="numpy")
def _draws_only(mp, k0, k1, stream, episode, t, n) -> float:
    buf = np.empty((6, ms.CHUNK))
    for c0 in range(0, n, ms.CHUNK):
        m = min(ms.CHUNK, n - c0)
        mk.draw_chunk(mp, k0, k1, stream, episode, t, c0, m, buf[0], buf[1], buf[2], buf[3], buf[4], buf[5])
    return buf[0, 0]


@nb.njit(cache=True, nogil=True, error_model="numpy")
def _trade_only(fp, mp, n, buf, act, q, cash, mid, mt, step, s0, sigma, obs, reward, terminated) -> None:
    ob = np.empty(ms.N_OUT * ms.CHUNK)
    for c0 in range(0, n, ms.CHUNK):
        m = min(ms.CHUNK, n - c0)
        ms._trade_chunk(
            fp,
            mp,
            c0,
            m,
            buf[0],
            buf[1],
            buf[2],
            buf[3],
            buf[4],
            act,
            q,
            cash,
            mid,
            mt,
            step,
            s0,
            sigma,
            obs,
            reward,
            terminated,
            ob,
            False,
        )


def kernel_phases() -> None:
    """ns per path-step of the draws, the trading pass and the whole kernel (one thread)."""
    core = SimulationCore(
        ModelMarket(MarketParams(**{k: v for k, v in AS2008.items() if k != "q_max"}), N), q_max=float("inf")
    )
    core.reset(np.random.default_rng(0))
    task = MarketMakingVectorEnv(num_envs=1).task
    m, st, w0 = core.market, core.state, core.equity()
    _, mp, _, k0, k1 = m.kernel_args()
    act = np.zeros((N, 2), np.float32)
    obs, reward, term = np.empty((N, 4), np.float32), np.empty(N), np.empty(N, bool)
    fp = ms.trader_params(core, task, reset_after=False, write_out=False)
    buf = np.full((6, ms.CHUNK), 0.5)
    no = np.zeros(N, bool)
    phases = {
        "draws (Philox x2, 2 logs)": lambda: _draws_only(mp, k0, k1, m.stream, m.episode, m.t, N),
        "trading pass": lambda: _trade_only(
            fp,
            mp,
            N,
            buf,
            act.reshape(-1),
            st.q,
            st.cash,
            m.mid,
            m.t,
            st.step,
            m.s0,
            m.sigma,
            obs.reshape(-1),
            reward,
            term,
        ),
        "whole kernel (model_step)": lambda: core.model_step(
            act, task, w0, reset_first=no, obs=obs, reward=reward, terminated=term
        ),
    }
    saved = get_num_threads()
    set_num_threads(1)
    try:
        for label, fn in phases.items():
            t = _best(fn)
            print(f"kernel, one thread, {label:<27} {t / N * 1e9:6.2f} ns/path-step  {N / t / 1e6:7.1f} M/s")
    finally:
        set_num_threads(saved)


def vector_env() -> None:
    """The vector env through Gymnasium's API, on one thread and in shards on all threads at every step (the
    choice between the two switched off: ``bench_threads`` measures the default's choice under load)."""
    saved = get_num_threads()
    a = np.zeros((N, 2), np.float32)
    try:
        for threads in sorted({1, saved}):
            set_num_threads(threads)
            for label, kw in (
                ("default", {}),
                ("copy=False", {"copy": False}),
                ("info_keys=None", {"info_keys": None}),
            ):
                env = gym.make_vec(
                    "mmenv/MarketMaking-v0",
                    num_envs=N,
                    vectorization_mode="vector_entry_point",
                    **AS2008,
                    **kw,
                )
                if threads > 1:
                    env.unwrapped.core.shard_choice = ShardChoice(fixed=True)
                env.reset(seed=0)
                t = _best(lambda env=env: env.step(a))
                print(
                    f"vector env, {threads} thread(s), {label:<15} {N / t / 1e6:7.1f} M path-steps/s "
                    f"({t / N * 1e9:5.2f} ns/path-step)"
                )
    finally:
        set_num_threads(saved)


def as_agent() -> None:
    agent = AvellanedaStoikovAgent(gamma=0.1, k=1.5)
    for n in (1_000, 10_000):
        p = MarketParams()
        core = SimulationCore(ModelMarket(p, n), q_max=p.q_max)
        rng = np.random.default_rng(0)
        core.reset(rng)

        def core_block(core=core, rng=rng, n=n) -> int:
            m = core.market
            for _ in range(50):
                if core.state.step[0] >= core.n_steps:
                    core.reset(rng)
                db, da = agent.quote(QuoteState(core.state.q, core.time_remaining(), m.mid, m.sigma, m.s0))
                core.step(db, da, rng)
            return 50 * n

        env = MarketMakingVectorEnv(num_envs=n, action_mode="depth")
        env.reset(seed=0)
        c = env.core

        def env_block(env=env, c=c, n=n) -> int:
            for _ in range(50):
                st = QuoteState(c.state.q, c.time_remaining(), c.market.mid, c.market.sigma, c.market.s0)
                db, da = agent.quote(st)
                env.step(np.stack([db, da], axis=-1))
            return 50 * n

        rc, rv = rate(core_block), rate(env_block)
        print(
            f"AS agent, N={n:>6,}: core {rc / 1e6:6.2f} M path-steps/s   vector env {rv / 1e6:6.2f} M "
            f"path-steps/s   peak RSS {peak_rss_mib():.0f} MiB"
        )


def main() -> None:
    argparse.ArgumentParser(description=__doc__.splitlines()[0]).parse_args()
    print(machine(), flush=True)
    warnings.simplefilter("ignore")  # the AS 2008 setting's linear-fill clipping note
    layer = "numba " + nb.threading_layer() if thread_layer.parallel_layer_ok() else "a Python thread pool"
    print(
        f"N = {N:,}, AS 2008 setting, constant action; threads: {get_num_threads()}, shards launched on {layer}"
    )
    kernel_phases()
    vector_env()
    as_agent()


if __name__ == "__main__":
    main()
