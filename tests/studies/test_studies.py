"""End-to-end runs of the study subcommands (compare, sensitivity, robustness, report) on tiny sizes."""

from __future__ import annotations

import json

import numpy as np
import pytest

from mmenv.cli import main as cli_main
from mmenv.studies.compare import run_compare
from mmenv.studies.robustness import run_robustness
from mmenv.studies.sensitivity import run_sensitivity
from mmenv.studies.simulation import market_info
from mmenv.studies.strategies import COMPARE_STRATEGIES, strategies_for


def test_compare_cli(tmp_path, capsys):
    assert cli_main(["compare", "--paths", "20", "--out", str(tmp_path), "--days", "2"]) == 0
    m = json.loads((tmp_path / "metrics.json").read_text())
    assert set(m["metrics"]) == {"model", "synthetic_ticks"}
    assert set(COMPARE_STRATEGIES) <= set(m["metrics"]["model"])
    red = m["metrics"]["model"]["_summary"]["inventory_variance_reduction_as_vs_naive"]
    assert -1 < red < 1
    assert (tmp_path / "compare_risk_return.png").stat().st_size > 0
    assert "inventory variance" in capsys.readouterr().out


def test_compare_bars_csv(tmp_path, monkeypatch, capsys):
    """compare on a bars CSV; a file longer than the tick market's bound is cut to its last bars, said in the
    output and in metrics.json."""
    from mmenv.data import synthetic_bars
    from mmenv.studies import simulation

    monkeypatch.setattr(simulation, "TICK_MARKET_MAX_BARS", 500)

    bars = synthetic_bars(days=2, seed=3)
    csv = tmp_path / "bars.csv"
    bars.rename(columns=str.capitalize).rename_axis("Datetime").to_csv(csv)
    out = tmp_path / "o"
    rc = cli_main(
        ["compare", "--paths", "5", "--out", str(out), "--bars-csv", str(csv), "--no-ticks", "--no-plot"]
    )
    assert rc == 0
    m = json.loads((out / "metrics.json").read_text())
    assert set(m["metrics"]) == {"model", "bars"}
    used = "the last 500 of the 780 bars (2"
    assert m["bars_validation"]["bars_used"].startswith(used) and m["bars_validation"]["n_output"] == 780
    assert f"tick market: {used}" in capsys.readouterr().out


def test_common_random_numbers_and_determinism():
    kw = {"market": "model", "q_max": 25.0, "dt": 0.01}
    a, pnl_a, _ = run_compare({"m": kw}, 30, 4, names=("as", "naive"))
    b, pnl_b, _ = run_compare({"m": kw}, 30, 4, names=("as", "naive"))
    np.testing.assert_array_equal(pnl_a["m"]["as"], pnl_b["m"]["as"])
    assert a["m"]["as"]["mean_pnl"] == b["m"]["as"]["mean_pnl"]


def test_strategies_scale_with_the_market():
    info = market_info({"market": "model"})
    pols = strategies_for(info)
    assert pols["as"].gamma == pytest.approx(0.6 / (1.5 * 4.0))
    assert pols["optimal"].phi == pytest.approx(0.5 * pols["as"].gamma * 4.0)


def test_sensitivity_monotone_risk(tmp_path):
    rows = run_sensitivity(np.array([0.01, 1.0]), 200, 0, {"market": "model", "dt": 0.01})
    assert rows[0]["inventory_std"] > rows[1]["inventory_std"]
    assert rows[0]["mean_spread"] < rows[1]["mean_spread"]
    assert cli_main(["sensitivity", "--paths", "10", "--n-gamma", "3", "--out", str(tmp_path)]) == 0
    assert len(json.loads((tmp_path / "metrics.json").read_text())["rows"]) == 3
    assert (tmp_path / "sensitivity_frontier.png").exists()


def test_robustness_toxic_flow_costs_adverse_selection(tmp_path):
    res = run_robustness(300, 1, ("base", "toxic"), ("as",))
    base, tox = res["base"]["as"], res["toxic"]["as"]
    se = np.hypot(base["mean_pnl_se"], tox["mean_pnl_se"])
    assert tox["mean_pnl"] < base["mean_pnl"] - 3 * se
    assert tox["adverse_selection_pnl"] < base["adverse_selection_pnl"]
    assert cli_main(["robustness", "--paths", "10", "--scenarios", "impact", "--out", str(tmp_path)]) == 0
    m = json.loads((tmp_path / "metrics.json").read_text())
    assert set(m["metrics"]) == {"base", "impact"}


def test_report_rl_section_reevaluates_a_trained_run(tmp_path):
    pytest.importorskip("stable_baselines3")
    from agents.ppo import PPOConfig, train_ppo
    from mmenv.studies.report.document import Report
    from mmenv.studies.report.optimality import sec_rl

    cfg_ppo = PPOConfig(
        timesteps=1024,
        n_envs=4,
        n_steps=64,
        batch_size=128,
        n_epochs=1,
        seed=3,
        env_kwargs={"reward": "penalized", "phi": 0.2, "alpha": 0.1, "T": 0.1, "dt": 0.005},
    )
    train_ppo(cfg_ppo, tmp_path / "run")
    rep = Report(tmp_path / "out")
    sec_rl(rep, {"ppo_runs": [tmp_path / "run"], "quick": True, "seed": 0})
    scores = rep.metrics["rl"][str(tmp_path / "run")]
    assert {"ppo", "as", "cjp", "exact"} <= set(scores["policies"])
    # nothing beats the exact optimum: the paired gap is not significantly negative
    assert scores["optimality_gap"] > -4 * (scores["optimality_gap_se"] + 1e-12)
    assert abs(scores["mc_check"]["z"]) < 4
    assert "optimality gap" in "\n".join(rep.parts)
    empty = Report(tmp_path / "out2")
    sec_rl(empty, {"ppo_runs": [], "quick": True, "seed": 0})
    assert "No trained PPO run" in "\n".join(empty.parts)
