"""Benchmark: events per second of a full AS tick backtest with recording, and its memory as the stream grows.

The stream: synthetic ticks (mid random walk, fair-coin aggressor side, Exponential(k) reach from the mid,
Exponential trade sizes), generated in chunks of ``--chunk`` events. The backtest: the AS rule on the compiled
path, a decision every tick, every fill recorded and the state recorded every ``--record-every`` events.

1. Throughput: the 10-million-event stream held in memory, backtest timed alone (after a warm-up run that
   compiles the kernel), records in memory and spilled to disk; then backtest and scores together (the
   metrics of ``mmenv backtest``): records in memory scored by ``summarize_backtest`` afterwards, against
   records scored batch by batch as they are produced (``StreamingSummary``, nothing kept); and the AS
   quotes written as a user's compiled policy (:class:`mmenv.sim.jit_policy.JitPolicy`, called inside the
   loop through its numba callback) against the built-in rule, records in memory.
2. Memory: streams of growing length fed chunk by chunk from a generator with records spilled to disk;
   peak traced allocations (tracemalloc, numpy included) should not grow with the stream.

Usage, from the repository root (either form)::

    python -m benchmarks.bench_backtest [--events 10000000] [--record-every 1]
    python benchmarks/bench_backtest.py [--events 10000000] [--record-every 1]
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
import tracemalloc
from pathlib import Path

import numpy as np

if not __package__:  # run as a file: import this checkout, as python -m does
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import math

from benchmarks._util import machine
from mmenv.analytics import summarize_backtest
from mmenv.analytics.stream import StreamingSummary
from mmenv.backtest import BacktestConfig, QuoteRule, TickStream, run_fast
from mmenv.jit import njit
from mmenv.sim import jit_policy as jp
from mmenv.sim.jit_policy import JitPolicy


@njit(cache=True)
def as_policy(state, features, params, memory, out) -> None:
    """The AS quotes (AS 2008 eqs. 3.17-3.18) as a user's compiled policy; ``params``: gamma, k, order size
    (the state's inventory is in lots of it)."""
    g, k = params[0], params[1]
    q = state[jp.J_Q] * params[2]
    var = g * state[jp.J_SIGMA] * state[jp.J_SIGMA] * state[jp.J_TAU]
    half = 0.5 * (var + 2.0 / g * math.log(1.0 + g / k))
    out[0] = q * var + half
    out[1] = -q * var + half


def synthetic_chunks(n_events: int, chunk: int, seed: int = 0, k: float = 50.0, s0: float = 130.0):
    """Yield TickStream chunks of a synthetic stream (one event per second; time unit: hours)."""
    rng = np.random.default_rng(seed)
    mid0, t0 = s0, 0.0
    done = 0
    while done < n_events:
        n = min(chunk, n_events - done)
        time_ = t0 + (np.arange(1, n + 1)) / 3600.0
        mid = mid0 + np.cumsum(rng.normal(0.0, 0.01, n))
        side = np.where(rng.random(n) < 0.5, 1, -1).astype(np.int8)
        price = mid + side * rng.exponential(1.0 / k, n)
        size = rng.exponential(200.0, n) + 1.0
        yield TickStream(time=time_, price=price, side=side, size=size, mid=mid)
        mid0, t0, done = float(mid[-1]), float(time_[-1]), done + n


def concat(chunks) -> TickStream:
    parts = list(chunks)
    return TickStream(
        *(np.concatenate([getattr(c, f) for c in parts]) for f in ("time", "price", "side", "size", "mid"))
    )


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--events", type=int, default=10_000_000)
    ap.add_argument("--chunk", type=int, default=1 << 20)
    ap.add_argument("--record-every", type=int, default=1)
    ap.add_argument("--repeat", type=int, default=3)
    args = ap.parse_args()
    print(machine(), flush=True)

    cfg = BacktestConfig(
        q_max=2000.0,
        order_size=100.0,
        share=0.5,
        sigma=0.6,
        horizon=1.0,
        record_every=args.record_every,
        chunk_size=args.chunk,
        fill_capacity=1 << 16,
        state_capacity=1 << 16,
    )
    rule = QuoteRule("as", gamma=0.001, k=50.0)
    t = time.perf_counter()
    run_fast(rule, concat(synthetic_chunks(10_000, 4096)), cfg)
    print(f"compile + warm-up: {time.perf_counter() - t:.2f} s")

    stream = concat(synthetic_chunks(args.events, args.chunk))
    for label, spill in (("records in memory", False), ("records spilled to disk", True)):
        best = np.inf
        for _ in range(args.repeat):
            with tempfile.TemporaryDirectory() as d:
                t = time.perf_counter()
                res = run_fast(rule, stream, cfg, spill_dir=d if spill else None)
                best = min(best, time.perf_counter() - t)
                n_fills, n_states = len(res.fills), len(res.states)
                del res
        print(
            f"{args.events:,} events, AS, {label}: {best:.3f} s -> {args.events / best / 1e6:.2f} M events/s "
            f"({n_fills:,} fills, {n_states:,} states recorded)"
        )
    policy = JitPolicy(as_policy, params=[0.001, 50.0, cfg.order_size], name="as-jit")
    run_fast(policy, stream.slice(0, 10_000), cfg)  # compile the policy
    for label, pol in (("AS rule", rule), ("AS as a compiled user policy (JitPolicy)", policy)):
        best = np.inf
        for _ in range(args.repeat):
            t = time.perf_counter()
            res = run_fast(pol, stream, cfg)
            best = min(best, time.perf_counter() - t)
        print(
            f"{args.events:,} events, {label}, records in memory: {best:.3f} s -> "
            f"{args.events / best / 1e6:.2f} M events/s (pnl {res.pnl:.6g})"
        )
        del res
    horizons = (1 / 3600, 10 / 3600, 60 / 3600)
    for label, streaming in (("then summarize_backtest", False), ("scored as they stream", True)):
        best = np.inf
        for _ in range(args.repeat):
            t = time.perf_counter()
            if streaming:
                scores = StreamingSummary(cfg, horizons)
                m = scores.summary(run_fast(rule, stream, cfg, sink=scores))
            else:
                m = summarize_backtest(run_fast(rule, stream, cfg), horizons)
            best = min(best, time.perf_counter() - t)
        print(
            f"{args.events:,} events, AS, backtest + scores, {label}: {best:.3f} s -> "
            f"{args.events / best / 1e6:.2f} M events/s (total pnl {m['total_pnl']:.6g})"
        )
    del stream

    print("peak traced memory, stream generated chunk by chunk, records spilled:")
    for n in (args.events // 10, args.events // 3, args.events):
        with tempfile.TemporaryDirectory() as d:
            tracemalloc.start()
            t = time.perf_counter()
            res = run_fast(rule, synthetic_chunks(n, args.chunk), cfg, spill_dir=d)
            wall = time.perf_counter() - t
            _, peak = tracemalloc.get_traced_memory()
            tracemalloc.stop()
            print(
                f"  {n:>12,} events: peak {peak / 2**20:7.1f} MiB ({wall:.2f} s incl. generation, pnl {res.pnl:.0f})"
            )
            del res


if __name__ == "__main__":
    main()
