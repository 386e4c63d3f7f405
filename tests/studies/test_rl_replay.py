"""PPO on real tapes (mmenv rl-study --markets lobster binance): tuning on the training half, paired held-out
windows, diagnostics; on a slice of the Binance sample with a tiny budget (structure, not performance)."""

from __future__ import annotations

import json
import math
import re

import numpy as np
import pytest

from mmenv.studies.replay import shared_data_dir

DATA = shared_data_dir()
BINANCE = (
    "binance/usdm_btcusdt_2024-08-08T2354_to_2400_trades.csv",
    "binance/usdm_btcusdt_2024-08-08T2354_to_2400_bbo.csv",
)
needs_data = pytest.mark.skipif(
    DATA is None or not all((DATA / f).is_file() for f in BINANCE),
    reason="../shared/data/binance (the Binance BTCUSDT sample) is absent",
)


@pytest.fixture(scope="module")
def small_tape():
    from mmenv.studies.rl_replay import load_market_tape

    tape = load_market_tape("binance", DATA)
    stop = int(np.searchsorted(tape.time, tape.time[0] + int(12e9)))
    return tape.slice(0, stop)


@needs_data
def test_tape_market_pairs_by_window(small_tape, tmp_path):
    pytest.importorskip("stable_baselines3")
    from mmenv.studies.rl_replay import report_markdown, run_tape_market

    m = run_tape_market(
        "binance", small_tape, tmp_path, timesteps=512, seed=3, n_envs=2, episode_s=0.5, grid=(1.0, 100.0)
    )
    n = m["out_of_sample"]["windows"]
    assert n >= 3 and m["in_sample"]["windows"] >= 3
    w = {k: np.asarray(v) for k, v in m["pnl_per_window"].items()}
    assert set(w) == {"ppo", "as_tuned", "glft_tuned", "as_default"} and all(v.size == n for v in w.values())
    for ref in ("as_tuned", "glft_tuned", "as_default"):
        d = w["ppo"] - w[ref]
        e = m["edges"][ref]
        assert e["n"] == n and e["mean"] == pytest.approx(d.mean(), rel=1e-12, abs=1e-12)
        assert e["se"] == pytest.approx(d.std(ddof=1) / math.sqrt(n), rel=1e-12, abs=1e-12)
    # the tuned r is the best on the training windows, and the best AS-type family is the best of its kind
    for kind in ("as", "glft"):
        b = m["best"][kind]
        fam = m["tuning"][b["family"]]
        assert fam["mean_pnl"][f"{b['risk_aversion']:g}"] == max(fam["mean_pnl"].values())
        others = [f for f in m["tuning"] if f.split("-")[0] == kind]
        assert b["train_mean_pnl"] == max(
            m["tuning"][f]["mean_pnl"][f"{m['tuning'][f]['best']:g}"] for f in others
        )
    assert m["timesteps"] == 512 and m["train_seconds"] > 0 and m["curve"]
    assert (tmp_path / m["learning_curve"]).is_file() and (tmp_path / "binance" / "ppo_replay.zip").is_file()
    d = m["diagnostics"]["as_tuned"]
    for key in ("fills_per_window", "mean_abs_inventory_lots", "markout_1s_ticks", "skew_imbalance_corr"):
        assert key in d
    assert -1.0 <= m["imbalance_next_1s_corr"] <= 1.0
    text, figs = report_markdown({"binance": m})
    assert "real tapes" in text and figs == [m["learning_curve"]] and not re.search(r"\bnan\b", text.lower())


@needs_data
def test_cli_adds_a_tape_and_keeps_the_other_markets(small_tape, tmp_path, monkeypatch):
    pytest.importorskip("stable_baselines3")
    from mmenv.cli import main
    from mmenv.studies import rl_replay

    monkeypatch.setattr(rl_replay, "load_market_tape", lambda name, d: small_tape)
    monkeypatch.setattr(rl_replay, "RISK_GRID", (1.0, 100.0))
    monkeypatch.setitem(rl_replay.TAPES, "binance", {**rl_replay.TAPES["binance"], "episode_s": 0.5})
    (tmp_path / "metrics.json").write_text(json.dumps({"markets": {"trend": {"kept": True}}}))
    rc = main(
        [
            "rl-study",
            "--out",
            str(tmp_path),
            "--markets",
            "binance",
            "--timesteps",
            "64",
            "--n-envs",
            "2",
            "--data",
            str(DATA),
            "--no-progress",
        ]
    )
    assert rc == 0
    m = json.loads((tmp_path / "metrics.json").read_text())
    assert m["markets"] == {"trend": {"kept": True}} and m["tapes"]["binance"]["risk_grid"] == [1.0, 100.0]


def test_missing_data_is_named(tmp_path):
    from mmenv.studies.rl_replay import load_market_tape

    with pytest.raises(ValueError, match="--data"):
        load_market_tape("lobster", None)
    with pytest.raises(ValueError, match="AMZN"):
        load_market_tape("lobster", tmp_path)
