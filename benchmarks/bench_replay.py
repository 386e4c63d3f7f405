"""Benchmark: queue-model replay of the BTCUSDT sample tiled to 10 million events, AS with recording.

The tape: the shared Binance BTCUSDT trades + bookTicker sample (87,402 events), repeated end to end
(:func:`mmenv.data.tape.tile`, chunks of ``--chunk`` events, one chunk in memory at a time) until
``--events`` events. The replay: the AS rule on the compiled path, a decision on every quote update, the
queue fill model, ``--latency-ms`` entry latency, every fill recorded and the state recorded every
``--record-every`` events, records spilled to disk.

Prints events per second (the replay timed alone, after a warm-up run that compiles the kernel) and the peak
traced allocations (tracemalloc, numpy included) for growing tapes: flat memory means the peak does not grow
with the number of events. Peak resident memory of the process is printed too (it includes the compiler).

Usage, from the repository root (either form)::

    python -m benchmarks.bench_replay [--events 10000000] [--record-every 1] [--latency-ms 1]
    python benchmarks/bench_replay.py [--events 10000000] [--record-every 1] [--latency-ms 1]
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
import tracemalloc
from pathlib import Path

if not __package__:  # run as a file: import this checkout, as python -m does
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from benchmarks._util import machine, peak_rss_mib
from mmenv.backtest import QuoteRule
from mmenv.data.loaders import load_binance
from mmenv.data.tape import tile
from mmenv.replay.engine import ReplayConfig, replay

_HERE = Path(__file__).resolve()
DATA = next(
    (p / "shared" / "data" / "binance" for p in _HERE.parents[1:4] if (p / "shared" / "data").is_dir()),
    _HERE.parents[2] / "shared" / "data" / "binance",
)


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--events", type=int, default=10_000_000)
    p.add_argument("--chunk", type=int, default=1 << 18)
    p.add_argument("--record-every", type=int, default=1)
    p.add_argument("--latency-ms", type=float, default=1.0)
    p.add_argument("--data", type=Path, default=DATA)
    a = p.parse_args()
    print(machine(), flush=True)
    trades = a.data / "usdm_btcusdt_2024-08-08T2354_to_2400_trades.csv"
    quotes = a.data / "usdm_btcusdt_2024-08-08T2354_to_2400_bbo.csv"
    if not trades.exists():
        raise SystemExit(f"the Binance sample is absent ({trades})")
    tape = load_binance(trades, quotes)
    cfg = ReplayConfig(
        order_size=0.01,
        q_max=0.1,
        sigma=4.5,
        horizon_s=60.0,
        entry_latency_s=a.latency_ms * 1e-3,
        record_every=a.record_every,
        chunk_size=a.chunk,
    )
    rule = QuoteRule("as", gamma=1e-3, k=4.0)
    print(f"tape: {len(tape):,} events of {tape.source}, tiled; {cfg.describe()}")
    with tempfile.TemporaryDirectory() as d:
        replay(rule, tape, cfg, spill_dir=d)  # warm-up: compile
    with tempfile.TemporaryDirectory() as d:
        t0 = time.perf_counter()
        res = replay(rule, tile(tape, a.events, a.chunk), cfg, spill_dir=d)
        wall = time.perf_counter() - t0
        print(
            f"replay of {res.n_events:,} events: {wall:.2f} s, {res.n_events / wall / 1e6:.2f} M events/s; "
            f"{len(res.fills):,} fills, {len(res.states):,} states recorded (spilled), pnl {res.pnl:.2f}"
        )
        del res
    print(f"peak resident memory of the process: {peak_rss_mib():.0f} MiB")
    for n in (a.events // 10, a.events):
        with tempfile.TemporaryDirectory() as d:
            tracemalloc.start()
            res = replay(rule, tile(tape, n, a.chunk), cfg, spill_dir=d)
            _, peak = tracemalloc.get_traced_memory()
            tracemalloc.stop()
            print(f"{n:>12,} events: peak traced memory {peak / 2**20:.1f} MiB")
            del res


if __name__ == "__main__":
    main()
