"""Sweeps: gamma x seeds x markets, locally and on a local Ray (Tune), gathered into one metrics.json."""

from __future__ import annotations

import functools
import json

import numpy as np
import pytest

from mmenv.cli import run_command
from mmenv.studies.sensitivity import run_sensitivity
from mmenv.studies.sweep import run_sweep, summarize_rows, sweep_trial

main = functools.partial(run_command, "sweep")

GRID = dict(gammas=[0.05, 0.5], seeds=[0, 1], markets=["model", "toxic"], paths=40)


def test_a_cell_is_the_sensitivity_row_of_that_gamma_seed_and_market():
    row = sweep_trial({"gamma": 0.1, "seed": 3, "market": "model", "paths": 30})
    ref = run_sensitivity(np.array([0.1]), 30, 3, market={"market": "model", "q_max": 25.0})[0]
    assert {k: row[k] for k in ref} == ref
    assert row["seed"] == 3 and row["market"] == "model"


def test_local_sweep_covers_the_grid_and_markets_differ():
    rows = run_sweep(**GRID, backend="local")
    assert [(r["market"], r["gamma"], r["seed"]) for r in rows] == [
        (m, g, s) for m in GRID["markets"] for g in GRID["gammas"] for s in GRID["seeds"]
    ]
    by = {(r["market"], r["gamma"], r["seed"]): r["mean_pnl"] for r in rows}
    assert by[("model", 0.05, 0)] != by[("toxic", 0.05, 0)]  # the market switch is applied
    assert by[("model", 0.05, 0)] != by[("model", 0.05, 1)]  # the seed is applied


def test_summary_averages_over_seeds():
    rows = [
        {
            "market": "m",
            "gamma": 1.0,
            "seed": s,
            **{
                k: float(s + 1)
                for k in ("mean_pnl", "std_pnl", "inventory_std", "fill_rate", "mean_spread", "sharpe")
            },
            "mean_pnl_se": 3.0,
            "std_pnl_se": 4.0,
        }
        for s in range(2)
    ]
    (s,) = summarize_rows(rows)
    assert s["mean_pnl"] == 1.5 and s["n_seeds"] == 2
    assert s["mean_pnl_se"] == pytest.approx(np.sqrt(18.0) / 2)


@pytest.mark.parametrize(
    ("kw", "field"),
    [
        ({"gammas": []}, "gammas"),
        ({"seeds": [-1]}, "seeds"),
        ({"markets": ["nope"]}, "market"),
        ({"paths": 1}, "paths"),
        ({"backend": "spark"}, "backend"),
    ],
)
def test_bad_grid_raises_naming_the_field(kw, field):
    with pytest.raises(ValueError, match=field):
        run_sweep(**{**GRID, **kw})


def test_sweep_on_local_ray_equals_the_local_run(tmp_path):
    pytest.importorskip("ray.tune")
    local = run_sweep(**GRID, backend="local")
    assert (
        main(
            [
                "--gammas",
                "0.05",
                "0.5",
                "--seeds",
                "0",
                "1",
                "--markets",
                "model",
                "toxic",
                "--paths",
                "40",
                "--backend",
                "ray",
                "--num-cpus",
                "2",
                "--out",
                str(tmp_path),
            ]
        )
        == 0
    )
    metrics = json.loads((tmp_path / "metrics.json").read_text())
    assert metrics["backend"] == "ray"
    assert len(metrics["rows"]) == 8 and len(metrics["summary"]) == 4
    assert metrics["rows"] == local  # same numbers, bit for bit (floats survive the JSON round trip)
    assert (tmp_path / "sweep_frontier_model.png").is_file()
    assert (tmp_path / "sweep_frontier_toxic.png").is_file()
