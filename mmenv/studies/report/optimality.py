"""Report section IX: the exact optimum of this env against the continuous-time CJP policy, and trained PPO runs
scored against them.

* :func:`sec_exact_optimum`: the exact optimum of this env (backward induction, :mod:`agents.exact_optimum`)
  against the continuous-time CJP policy: the exact values of both, their paired difference on this run's
  common paths against the exact difference, and the convergence in dt.
* :func:`sec_rl`: the PPO runs given by ``--ppo-run``, re-evaluated in this run on held-out paths of their own
  market against AS, the CJP policy and the exact optimum (:mod:`mmenv.studies.references`).
"""

from __future__ import annotations

import math
from typing import Any

from agents.ppo import PPOAgent
from mmenv.envs.rollout import rollout_many
from mmenv.studies.references import (
    convergence_table,
    evaluate_policies,
    format_convergence,
    format_scores,
    reference_policies,
    reference_values,
    score_against,
)
from mmenv.studies.report.document import Report

__all__ = ["TASK", "sec_exact_optimum", "sec_rl"]


#: The task of the optimality comparison: the penalized objective of the PPO runs.
TASK: dict[str, Any] = {"reward": "penalized", "phi": 0.2, "alpha": 0.1}


def sec_exact_optimum(rep: Report, cfg: dict) -> None:
    """IX: the exact optimum of this env against the continuous-time CJP policy (module docstring)."""
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


def sec_rl(rep: Report, cfg: dict) -> None:
    """IX (end): trained PPO runs re-evaluated on held-out paths of their own market, in this run."""
    runs = cfg.get("ppo_runs") or []
    if not runs:
        rep.add(
            "### Reinforcement learning\n\nNo trained PPO run was given to this report. "
            "`mmenv train --timesteps 5000000 --seed 0 --out runs/ppo` (about 3 minutes on 2 cores) then "
            "`mmenv report --ppo-run runs/ppo` scores it here against AS, the continuous-time CJP policy and "
            "the exact optimum of this env on held-out paths."
        )
        return
    episodes = 500 if cfg["quick"] else 2000
    rep.metrics["rl"] = {}
    for run in runs:
        agent = PPOAgent(run)
        env_kwargs = dict(agent.config.env_kwargs)
        refs = reference_policies(env_kwargs)
        rewards = evaluate_policies({"ppo": agent, **refs}, env_kwargs, episodes, 1_000_000 + cfg["seed"])
        scores = score_against(rewards, values=reference_values(refs, env_kwargs))
        scores["market"] = env_kwargs.get("market", "model")
        rep.metrics["rl"][str(run)] = scores
        rep.add(
            f"### Reinforcement learning: PPO run `{run}` on the {scores['market']} market\n\n"
            f"Trained for {agent.config.timesteps:,} steps (seed {agent.config.seed}) on the penalized reward "
            f"(φ = {env_kwargs.get('phi')}, α = {env_kwargs.get('alpha')}); re-evaluated here on "
            f"{episodes} held-out episodes, every policy on the same paths (edges are paired differences):\n\n"
            f"```text\n{format_scores(scores)}\n```"
        )
