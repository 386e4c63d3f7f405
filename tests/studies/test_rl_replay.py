"""PPO on real tapes (mmenv rl-study --markets lobster binance): tuning on the training half, paired held-out
windows, diagnostics; on a slice of the Binance sample with a tiny budget (structure, not performance)."""

from __future__ import annotations

import json
import math
import re

import numpy as np
import pytest

from mmenv.data.samples import find_samples
from mmenv.studies.sources import sample_source

DATA, FOUND = find_samples()
needs_data = pytest.mark.skipif(
    "binance" not in FOUND, reason="../shared/data/binance (the Binance BTCUSDT sample) is absent"
)


@pytest.fixture(scope="module")
def small_tape():
    tape = sample_source("binance", DATA).load()
    stop = int(np.searchsorted(tape.time, tape.time[0] + int(12e9)))
    return tape.slice(0, stop)


@needs_data
def test_tape_market_pairs_by_window(small_tape, tmp_path):
    pytest.importorskip("stable_baselines3")
    from mmenv.studies.rl_tapes import report_markdown, run_tape_market

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
    from mmenv.studies import rl_tapes
    from mmenv.studies.sources import TapeSource

    monkeypatch.setattr(TapeSource, "load", lambda self: small_tape)
    monkeypatch.setattr(rl_tapes, "RISK_GRID", (1.0, 100.0))
    monkeypatch.setitem(
        rl_tapes.TAPE_SETTINGS, "binance", {**rl_tapes.TAPE_SETTINGS["binance"], "episode_s": 0.5}
    )
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
    assert m["tapes"]["binance"]["label"] == "Binance BTCUSDT 2024-08-08"  # the catalogue's label


def test_missing_data_is_named(tmp_path, monkeypatch):
    from mmenv.data import samples

    with pytest.raises(ValueError, match="--data"):
        sample_source("lobster", tmp_path / "nowhere")
    with pytest.raises(ValueError, match="AMZN"):
        sample_source("lobster", tmp_path)
    monkeypatch.setattr(samples, "shared_data_dir", lambda explicit=None: None)
    with pytest.raises(ValueError, match="--data"):
        sample_source("lobster")


@needs_data
def test_ppo_with_and_without_signals_paired_by_window(small_tape, tmp_path):
    pytest.importorskip("stable_baselines3")
    from mmenv.studies.rl_tapes import report_markdown, run_tape_market, summary

    m = run_tape_market(
        "binance",
        small_tape,
        tmp_path,
        timesteps=256,
        seed=4,
        n_envs=2,
        episode_s=0.5,
        grid=(1.0,),
        signals=True,
    )
    w = {k: np.asarray(v) for k, v in m["pnl_per_window"].items()}
    assert set(w) == {"ppo", "ppo_signals", "as_tuned", "glft_tuned", "as_default"}
    e = m["edges"]["ppo_signals_vs_ppo"]
    assert e["mean"] == pytest.approx((w["ppo_signals"] - w["ppo"]).mean(), rel=1e-12, abs=1e-12)
    assert "imbalance" in m["signals"]["features"]
    assert m["signals"]["curve"] and m["signals"]["train_seconds"] > 0
    # the signals agent is saved beside the other, with its spec: it loads with the same observation
    from mmenv.replay.config import ReplayConfig
    from mmenv.replay.engine import tape_lot
    from mmenv.studies.tape_ppo import SIGNALS_FILE, load_agent

    folder = tmp_path / m["signals"]["agent"]
    assert (folder / SIGNALS_FILE).exists() and not (tmp_path / "binance" / SIGNALS_FILE).exists()
    model, _, spec = load_agent(folder, small_tape, ReplayConfig(order_size=tape_lot(small_tape)))
    assert spec is not None and model.observation_space.shape == (8 + len(m["signals"]["features"]),)
    assert any("with the order-book signals in its observation" in s for s in summary({"binance": m}))
    text, _ = report_markdown({"binance": m})
    assert "| PPO with signals | with - without signals |" in text
    from mmenv.studies.report.summary import SUMMARY

    rl = dict((fn.__name__, fn) for _, fn in SUMMARY)["_rl"]({"rl_study": {"tapes": {"binance": m}}})
    assert "PPO with the order-book signals in its observation minus PPO without" in rl
    assert f"{e['mean']:+.3g} ± {e['se']:.2g}" in rl
    assert f"{e['mean']:+.4g} ± {e['se']:.2g}" in text and "| PPO with the signals |" in text


def _curve(ret: np.ndarray) -> list[dict]:
    steps = np.arange(1, ret.size + 1) * 1000
    return [
        {"timesteps": int(t), "mean_return": float(r), "std_return": 1.0}
        for t, r in zip(steps, ret, strict=True)
    ]


def test_curve_drift_tells_a_flat_curve_from_a_rising_one():
    from mmenv.studies.rl_tapes import curve_drift

    rng = np.random.default_rng(0)
    flat = _curve(rng.normal(0.0, 1.0, 200))
    d = curve_drift(flat)
    last, before = (
        np.array([c["mean_return"] for c in flat[180:]]),
        np.array([c["mean_return"] for c in flat[160:180]]),
    )
    assert d["diff"] == pytest.approx(last.mean() - before.mean(), rel=1e-12)
    # batch means: 5 batches of 4 consecutive rollouts per part
    bm = [x.reshape(5, 4).mean(axis=1) for x in (last, before)]
    assert d["se"] == pytest.approx(np.sqrt(sum(b.var(ddof=1) / 5 for b in bm)), rel=1e-12)
    assert d["crit"] == pytest.approx(2.306004, abs=1e-6)  # Student's t, 8 degrees of freedom, 97.5%
    assert d["first"] == pytest.approx(np.mean([c["mean_return"] for c in flat[:20]]), rel=1e-12)
    assert d["flat"]
    rising = _curve(np.arange(1, 201) * 0.2 + rng.normal(0.0, 1.0, 200))  # +4 over each tenth
    assert not curve_drift(rising)["flat"]
    assert curve_drift(flat[:3]) is None


@pytest.mark.parametrize(("phi", "expected"), [(0.0, 0.05), (0.8, 0.08)])
def test_curve_drift_keeps_its_level_on_autocorrelated_flat_curves(phi, expected):
    """Flat AR(1) curves (98 rollouts per tenth, as a 4M-decision run on a tape has): the share called
    "still moving" stays near the nominal 5% (8% measured at phi = 0.8 over 2,000 curves), where the
    independent-draws error called 52% of them moving at phi = 0.8. 400 curves here: Monte-Carlo SE of the
    share sqrt(p (1 - p) / 400) <= 1.4%, tolerance 3 SE above the expected share."""
    from scipy.signal import lfilter

    from mmenv.studies.rl_tapes import curve_drift

    rng = np.random.default_rng(7)
    n, reps = 980, 400
    moving = 0
    for _ in range(reps):
        e = rng.standard_normal(n + 200) * np.sqrt(1.0 - phi**2)
        x = lfilter([1.0], [1.0, -phi], e)[200:]  # stationary AR(1), unit variance
        moving += not curve_drift(_curve(x))["flat"]
    share, mc_se = moving / reps, np.sqrt(expected * (1 - expected) / reps)
    assert share <= expected + 3 * mc_se
