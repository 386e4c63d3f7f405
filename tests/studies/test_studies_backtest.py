"""End-to-end test of ``mmenv backtest`` (the study module and the CLI registration)."""

from __future__ import annotations

import functools
import json

import pytest

from mmenv.cli import main as cli_main
from mmenv.cli import run_command

main = functools.partial(run_command, "backtest")

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
    # The latency table: computed by re-running each strategy; its latency-0 run is the main run.
    for m in metrics.values():
        lat = m["latency"]
        assert list(lat) == ["0s", "1s", "5s", "on_trades"]
        assert lat["0s"]["total_pnl"] == pytest.approx(m["total_pnl"], rel=1e-12, abs=1e-9)
        assert lat["0s"]["n_fills"] == m["n_fills"]
    # Repricing on every quote update with no latency: the AS quotes are never stale, spread capture > 0; one
    # trade stale (on trades only) or 5 s late they are picked off.
    lat = metrics["as"]["latency"]
    assert metrics["as"]["spread_pnl"] > 0
    assert lat["on_trades"]["spread_pnl"] < 0 and lat["5s"]["spread_pnl"] < 0
    for f in ("equity.png", "inventory.png", "markouts.png", "attribution_as.png", "backtest_config.json"):
        assert (out / f).stat().st_size > 0
    assert "strategy" in capsys.readouterr().out


def test_reprice_on_trades_flag_matches_the_latency_table(tmp_path):
    base = ["--strategy", "as", "naive", "--days", "1", "--no-progress", "--horizon-seconds", "900"]
    assert main([*base, "--out", str(tmp_path / "a"), "--latency-table", "0", "2"]) == 0
    assert main([*base, "--out", str(tmp_path / "b"), "--reprice-on-trades", "--latency-table"]) == 0
    assert main([*base, "--out", str(tmp_path / "c"), "--latency-seconds", "2", "--latency-table"]) == 0
    a, b, c = (json.loads((tmp_path / d / "metrics.json").read_text()) for d in "abc")
    cfg = json.loads((tmp_path / "b" / "backtest_config.json").read_text())["config"]
    assert cfg["reprice_on_quotes"] is False
    for name in ("as", "naive"):
        assert list(a[name]["latency"]) == ["0s", "2s", "on_trades"]
        assert "latency" not in b[name] and "latency" not in c[name]
        for key in ("total_pnl", "spread_pnl", "n_fills"):
            assert b[name][key] == pytest.approx(a[name]["latency"]["on_trades"][key], rel=1e-12, abs=1e-9)
            assert c[name][key] == pytest.approx(a[name]["latency"]["2s"][key], rel=1e-12, abs=1e-9)
        assert a[name]["spread_pnl"] > a[name]["latency"]["2s"]["spread_pnl"]


def test_cli_registers_backtest_and_checks_arguments(tmp_path, capsys):
    assert cli_main(["backtest", "--market", "bars-csv", "--out", str(tmp_path), "--no-progress"]) == 2
    assert "mmenv backtest: error: --market bars-csv needs --bars-csv PATH" in capsys.readouterr().err
    assert cli_main(["backtest", "--strategy", "glft"]) == 2
    assert "argument --strategy: invalid choice" in capsys.readouterr().err


def test_chunked_stream_equals_the_concatenated_chunks():
    """The chunk-by-chunk stream of a long file: same summary and same backtest as its chunks joined in memory."""
    import numpy as np

    from mmenv import data
    from mmenv.backtest import BacktestConfig, QuoteRule, TickStream, backtest
    from mmenv.calibration.streaming import _concat_ticks, iter_tick_chunks
    from mmenv.studies.backtest import ChunkedStream, intrabar_sigma

    bars = data.synthetic_bars(3, 1)
    cs = ChunkedStream(bars, (10, 20), 7, 50.0, chunk_bars=390)
    parts = [tk for tk, _ in iter_tick_chunks(bars, seed=7, ticks_per_bar=(10, 20), k=50.0, chunk_bars=390)]
    assert len(parts) >= 2
    whole = _concat_ticks(parts)
    ref = TickStream.from_ticks(whole, time_unit_seconds=3600.0)
    joined = list(cs)
    assert len(joined) == len(parts) and cs.n_events == len(ref) == sum(len(c) for c in joined)
    np.testing.assert_array_equal(np.concatenate([c.time for c in joined]), ref.time)
    np.testing.assert_array_equal(np.concatenate([c.mid for c in joined]), ref.mid)
    assert cs.sigma == pytest.approx(intrabar_sigma(whole), rel=1e-12)
    assert cs.s0 == ref.mid[0] and cs.duration_hours == pytest.approx(ref.time[-1] - ref.time[0], rel=1e-12)
    cfg = BacktestConfig(q_max=10.0, order_size=1.0, sigma=cs.sigma, horizon=6.5)
    a = backtest(QuoteRule("as", gamma=0.1, k=50.0), cs, cfg)
    b = backtest(QuoteRule("as", gamma=0.1, k=50.0), ref, cfg)
    assert a.n_events == b.n_events and len(a.fills) > 0
    for rec in ("fills", "states"):
        x, y = getattr(a, rec), getattr(b, rec)
        assert len(x) == len(y)
        for f in x.dtype.names:
            np.testing.assert_array_equal(x[f], y[f], err_msg=f"{rec}.{f}")
