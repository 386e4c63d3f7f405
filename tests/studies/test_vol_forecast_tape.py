"""Volatility forecasts on real 1-minute bars built from a tape, and AS replayed on the tape with each sigma."""

from __future__ import annotations

import json
import math
import re

import numpy as np
import pytest

pytest.importorskip("arch", reason="the GARCH fit needs the arch package (the data extra)")

from mmenv.calibration.volforecast import rolling_forecasts
from mmenv.data.samples import SAMPLES, find_samples

_, FOUND = find_samples()
needs = pytest.mark.skipif(
    not {"lobster", "binance"} <= set(FOUND),
    reason="../shared/data (the LOBSTER AMZN and Binance BTCUSDT samples) is absent",
)
LOBSTER = FOUND.get("lobster", ())
BINANCE = FOUND.get("binance", ())


def test_realized_variance_input_is_the_target_and_har_input():
    rng = np.random.default_rng(0)
    r = rng.standard_normal(600) * 0.01
    per = r**2 * rng.uniform(0.5, 1.5, 600)  # a noisy measurement of each change's variance
    f = rolling_forecasts(r, 2, 150, 50, lags=(1, 5, 15), realized=per)
    np.testing.assert_allclose(f["realized"], per.reshape(300, 2).sum(axis=1)[150:])
    np.testing.assert_allclose(f["rolling"][0], per.reshape(300, 2).sum(axis=1)[145:150].mean())
    with pytest.raises(ValueError, match="realized"):
        rolling_forecasts(r, 2, 150, 50, realized=per[:-1])


@needs
def test_tape_study_on_the_first_130_minutes():
    from mmenv.data.loaders import load_binance, load_lobster
    from mmenv.studies.vol_forecast import tape_markdown, tape_study

    tape = load_lobster(*LOBSTER)
    cut = int(np.searchsorted(tape.time, (34200 + 130 * 60) * 10**9))
    m = tape_study(tape.slice(0, cut), "LOBSTER AMZN", window=100, refit=10)
    assert m["bars"] == 130 and m["scored_minutes"] == 30 and m["validation"]["dropped"] == 0
    assert {"garch", "har", "ewma", "rolling", "constant"} <= set(m["losses"])
    q = m["quoting"]
    assert set(q["policies"]) == {"constant", "rolling", "ewma", "garch", "har", "realised"}
    n = q["minutes"]
    assert n == 30
    base = np.asarray(q["policies"]["constant"]["pnl_per_minute"])
    for p in q["policies"].values():
        x = np.asarray(p["pnl_per_minute"])
        assert x.size == n
        d = x - base  # paired by minute
        assert p["vs_constant"]["diff"] == pytest.approx(d.mean(), abs=1e-12)
        assert p["vs_constant"]["se"] == pytest.approx(d.std(ddof=1) / math.sqrt(n), abs=1e-12)
    assert q["policies"]["constant"]["vs_constant"]["diff"] == 0.0
    # a different sigma changes the quotes: not every forecaster's P&L equals the constant's
    assert any(p["vs_constant"]["se"] > 0 for p in q["policies"].values())
    text = "\n".join(tape_markdown(m))
    assert "Real 1-minute bars" in text and not re.search(r"\bnan\b", text.lower())
    short = tape_study(load_binance(*BINANCE), "Binance BTCUSDT")
    assert short["bars"] == 7 and "fewer than" in short["too_short"] and "losses" not in short
    assert "no forecast is scored" in tape_markdown(short)[0]


@needs
@pytest.mark.slow
def test_vol_forecast_cli_with_tapes(tmp_path):
    from mmenv.cli import main

    rc = main(
        [
            "vol-forecast",
            "--out",
            str(tmp_path),
            "--steps",
            "6000",
            "--paths",
            "40",
            "--days",
            "30",
            "--lobster",
            *map(str, LOBSTER),
            "--trades",
            *map(str, BINANCE[:1]),
            "--quotes",
            *map(str, BINANCE[1:]),
        ]
    )
    assert rc == 0
    m = json.loads((tmp_path / "metrics.json").read_text())
    assert m["tapes"]["lobster"]["scored_minutes"] == 270 and "too_short" in m["tapes"]["binance"]
    assert m["tapes"]["lobster"]["source"] == SAMPLES["lobster"].label  # the catalogue's label
    assert all(t["tape_validation"]["trades_out"] > 0 for t in m["tapes"].values())
    from mmenv.studies.report.document import Report
    from mmenv.studies.report.saved_studies import sec_vol_forecast

    rep = Report(tmp_path / "report")
    sec_vol_forecast(rep, {"vol_forecast": tmp_path})
    text = "\n".join(rep.parts)
    assert "Real 1-minute bars (LOBSTER" in text and "Binance" in text
