"""The signal study (mmenv.studies.signal_study): single split and walk-forward, paired against AS."""

from __future__ import annotations

import json
import math

import numpy as np
import pytest

from mmenv.cli import main
from mmenv.instrument import KNOWN_INSTRUMENTS
from mmenv.studies.signal_study import BASELINE, COMPARED, format_study, tape_study
from mmenv.studies.sources import TapeSource
from tests.conftest import SAMPLE_FILES
from tests.studies.test_replay_study import synthetic_tape


@pytest.fixture(scope="module")
def study(tmp_path_factory):
    """One study of a synthetic tape in the generic schema (3 walk-forward windows, 1 bp maker fee)."""
    from mmenv.data.loaders import save_tape

    path = save_tape(synthetic_tape(3000, seed=6), tmp_path_factory.mktemp("tape") / "tape.csv")
    src = TapeSource("generic", "synthetic", "a synthetic tape", "generic", (path,))
    return tape_study(src, windows=3, maker_fee_bps=1.0)


def test_tape_study_pairs_every_strategy_against_as_by_window(study):
    r = study
    assert r["maker_fee_bps"] == 1.0 and r["unit"] == "price units"
    assert set(r["single_split"]) - {"_window"} == set(COMPARED)
    assert len(r["walk_forward"]) + len(r["walk_forward_skipped"]) == 2
    for name, s in r["single_split"].items():
        if name == "_window":
            continue
        assert s["fees"] >= 0 and sum(s["imbalance_buckets"]["n_fills"]) == s["n_fills"]
        if s["n_fills"]:
            assert s["markout_per_fill"] == pytest.approx(s["markout_total"] / s["n_fills"])
    walk = r["walk_forward"]
    for name, paired in r["paired_vs_as"].items():
        assert name != BASELINE
        d = [w[name]["pnl_net"] - w[BASELINE]["pnl_net"] for w in walk]
        assert paired["pnl_net"]["mean_diff"] == pytest.approx(sum(d) / len(d))
        assert paired["pnl_net"]["n_windows"] == len(walk)
    text = format_study({"synthetic": r})
    assert "| imbalance |" in text and "±" in text
    assert all(math.isfinite(v["r2_in"]) for v in r["signal_power"].values() if "r2_in" in v)


def test_signal_study_cli_errors_name_the_flag(tmp_path, capsys):
    assert main(["signal-study", "--windows", "1", "--out", str(tmp_path / "o")]) != 0
    assert "--windows must be an integer >= 2" in capsys.readouterr().err
    assert main(["signal-study", "--shared-data", str(tmp_path / "none"), "--out", str(tmp_path / "o")]) != 0
    assert "no shared real-data sample was found" in capsys.readouterr().err
    assert not (tmp_path / "o").exists()


def test_metrics_are_json(study, tmp_path):
    from mmenv.studies.common import write_json

    write_json(study, tmp_path / "m.json")
    assert json.loads((tmp_path / "m.json").read_text())["horizon_s"] == 1.0


def test_report_part_and_summary_sentence_are_computed_from_the_results(study):
    from mmenv.studies.report.signals import best_signal, signals_markdown
    from mmenv.studies.report.summary import SUMMARY

    r = study
    name, d = best_signal(r)
    assert d == max(
        (p["markout_total"] for n, p in r["paired_vs_as"].items() if n != "glft"),
        key=lambda x: x["mean_diff"],
    )
    md = signals_markdown({"synthetic": r})
    assert f"On synthetic, `{name}` cuts adverse selection most" in md
    sentence = dict((fn.__name__, fn) for _, fn in SUMMARY)
    text = " ".join(filter(None, (fn({"signals": {"synthetic": r}}) for fn in sentence.values())))
    assert f"synthetic: `{name}`" in text
    assert signals_markdown({}).startswith("No shared real-data sample")


def test_power_table_and_section_x_evidence(study):
    from mmenv.studies.report.signals import power_markdown
    from mmenv.studies.report.summary import conclusions_markdown

    md = power_markdown({"synthetic": study})
    p = study["signal_power"]["imbalance"]
    assert "| `imbalance` |" in md and f"{p['r2_out']:.4g}" in md
    text = conclusions_markdown({"signals": {"synthetic": study}})
    assert "**Order-book signals see part of the toxic flow.**" in text
    makers = sum(1 for n, s in study["single_split"].items() if n != "_window" and s["pnl_net"] > 0)
    assert f"{makers} of {len(COMPARED)} out-of-sample runs make money" in text


@pytest.mark.skipif("binance_cm_btcusd" not in SAMPLE_FILES, reason="the shared COIN-M sample is absent")
def test_inverse_tape_is_scored_in_coin_exactly():
    """On the BTCUSD_PERP capture, AS's P&L in the study is its replay's P&L in BTC computed by hand from the
    fills at their own prices (a contract is worth ``-face / M`` BTC), not a first-order conversion."""
    from mmenv.studies.signal_study import _args, window_scores
    from mmenv.studies.sources import sample_source
    from mmenv.studies.strategies import tape_policies
    from mmenv.studies.tape_signals import replay_policy
    from mmenv.studies.tapes import calibrate_tape, median_lot, replay_config

    tape = sample_source("binance_cm_btcusd", None).load()
    ins, oos = tape.split(0.5)
    part = oos.slice(0, len(oos) // 3)  # a third of the held-out half keeps the test fast
    instrument = KNOWN_INSTRUMENTS["BTCUSD_PERP"]
    args = _args(False, instrument.maker_fee_bps)
    scores = window_scores(tape, ins, part, args, 1.0, instrument)["as"]
    cal = calibrate_tape(ins)
    kw = {"max_lots": args.max_lots, "risk_aversion": args.risk_aversion, "horizon": args.replay_horizon_s}
    pol = tape_policies(("as",), cal, **kw, s0=float(part.mid[0]))["as"]
    cfg = replay_config(args, lot=median_lot(ins), sigma=float(cal.sigma))
    res = replay_policy(pol, part, cfg)
    f = res.fills
    assert len(f) > 0
    face = instrument.contract_size
    size, side, px = (np.asarray(f[k], dtype=np.float64) for k in ("size", "side", "price"))
    fee = instrument.maker_fee_bps * 1e-4 * size * face / px
    q_end = float(res.states["inventory"][-1])
    by_hand = float(np.sum(side * size * face / px - fee) - q_end * face / float(res.states["mid"][-1]))
    assert scores["pnl_net"] == pytest.approx(by_hand, rel=1e-9, abs=1e-12)
    assert scores["fees"] == pytest.approx(float(fee.sum()), rel=1e-9)
    assert scores["n_fills"] == len(f)
