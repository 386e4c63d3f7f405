"""The RL study (mmenv rl-study): PPO against AS / GLFT tuned on training paths, held-out paired evaluation."""

from __future__ import annotations

import json
import math

import numpy as np
import pytest

from mmenv.envs.rollout import rollout
from mmenv.studies.rl_study import diagnostics, tune_gamma


class _Const:
    """Quotes fixed depths (a test policy)."""

    name = "const"

    def __init__(self, bid: float, ask: float) -> None:
        self.bid, self.ask = bid, ask

    def reset(self, num_paths: int = 1) -> None:
        pass

    def quote(self, state):
        n = np.shape(state.q)[0]
        return np.full(n, self.bid), np.full(n, self.ask)


def test_diagnostics_of_known_policies():
    kw = dict(market="trend", trend=2.0, T=0.2, dt=0.005)
    none = diagnostics(rollout(_Const(math.inf, math.inf), 200, 3, **kw))
    assert none["mean_abs_inventory"] == 0 and none["fills_per_episode"] == 0
    assert math.isnan(none["markout_per_fill"])
    # buying only, tightly: the inventory goes up and stays; its mean tracks nothing of the move's sign
    long = diagnostics(rollout(_Const(0.0, math.inf), 200, 3, **kw))
    assert long["mean_abs_inventory"] > 5 and abs(long["inventory_move_corr"]) < 0.3
    # on the toxic market a tight quote is run over: the mid moves against the fills on average
    toxic = diagnostics(rollout(_Const(0.1, 0.1), 400, 3, market="toxic", toxic_share=0.8, T=0.2))
    assert toxic["markout_per_fill"] < 0


def test_tuning_picks_the_best_gamma_on_training_paths():
    best, means = tune_gamma("as", {"reward": "penalized", "phi": 0.2, "alpha": 0.1, "T": 0.2}, 100, 5)
    assert means[f"{best:g}"] == max(means.values()) and len(means) >= 5


def test_rl_study_cli_writes_metrics(tmp_path):
    pytest.importorskip("stable_baselines3")
    from mmenv.cli import main

    rc = main(
        [
            "rl-study",
            "--out",
            str(tmp_path),
            "--markets",
            "trend",
            "--timesteps",
            "1600",
            "--n-envs",
            "8",
            "--tune-paths",
            "40",
            "--eval-paths",
            "40",
            "--no-progress",
        ]
    )
    assert rc == 0
    m = json.loads((tmp_path / "metrics.json").read_text())["markets"]["trend"]
    assert m["eval_seed"] != m["train_seed"]
    assert m["tuning"]["as"][f"{m['as_gamma']:g}"] == max(m["tuning"]["as"].values())
    e = m["edges"]["as_tuned"]
    assert e["mean"] == pytest.approx(m["policies"]["ppo"]["mean"] - m["policies"]["as_tuned"]["mean"])
    assert (tmp_path / m["learning_curve"]).is_file()
    # the report's subsection reads the study's metrics.json and places its learning curves
    from mmenv.studies.report.document import Report
    from mmenv.studies.report.saved_studies import sec_rl_study

    rep = Report(tmp_path / "report")
    rep.out.mkdir()
    sec_rl_study(rep, {"rl_study": tmp_path})
    text = "\n".join(rep.parts)
    assert "| trend |" in text and f"{e['mean']:+.3f} ± {e['se']:.3f}" in text
    assert (rep.out / f"rl_{m['learning_curve']}").is_file()
    with pytest.raises(ValueError, match="rl-study"):
        sec_rl_study(rep, {"rl_study": tmp_path / "nothing"})


def test_report_reads_the_committed_studies(tmp_path):
    """The studies in docs/studies (the README's numbers) are readable by the report's subsections."""
    from pathlib import Path

    from mmenv.studies.report.document import Report
    from mmenv.studies.report.saved_studies import sec_rl_study, sec_vol_forecast

    root = Path(__file__).resolve().parents[2] / "docs" / "studies"
    rep = Report(tmp_path)
    sec_rl_study(rep, {"rl_study": root / "rl_study"})
    sec_vol_forecast(rep, {"vol_forecast": root / "vol_forecast"})
    text = "\n".join(rep.parts)
    for market in ("trend", "toxic", "garch"):
        assert f"| {market} |" in text and (tmp_path / f"rl_learning_curve_{market}.png").is_file()
    assert "Volatility forecasts for the quotes" in text
