"""Report parts that read a study run earlier: ``--rl-study DIR`` (section IX) and ``--vol-forecast DIR``
(section IV).

* :func:`sec_rl_study`: the study of ``mmenv rl-study`` (PPO against tuned AS and GLFT on markets without a
  closed form and on real tapes), its tables and learning curves copied into the report.
* :func:`sec_vol_forecast`: the study of ``mmenv vol-forecast`` (GARCH and HAR-RV forecasts, AS quoting with
  each sigma).

A part whose study was not given says how to run it.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path

from mmenv.studies import rl_study, vol_forecast
from mmenv.studies.report.document import Report

__all__ = ["sec_rl_study", "sec_vol_forecast"]


def _study(rep: Report, cfg: dict, key: str, title: str, how: str) -> tuple[Path, dict] | None:
    """(directory, metrics) of the study named by ``cfg[key]``; None (and a note on how to run it) if absent."""
    d = cfg.get(key)
    if not d:
        rep.add(f"### {title}\n\nNo such study was given to this report: {how}.")
        return None
    path = Path(d) / "metrics.json"
    if not path.is_file():
        raise ValueError(
            f"{key.replace('_', '-')} must be a study directory containing metrics.json, got {str(d)!r}"
        )
    metrics = json.loads(path.read_text())
    rep.metrics[key] = metrics
    return Path(d), metrics


def sec_rl_study(rep: Report, cfg: dict) -> None:
    """IX: PPO against tuned AS / GLFT on markets without a closed form, from ``mmenv rl-study``."""
    how = (
        "`mmenv rl-study --out runs/rl_study` trains PPO on the trend, toxic and GARCH markets (`--markets lobster "
        "binance`: on the real tapes) and tunes AS and GLFT on training data; `mmenv report --rl-study "
        "runs/rl_study` reports it here"
    )
    got = _study(rep, cfg, "rl_study", "RL where no closed form exists", how)
    if got is None:
        return
    src, metrics = got
    text, figures = rl_study.report_markdown(metrics)
    rep.add(text + f"\n\n(Study `{src}`.)")
    tapes = metrics.get("tapes", {})
    for name in figures:
        dst = rep.out / f"rl_{name}"
        shutil.copyfile(src / name, dst)
        market = name.removeprefix("learning_curve_").removesuffix(".png")
        if market in tapes:
            rep.figure(
                dst,
                f"PPO learning curve on the training half of the {tapes[market]['label']} tape (mean P&L of the "
                "training episodes per rollout, stochastic policy)",
                "the dashed lines are the mean P&L per training window of AS and GLFT tuned on those windows, and "
                "the trained PPO's mean P&L per held-out window (deterministic actions): the gap between the "
                "curve's end and that line is what did not carry over to the second half",
            )
            continue
        rep.figure(
            dst,
            f"PPO learning curve on the simulated {market} market (training episodes, stochastic policy)",
            "the dashed lines are the held-out mean rewards of AS and GLFT tuned on training paths",
        )


def sec_vol_forecast(rep: Report, cfg: dict) -> None:
    """IV: volatility forecasts and AS quoting with each sigma, from ``mmenv vol-forecast``."""
    how = "`mmenv vol-forecast --out runs/vol_forecast` then `mmenv report --vol-forecast runs/vol_forecast`"
    got = _study(rep, cfg, "vol_forecast", "Volatility forecasts for the quotes", how)
    if got is not None:
        src, metrics = got
        rep.add(vol_forecast.report_markdown(metrics) + f"\n\n(Study `{src}`.)")
