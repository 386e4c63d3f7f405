import json

import pytest

from mmenv.cli import main
from mmenv.studies.replication import PAPER_TABLES, run_replication


def test_cli_writes_table_json(tmp_path, capsys):
    assert main(["replicate", "--paths", "200", "--seed", "1", "--out", str(tmp_path), "--no-plot"]) == 0
    data = json.loads((tmp_path / "as2008.json").read_text())
    assert (data["paths"], data["seed"], data["event_order"]) == (200, 1, "fill_then_move")
    rows = data["rows"]
    assert len(rows) == 6
    keys = {"gamma", "strategy", "spread", "mean_pnl", "std_pnl", "mean_q", "std_q", "n_paths"}
    for r in rows:
        assert keys <= set(r)
        assert r["strategy"] in ("inventory", "symmetric") and r["n_paths"] == 200
    out = capsys.readouterr().out
    assert "62.94" in out and "liquidity term" in out


def test_replication_reproduces_the_paper_where_it_should():
    rows, diag, _ = run_replication(paths=1000, seed=3, gammas=(0.1,))
    inv = next(r for r in rows if r["strategy"] == "inventory")
    sym = next(r for r in rows if r["strategy"] == "symmetric")
    # the inventory strategy cuts the P&L std and the final inventory std roughly in half (AS Table 1)
    assert inv["std_pnl"] < 0.6 * sym["std_pnl"]
    assert inv["std_q"] < 0.5 * sym["std_q"]
    # final inventory std: paper 2.80 (inventory) and 8.66 (symmetric), within 4 MC standard errors
    assert abs(inv["std_q"] - PAPER_TABLES[0.1]["inventory"][4]) < 4 * inv["std_q_se"]
    assert abs(sym["std_q"] - PAPER_TABLES[0.1]["symmetric"][4]) < 4 * sym["std_q_se"]
    liq = next(d for d in diag if d["strategy"] == "liquidity_term")
    assert liq["spread"] == pytest.approx(1.29, abs=0.005)
    # the spread we quote is the liquidity term plus gamma sigma^2 (T - t) averaged over the grid
    assert inv["spread"] == pytest.approx(liq["spread"] + 0.1 * 4 * 0.5025, abs=1e-6)


def test_common_random_numbers_across_strategies():
    rows1, _, pnl1 = run_replication(paths=50, seed=9, gammas=(0.5,))
    rows2, _, pnl2 = run_replication(paths=50, seed=9, gammas=(0.5,))
    assert rows1 == rows2
    assert (pnl1[0.5]["inventory"] == pnl2[0.5]["inventory"]).all()
