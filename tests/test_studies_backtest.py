"""End-to-end test of ``mmenv backtest`` (the study module and the CLI registration)."""

from __future__ import annotations

import json

import pytest

from mmenv.cli import main as cli_main
from mmenv.studies.backtest import main

KEYS = (
    "mean_pnl",
    "std_pnl",
    "sharpe",
    "max_drawdown",
    "inventory_std",
    "spread_pnl",
    "inventory_pnl",
    "adverse_selection_pnl",
    "fees",
    "n_fills",
)


def test_backtest_study_writes_metrics_and_figures(tmp_path, capsys):
    out = tmp_path / "bt"
    argv = [
        "--strategy",
        "as",
        "trend",
        "passive",
        "--days",
        "1",
        "--out",
        str(out),
        "--no-progress",
        "--horizon-seconds",
        "900",
        "--fee-per-unit",
        "0.001",
    ]
    assert main(argv) == 0
    metrics = json.loads((out / "metrics.json").read_text())
    assert list(metrics) == ["as", "trend", "passive"]
    for m in metrics.values():
        for k in KEYS:
            assert k in m
        total = m["spread_pnl"] + m["inventory_pnl"] - m["fees"]
        assert total == pytest.approx(m["total_pnl"], abs=1e-6 * max(1.0, abs(m["total_pnl"])))
        assert m["fees"] == pytest.approx(0.001 * m["turnover_units"])
    assert metrics["as"]["engine"] == "fast" and metrics["trend"]["engine"] == "reference"
    for f in ("equity.png", "inventory.png", "markouts.png", "attribution_as.png", "backtest_config.json"):
        assert (out / f).stat().st_size > 0
    assert "strategy" in capsys.readouterr().out


def test_cli_registers_backtest_and_checks_arguments(tmp_path):
    with pytest.raises(ValueError, match="--bars-csv PATH"):
        cli_main(["backtest", "--market", "bars-csv", "--out", str(tmp_path), "--no-progress"])
    with pytest.raises(SystemExit):
        cli_main(["backtest", "--strategy", "glft"])
