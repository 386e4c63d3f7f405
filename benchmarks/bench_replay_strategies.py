"""Benchmark: replay events/s of every built-in strategy and of a compiled user policy, against hftbacktest's
GLFT market maker on the same tiled tape, in the same run.

The tape: the shared Binance BTCUSDT trades + bookTicker sample (87,402 events) repeated end to end
(:func:`mmenv.data.tape.tile`) to ``--events`` events. mmenv: :func:`mmenv.replay.engine.replay`, queue fill
model, 1 ms entry latency, a decision on every quote update (and, for GLFT, also every 100 ms like
hftbacktest's example), every fill and every state recorded; each strategy timed alone after a warm-up run
that compiles it. The strategies are those of ``mmenv backtest`` built from a fixed calibration (A = 7 /s,
k = 4 / price unit, sigma = 4.5 / sqrt(s)); the user policy is the EMA-skew example of the docs ("A policy at
kernel speed"); the PPO-shaped MLP is the compiled actor of ``--ppo-run`` (:mod:`mmenv.replay.mlp_policy`,
8-64-64-2, tanh) with random weights.

hftbacktest (2.4.4, optional: ``pip install 'mmenv[oracle]'``): the order loop of its GLFT market-making
example ("GLFT market making model and grid trading", hftbacktest docs): ``elapse(100 ms)``, the GLFT half
spread and inventory skew (Gueant-Lehalle-Fernandez-Tapia coefficients c1, c2 from the same A, k, sigma),
one post-only order per side at the grid price, cancelled and replaced when the price moves; the example's
periodic regression of A and k on the trades is left out (it only adds work), so this is its fastest form.
Same events (:func:`mmenv.data.loaders.hftbacktest.tape_to_events`), risk-averse queue model, 1 ms order
latency, tick and lot of the tape.

Usage, from the repository root (either form)::

    python -m benchmarks.bench_replay_strategies [--events 2000000] [--repeats 3]
    python benchmarks/bench_replay_strategies.py [--events 2000000] [--repeats 3]
"""

from __future__ import annotations

import argparse
import math
import sys
import time
from pathlib import Path
from types import SimpleNamespace

import numpy as np

if not __package__:  # run as a file: import this checkout, as python -m does
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from benchmarks._util import machine
from mmenv.data.loaders import load_binance
from mmenv.data.tape import COLUMNS, Tape, tile
from mmenv.jit import njit
from mmenv.replay import jit_policy as jp
from mmenv.replay.engine import ReplayConfig, replay
from mmenv.replay.jit_policy import JitPolicy
from mmenv.replay.mlp_policy import env_features, mlp_jit_policy

_HERE = Path(__file__).resolve()
DATA = next(
    (p / "shared" / "data" / "binance" for p in _HERE.parents[1:4] if (p / "shared" / "data").is_dir()),
    _HERE.parents[2] / "shared" / "data" / "binance",
)
CAL = SimpleNamespace(A=7.0, k=4.0, sigma=4.5)


@njit(cache=True)
def ema_skew(state, features, params, memory, out):
    """The docs' example: ``params[0]`` ticks each side, skewed by the inventory and by the mid's distance
    from its EMA (weight ``params[1]``, kept in ``memory``)."""
    if memory[1] == 0.0:
        memory[0], memory[1] = state[jp.J_MID], 1.0
    else:
        memory[0] += params[1] * (state[jp.J_MID] - memory[0])
    tick = state[jp.J_TICK]
    skew = 0.1 * state[jp.J_Q] * tick + (state[jp.J_MID] - memory[0])
    out[0] = params[0] * tick + skew
    out[1] = params[0] * tick - skew


def strategies() -> dict[str, object]:
    """The real-tape strategies of ``mmenv backtest`` (fixed calibration), the touch, and the user policy."""
    from mmenv.studies.strategies import TAPE_STRATEGIES, tape_policies

    pols = tape_policies(TAPE_STRATEGIES, CAL, max_lots=10, risk_aversion=0.5, horizon=60.0, s0=61800.0)
    pols["user (ema_skew)"] = JitPolicy(ema_skew, params=[3.0, 0.05], memory_size=2)
    rng = np.random.default_rng(0)  # a PPO-shaped actor (8-64-64-2, tanh), random weights
    layers = [(rng.normal(0, 0.3, (o, i)), rng.normal(0, 0.1, o)) for i, o in ((8, 64), (64, 64), (64, 2))]
    pols["ppo-shaped MLP"] = mlp_jit_policy(
        layers,
        activation="tanh",
        horizon_s=60.0,
        first_mid=61800.0,
        action_low=[-1e9, -1e9],
        action_high=[1e9, 1e9],
        depth_low_ticks=0.5,
        depth_high_ticks=50.0,
        obs_mean=np.zeros(8),
        obs_var=np.ones(8),
    )
    return pols


def materialise(tape: Tape, n: int) -> Tape:
    """The tiled tape as one in-memory tape (hftbacktest reads one array)."""
    parts = [{c: getattr(p, c).copy() for c in COLUMNS} for p in tile(tape, n)]  # tile reuses its buffer
    cols = {c: np.concatenate([p[c] for p in parts]) for c in COLUMNS}
    return Tape(**cols, **tape.attributes(), validate=False)


def hftbacktest_glft(events: np.ndarray, tick: float, lot: float, repeats: int) -> float | None:
    """Events/s of hftbacktest's GLFT market maker (module docstring) on ``events``; None without hftbacktest."""
    try:
        import hftbacktest as hbt
        from hftbacktest import GTX, LIMIT
    except ImportError:
        return None

    @njit
    def glft(bt, c1, c2, order_qty, max_pos):
        n = 0
        bid_id, ask_id = 0, 0
        bid_tick, ask_tick = -1, -1
        nid = 0
        while bt.elapse(100_000_000) == 0:
            bt.clear_inactive_orders(0)
            depth = bt.depth(0)
            tk = depth.tick_size
            if depth.best_bid_tick <= 0 or depth.best_ask_tick <= 0:
                continue
            mid_tick = (depth.best_bid_tick + depth.best_ask_tick) / 2.0
            pos = bt.position(0) / order_qty
            half = c1 / tk + c2 / tk / 2.0  # the example's half spread (delta = 1), in ticks
            skew = c2 / tk
            new_bid = min(round(mid_tick - half - skew * pos), depth.best_bid_tick)
            new_ask = max(round(mid_tick + half - skew * pos), depth.best_ask_tick)
            orders = bt.orders(0)
            if new_bid != bid_tick or pos >= max_pos:
                o = orders.get(bid_id)
                if o is not None and o.cancellable:
                    bt.cancel(0, bid_id, False)
                if pos < max_pos:
                    nid += 1
                    bt.submit_buy_order(0, nid, new_bid * tk, order_qty, GTX, LIMIT, False)
                    bid_id, bid_tick = nid, new_bid
            if new_ask != ask_tick or pos <= -max_pos:
                o = orders.get(ask_id)
                if o is not None and o.cancellable:
                    bt.cancel(0, ask_id, False)
                if pos > -max_pos:
                    nid += 1
                    bt.submit_sell_order(0, nid, new_ask * tk, order_qty, GTX, LIMIT, False)
                    ask_id, ask_tick = nid, new_ask
            n += 1
        return n

    gamma, size = 0.05, 1.0
    x = gamma * size / CAL.k
    c1 = math.log1p(x) / (gamma * size)
    c2 = math.sqrt(CAL.sigma**2 * gamma / (2.0 * CAL.A * size * CAL.k) * (1.0 + x) ** (1.0 + 1.0 / x))
    best = math.inf
    for r in range(repeats + 1):  # the first run compiles
        asset = (
            hbt.BacktestAsset()
            .data([events])
            .linear_asset(1.0)
            .constant_order_latency(1_000_000, 1_000_000)
            .risk_adverse_queue_model()
            .no_partial_fill_exchange()
            .trading_value_fee_model(0.0, 0.0)
            .tick_size(tick)
            .lot_size(lot)
            .last_trades_capacity(0)
        )
        bt = hbt.HashMapMarketDepthBacktest([asset])
        t0 = time.perf_counter()
        glft(bt, c1, c2, 10 * lot, 10.0)
        wall = time.perf_counter() - t0
        bt.close()
        if r > 0:
            best = min(best, wall)
    return events.size / best


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--events", type=int, default=2_000_000)
    p.add_argument("--repeats", type=int, default=3, help="timed runs per strategy (best of)")
    p.add_argument("--data", type=Path, default=DATA)
    a = p.parse_args()
    print(machine(), flush=True)
    trades = a.data / "usdm_btcusdt_2024-08-08T2354_to_2400_trades.csv"
    quotes = a.data / "usdm_btcusdt_2024-08-08T2354_to_2400_bbo.csv"
    if not trades.exists():
        raise SystemExit(f"the Binance sample is absent ({trades})")
    base = load_binance(trades, quotes)
    tape = materialise(base, a.events)
    cfg = ReplayConfig(order_size=0.011, q_max=0.11, sigma=CAL.sigma, horizon_s=60.0, entry_latency_s=1e-3)
    print(f"tape: {len(tape):,} events ({len(base):,} of {base.source}, tiled); {cfg.describe()}")
    pols = strategies()
    runs = [(n, pol, cfg) for n, pol in pols.items()]
    every_100ms = ReplayConfig(**{**cfg.to_dict(), "decision_interval_s": 0.1})
    runs.append(("glft, decisions every 100 ms", pols["glft"], every_100ms))
    feats = env_features(tape)  # the MLP's tape-only observation columns, computed before the replay
    for name, pol, c in runs:
        f = feats if name.startswith("ppo") else None
        replay(pol, base.slice(0, 5000), c, features=None if f is None else f[:5000])  # warm-up: compile
        best = math.inf
        for _ in range(a.repeats):
            t0 = time.perf_counter()
            res = replay(pol, tape, c, features=f)
            best = min(best, time.perf_counter() - t0)
        print(
            f"mmenv {name:<30} {len(tape) / best / 1e6:6.2f} M events/s "
            f"({res.n_decisions:,} decisions, {len(res.fills):,} fills)",
            flush=True,
        )
    from mmenv.data.loaders.hftbacktest import tape_to_events
    from mmenv.replay.engine import tape_lot

    rate = hftbacktest_glft(tape_to_events(tape), tape.tick, tape_lot(base), a.repeats)
    if rate is None:
        print("hftbacktest is not installed (pip install 'mmenv[oracle]'): its GLFT example was not run")
    else:
        print(f"hftbacktest GLFT example (elapse 100 ms)   {rate / 1e6:6.2f} M events/s")


if __name__ == "__main__":
    main()
