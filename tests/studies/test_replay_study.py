"""``mmenv backtest`` on a tape (:mod:`mmenv.studies.tape_backtest`): calibrate in sample, replay out of sample,
the table, walk-forward."""

from __future__ import annotations

import json
import math

import numpy as np
import pytest

from mmenv.cli import main
from mmenv.data.tape import QUOTE, TRADE, Tape
from tests.conftest import BINANCE, needs_binance


def synthetic_tape(n_quotes: int = 4000, seed: int = 0) -> Tape:
    """A random-walk mid on a 0.01 grid with one-tick spread and Poisson trades reaching Exp(k) depths."""
    rng = np.random.default_rng(seed)
    tick = 0.01
    lvl = 10_000 + np.cumsum(rng.choice([-1, 0, 0, 1], size=n_quotes))
    t = np.cumsum(rng.exponential(50e6, size=n_quotes)).astype(np.int64)
    rows = []
    for i in range(n_quotes):
        bid, ask = lvl[i] * tick, (lvl[i] + 1) * tick
        rows.append(
            (
                t[i],
                QUOTE,
                bid,
                float(rng.integers(1, 20)),
                ask,
                float(rng.integers(1, 20)),
                math.nan,
                math.nan,
                0,
            )
        )
        if rng.random() < 0.4:
            side = 1 if rng.random() < 0.5 else -1
            reach = int(rng.exponential(1.5))
            px = (ask + reach * tick) if side > 0 else (bid - reach * tick)
            rows.append(
                (t[i] + 1, TRADE, bid, rows[-1][3], ask, rows[-1][5], px, float(rng.integers(1, 10)), side)
            )
    cols = list(zip(*rows, strict=True))
    names = ("time", "kind", "bid_px", "bid_qty", "ask_px", "ask_qty", "trade_px", "trade_qty", "side")
    return Tape(**{n: np.array(c) for n, c in zip(names, cols, strict=True)}, tick=tick, source="synthetic")


def test_backtest_cli_on_a_generic_tape(tmp_path, capsys):
    from mmenv.data.loaders import save_tape

    path = save_tape(synthetic_tape(), tmp_path / "tape.csv")
    out = tmp_path / "out"
    rc = main(
        [
            "backtest",
            "--tape",
            str(path),
            "--out",
            str(out),
            "--no-progress",
            "--entry-latency-ms",
            "5",
            "--replay-strategies",
            "as",
            "naive",
            "glft",
            "--replay-latencies-ms",
            "0",
            "10",
            "--walk-forward",
            "3",
        ]
    )
    assert rc == 0
    text = capsys.readouterr().out
    assert "fills: queue" in text and "entry 5 ms" in text and "Fill model x entry latency" in text
    m = json.loads((out / "metrics.json").read_text())
    v = m["tape_validation"]  # what the tape validator found, stored by every command that reads a tape
    assert v["trades_in"] >= v["trades_out"] == m["n_trades"] > 0 and v["tick"] == m["tick"]
    assert m["replay"]["fill_model"] == "queue" and m["replay"]["entry_latency_s"] == pytest.approx(0.005)
    assert "queue" in m["header"] and "entry 5 ms" in m["header"]
    assert set(m["strategies"]) == {"as", "naive", "glft"}
    assert set(m["fill_latency_table"]) == {"trade_through", "queue"}
    assert set(m["fill_latency_table"]["queue"]) == {"0ms", "10ms"}
    for s in m["strategies"].values():
        assert s["n_fills"] > 0
        assert s["total_pnl"] == pytest.approx(s["spread_pnl"] + s["inventory_pnl"] - s["fees"], abs=1e-6)
    c = m["calibration"]
    assert c["A_per_s"] > 0 and c["k_se"] > 0 and c["sigma_per_sqrt_s"] > 0
    assert len(m["walk_forward"]) == 2


def test_walk_forward_uses_the_pluggable_calibrator():
    import argparse

    from mmenv.studies.tape_backtest import add_replay_arguments, run_study
    from mmenv.studies.tapes import calibrate_tape

    p = argparse.ArgumentParser()
    add_replay_arguments(p)
    p.add_argument("--markouts", type=float, nargs="+", default=[1.0])
    args = p.parse_args(["--replay-strategies", "naive", "--replay-latencies-ms", "--walk-forward", "4"])
    seen = []

    def calib(tape):
        seen.append(len(tape))
        return calibrate_tape(tape)

    tape = synthetic_tape(3000, seed=1)
    m = run_study(tape, args, calibrator=calib)
    assert len(seen) == 1 + 3  # in-sample, then each window before a tested one
    assert [w["window"] for w in m["walk_forward"]] == [1, 2, 3]
    assert m["fill_latency_table"] == {"trade_through": {}, "queue": {}}


@needs_binance
def test_backtest_cli_on_the_binance_sample(tmp_path):
    out = tmp_path / "out"
    rc = main(
        [
            "backtest",
            "--trades",
            str(BINANCE[0]),
            "--quotes",
            str(BINANCE[1]),
            "--out",
            str(out),
            "--no-progress",
            "--replay-strategies",
            "as",
            "optimal",
            "--replay-latencies-ms",
            "0",
            "100",
        ]
    )
    assert rc == 0
    m = json.loads((out / "metrics.json").read_text())
    assert m["tape_report"]["trades"] == 21313
    assert m["in_sample"]["fraction"] == 0.5
    for name in ("as", "optimal"):
        assert m["strategies"][name]["n_fills"] > 100
        # latency removes fills: in-flight quotes miss trades they would have met
        tab = m["fill_latency_table"]["queue"]
        assert tab["100ms"][name]["n_fills"] < tab["0ms"][name]["n_fills"]


def test_train_replay_cli_trains_in_sample_and_scores_out_of_sample(tmp_path, capsys):
    pytest.importorskip("stable_baselines3")
    from mmenv.data.loaders import save_tape

    path = save_tape(synthetic_tape(2500, seed=2), tmp_path / "tape.csv")
    out = tmp_path / "run"
    rc = main(
        [
            "train",
            "--market",
            "replay",
            "--tape",
            str(path),
            "--timesteps",
            "256",
            "--n-envs",
            "2",
            "--episode-s",
            "15",
            "--out",
            str(out),
            "--no-progress",
        ]
    )
    assert rc == 0
    m = json.loads((out / "eval_replay.json").read_text())
    assert m["tape_validation"]["trades_out"] > 0
    n = m["pnl_per_window"]["ppo"]["n"]
    assert n >= 2 and all(len(v) == n for v in m["windows"].values())
    assert set(m["paired"]) == {"ppo_minus_as", "ppo_minus_glft", "ppo_minus_optimal"}
    d = np.asarray(m["windows"]["ppo"]) - np.asarray(m["windows"]["as"])
    assert m["paired"]["ppo_minus_as"]["mean"] == pytest.approx(d.mean())
    assert (out / "ppo_replay.zip").exists() and not (out / "signals.json").exists()
    assert "paired by window" in capsys.readouterr().out
    # the trained run scored by the replay backtest (through the event-clock env: the same engine)
    bt = tmp_path / "bt"
    rc = main(
        [
            "backtest",
            "--tape",
            str(path),
            "--ppo-run",
            str(out),
            "--out",
            str(bt),
            "--no-progress",
            "--replay-strategies",
            "as",
            "--replay-latencies-ms",
        ]
    )
    assert rc == 0
    m = json.loads((bt / "metrics.json").read_text())
    assert (
        set(m["strategies"]) == {"as", "ppo"}
        and m["strategies"]["ppo"]["n_events"] == m["out_of_sample"]["n_events"]
    )


def test_report_section_sentences_are_computed_from_the_metrics():
    from mmenv.studies.report.real_tapes import real_tapes_markdown
    from mmenv.studies.tape_backtest import default_args, run_study

    args = default_args(quick=True)
    args.replay_latencies_ms = [0.0, 50.0]
    m = run_study(synthetic_tape(2500, seed=4), args)
    m.pop("_results")
    text = real_tapes_markdown({"synthetic": m})
    pnl = {s: v["total_pnl"] for s, v in m["strategies"].items()}
    wins = sum(v > 0 for v in pnl.values())
    assert f"{wins} of {len(pnl)} strategies made money out of sample" in text
    assert f"the best was {max(pnl, key=pnl.get)}" in text
    q = m["fill_latency_table"]["queue"]
    assert (
        f"AS's fills go from {int(q['0ms']['as']['n_fills']):,} to {int(q['50ms']['as']['n_fills']):,}"
        in text
    )
    assert "| glft |" in text and "queue 50ms" in text
    assert "No real-data sample was found" in real_tapes_markdown({})


def test_report_lists_the_real_data_part():
    from mmenv.studies.report.contents import SECTIONS
    from mmenv.studies.report.real_tapes import sec_real_tapes

    assert any(sec_real_tapes in s.parts for s in SECTIONS)


@pytest.fixture
def one_torch_thread():
    """torch on one thread for the test (a tiny MLP: more threads only contend for the cores)."""
    torch = pytest.importorskip("torch")
    n = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(n)


def test_a_ppo_trained_with_signals_is_saved_loaded_and_replayed_compiled(tmp_path, capsys, one_torch_thread):
    """``mmenv train --market replay --signals`` saves the feature spec with the agent; ``mmenv backtest
    --ppo-run`` replays it in the compiled loop with the same observation, and its numbers are those of the
    agent played through the event-clock env with torch."""
    pytest.importorskip("stable_baselines3")
    from mmenv.data.loaders import load_tape, save_tape
    from mmenv.replay.config import ReplayConfig
    from mmenv.studies import tape_ppo
    from mmenv.studies.tape_backtest import ppo_replay

    path = save_tape(synthetic_tape(2500, seed=3), tmp_path / "tape.csv")
    out = tmp_path / "run"
    argv = ["train", "--market", "replay", "--tape", str(path), "--timesteps", "2048", "--n-envs", "2"]
    rc = main([*argv, "--episode-s", "15", "--signals", "--out", str(out), "--no-progress"])
    assert rc == 0
    m = json.loads((out / "eval_replay.json").read_text())
    assert "micro_ticks" in m["signals"]["features"] and (out / tape_ppo.SIGNALS_FILE).exists()
    assert "observing imbalance, micro_ticks" in capsys.readouterr().out
    tape = load_tape(path)
    ins, oos = tape.split(0.5)
    cfg = ReplayConfig()
    model, venv, spec = tape_ppo.load_agent(out, oos, cfg)
    assert spec is not None and spec.to_dict() == m["signals"]["spec"]
    assert model.observation_space.shape == (8 + len(m["signals"]["features"]),)

    bt = tmp_path / "bt"
    argv = ["backtest", "--tape", str(path), "--ppo-run", str(out), "--out", str(bt), "--no-progress"]
    rc = main([*argv, "--replay-strategies", "as", "--replay-latencies-ms"])
    assert rc == 0
    got = json.loads((bt / "metrics.json").read_text())["strategies"]["ppo"]
    # the same agent through the env with torch, on the backtest's out-of-sample part and settings
    bcfg = ReplayConfig(**json.loads((bt / "metrics.json").read_text())["replay"])
    env = tape_ppo.replay_env(oos, bcfg, episode_s=oos.duration_s + 1.0, start="first", signals=spec)
    tape_ppo.play(model, venv, env)
    want = env.unwrapped.result("ppo")
    compiled = ppo_replay(out, oos, bcfg)
    assert len(want.fills) > 10
    np.testing.assert_array_equal(compiled.fills["price"], want.fills["price"])
    np.testing.assert_array_equal(compiled.states["equity"], want.states["equity"])
    assert got["n_fills"] == len(want.fills) and got["total_pnl"] == pytest.approx(want.pnl, rel=1e-12)
    # the spec is what makes the saved normaliser fit: without it the agent is refused, naming why
    (out / tape_ppo.SIGNALS_FILE).unlink()
    with pytest.raises(ValueError, match=r"vecnormalize\.pkl does not fit the observation"):
        tape_ppo.load_agent(out, oos, cfg)
    (out / tape_ppo.SIGNALS_FILE).write_text('{"spread_cap": 3}')
    with pytest.raises(ValueError, match=r"signals\.json: .*ofi_windows_s is missing"):
        tape_ppo.load_agent(out, oos, cfg)


def test_train_signals_needs_a_tape(tmp_path, capsys):
    rc = main(["train", "--signals", "--timesteps", "10", "--out", str(tmp_path / "x")])
    assert rc != 0 and not (tmp_path / "x").exists()
    assert "mmenv train: error: --signals is an option of PPO on a tape" in capsys.readouterr().err
