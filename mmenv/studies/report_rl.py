"""Report parts on optimality and learning: the env's exact optimum against the CJP policy, the RL study and
the volatility forecasts. Each is a ``part(rep, cfg)`` of :mod:`mmenv.studies.report`.

* :func:`sec_exact_optimum` (section IX): the exact optimum of this env (backward induction,
  :mod:`agents.exact_optimum`) against the continuous-time CJP policy: the exact values of both, their
  paired difference on this run's common paths against the exact difference, and the convergence in dt.
* :func:`sec_rl_study` (section IX): the study of ``mmenv rl-study`` read from ``--rl-study DIR``.
* :func:`sec_vol_forecast` (section IV): the study of ``mmenv vol-forecast`` read from ``--vol-forecast DIR``.
"""

from __future__ import annotations

import json
import math
import shutil
from pathlib import Path
from typing import Any

__all__ = ["sec_exact_optimum", "sec_rl_study", "sec_vol_forecast"]

#: The task of the optimality comparison: the penalized objective of the PPO runs.
TASK: dict[str, Any] = {"reward": "penalized", "phi": 0.2, "alpha": 0.1}


def sec_exact_optimum(rep, cfg: dict) -> None:
    """IX: the exact optimum of this env against the continuous-time CJP policy (module docstring)."""
    from mmenv.envs.rollout import rollout_many
    from mmenv.studies.train import (
        convergence_table,
        format_convergence,
        reference_policies,
        reference_values,
    )

    refs = reference_policies(TASK)
    values = reference_values(refs, TASK)
    paths = int(cfg["paths"])
    ro = rollout_many({"exact": refs["exact"], "cjp": refs["cjp"]}, paths, 2_000_000 + cfg["seed"], **TASK)
    a, b = ro["exact"].reward.sum(axis=1), ro["cjp"].reward.sum(axis=1)
    d = a - b
    se_a = float(a.std(ddof=1) / math.sqrt(paths))
    se_d = float(d.std(ddof=1) / math.sqrt(paths))
    rows = convergence_table(TASK)
    v, vc = values["exact"], values["cjp"]
    rep.metrics["exact_optimum"] = {
        "task": TASK,
        "value": v,
        "cjp_value": vc,
        "paths": paths,
        "mc_mean": float(a.mean()),
        "mc_se": se_a,
        "paired_gain": float(d.mean()),
        "paired_gain_se": se_d,
        "dt_convergence": rows,
    }
    rep.add(
        "### The exact optimum of this env and the continuous-time CJP policy\n\n"
        f"On the penalized objective (φ = {TASK['phi']}, α = {TASK['alpha']}, the model market's defaults) two "
        "references are exact. The **continuous-time CJP policy** solves the problem in continuous time; in "
        "the env's discrete time (at most one fill per side and step, with probability "
        "$1 - e^{-\\lambda(\\delta)\\Delta t}$) its exact expected reward, by a policy-evaluation recursion, is "
        f"{vc:.3f}. The **exact optimum of this env**, a backward induction over (step, q) with the env's own "
        "fill probabilities, both sides' joint fills, the hard inventory limit and the action bounds, has the "
        f"expected reward V = {v:.3f}, {100 * (v - vc) / abs(v):.2f}% more. Its policy's Monte-Carlo mean on "
        f"{paths} paths is {a.mean():.3f} ± {se_a:.3f} ({(a.mean() - v) / se_a:+.1f} SE from V), and on the "
        f"same paths it beats the CJP policy by {d.mean():.3f} ± {se_d:.3f} (paired; exact difference "
        f"{v - vc:.3f}). As Δt shrinks both converge to the continuous-time value h(0, 0) and their "
        f"difference vanishes about as Δt² (exact values):\n\n```text\n{format_convergence(rows)}\n```\n\n"
        "The optimality gap of a learned policy is measured against V (the recursion's value, no Monte-Carlo "
        "noise), with the SE of the paired difference to the exact optimum's policy on common paths."
    )


def _study(rep, cfg: dict, key: str, title: str, how: str) -> tuple[Path, dict] | None:
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


def sec_rl_study(rep, cfg: dict) -> None:
    """IX: PPO against tuned AS / GLFT on markets without a closed form, from ``mmenv rl-study``."""
    from mmenv.studies.rl_study import report_markdown

    how = (
        "`mmenv rl-study --out runs/rl_study` trains PPO on the trend, toxic and GARCH markets (`--markets lobster "
        "binance`: on the real tapes) and tunes AS and GLFT on training data; `mmenv report --rl-study "
        "runs/rl_study` reports it here"
    )
    got = _study(rep, cfg, "rl_study", "RL where no closed form exists", how)
    if got is None:
        return
    src, metrics = got
    text, figures = report_markdown(metrics)
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


def sec_vol_forecast(rep, cfg: dict) -> None:
    """IV: volatility forecasts and AS quoting with each sigma, from ``mmenv vol-forecast``."""
    from mmenv.studies.vol_forecast import report_markdown

    how = "`mmenv vol-forecast --out runs/vol_forecast` then `mmenv report --vol-forecast runs/vol_forecast`"
    got = _study(rep, cfg, "vol_forecast", "Volatility forecasts for the quotes", how)
    if got is not None:
        src, metrics = got
        rep.add(report_markdown(metrics) + f"\n\n(Study `{src}`.)")
