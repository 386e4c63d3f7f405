"""Tests of mmenv.calibration.intensity.summary and the intensity-law part of `mmenv calibrate` (calibration.json)."""

from __future__ import annotations

import functools
import itertools
import json
import math
import warnings
from pathlib import Path

import numpy as np
import pytest

from mmenv.calibration.trades import simulate_trades_and_quotes
from tests.conftest import SHARED_DATA, needs_shared_data

TOP_LEVEL = ("A", "k", "A_se", "k_se", "cov", "loglik", "n_trades", "duration_s", "gof_chi2", "gof_df")


def _check_json(d: dict) -> None:
    for key in TOP_LEVEL:
        assert key in d
    assert d["selected_model"] in d["models"]
    assert d["models"]["exponential"]["params"]["A"] == pytest.approx(d["A"], rel=1e-7)
    assert d["models"]["exponential"]["params"]["k"] == pytest.approx(d["k"], rel=1e-7)
    for m in d["models"].values():
        if "skipped" not in m:
            assert {"params", "se", "heldout_loglik_per_order", "aic_fit", "gof_chi2"} <= set(m)
    rows = d["intensity_table"]
    assert rows and rows[0]["depth"] == pytest.approx(d["typical_half_spread"])
    assert all(r1["depth"] > r0["depth"] for r0, r1 in itertools.pairwise(rows))
    for r in rows:
        assert {"depth", "empirical", "empirical_lo", "empirical_hi"} <= set(r)
        for name in d["models"]:
            if "skipped" not in d["models"][name]:
                assert name in r


def test_analysis_of_a_synthetic_exponential_market() -> None:
    """Continuous prices: exponential and power law fitted, the two-part law skipped with its reason."""
    tq = simulate_trades_and_quotes(2.0, 20.0, 3000.0, np.random.default_rng(0), half_spread=0.02)
    from mmenv.calibration.intensity.summary import analyse, format_models

    a = analyse(tq)
    d = a.to_dict()
    assert "tick" in d["models"]["two_part"]["skipped"]
    assert d["selected_model"] == "exponential"
    text = format_models(a)
    assert "The data choose the exponential law" in text
    json.dumps(d, allow_nan=False)


def test_lobster_cli_json_and_sentences(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], lobster_sample: tuple[Path, ...]
) -> None:
    from mmenv.cli import run_command

    main = functools.partial(run_command, "calibrate")

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        assert main(["--lobster", *map(str, lobster_sample), "--out", str(tmp_path)]) == 0
    d = json.loads((tmp_path / "calibration.json").read_text())
    _check_json(d)
    assert d["per_hour"] and len(d["per_hour"]) == 7
    assert {"exponential", d["selected_model"]} <= set(d["walk_forward"])
    out = capsys.readouterr().out
    assert f"The data choose the {d['selected_model']} law" in out
    assert "At one tick past the touch" in out and "Hour by hour" in out
    assert (tmp_path / "calibration.png").stat().st_size > 10_000


def test_binance_analysis(binance_sample: tuple[Path, ...]) -> None:
    from mmenv.calibration.intensity.summary import analyse
    from mmenv.calibration.trades import load_trades_and_quotes

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        a = analyse(load_trades_and_quotes("binance", *binance_sample))
    d = a.to_dict()
    assert d["per_hour"] is None  # six minutes of data
    ex = next(m for m in d["exponential_misfit"] if m["label"] == "one tick past the touch")
    row = next(r for r in d["intensity_table"] if r["depth"] == pytest.approx(ex["depth"]))
    assert ex["ratio_exp_to_empirical"] == pytest.approx(row["exponential"] / row["empirical"])
    assert math.isfinite(d["models"][d["selected_model"]]["heldout_loglik_per_order"])


def test_report_part_says_when_the_samples_are_absent(tmp_path: Path) -> None:
    from mmenv.studies.report.document import Report
    from mmenv.studies.report.intensity import sec_intensity_models

    rep = Report(out=tmp_path)
    sec_intensity_models(rep, {"shared_data": tmp_path / "nowhere"})
    text = "".join(rep.parts)
    assert "not part of this run" in text and "intensity_models" not in rep.metrics


@needs_shared_data
def test_report_part_on_the_shared_samples(tmp_path: Path) -> None:
    from mmenv.studies.report.document import Report
    from mmenv.studies.report.intensity import sec_intensity_models
    from mmenv.studies.sources import study_samples

    _, found = study_samples(SHARED_DATA)
    if not found:
        pytest.skip(f"no sample under {SHARED_DATA}")
    rep = Report(out=tmp_path)
    sec_intensity_models(rep, {"shared_data": SHARED_DATA})
    text = "".join(rep.parts)
    for name, d in rep.metrics["intensity_models"].items():
        assert f"The data choose the {d['selected_model']} law" in text
        assert (tmp_path / f"calibration_{name}.png").exists()
        rn = d["risk_neutral_depth"]
        assert rn["exponential"]["depth"] == pytest.approx(
            1.0 / d["models"]["exponential"]["params"]["k"], rel=1e-3
        ) or rn["exponential"]["depth"] <= (d["typical_half_spread"] + 1e-12)
    assert "| law |" in text and "risk-neutral dealer" in text
