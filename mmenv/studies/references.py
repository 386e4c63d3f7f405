"""The references a learned policy is scored against on the simulated markets, and the paired scores.

Used by ``mmenv train`` (PPO on the model market), ``mmenv rl-study`` (tuning AS and GLFT on training paths)
and the report (section IX). References on the AS model market:

* "continuous-time CJP policy" (``cjp``): the exact optimum of the running-penalty objective in continuous
  time (Cartea, Jaimungal & Penalva 2015, section 10.2; :class:`agents.optimal.CJPAgent`). In the env's
  discrete time (one fill per side per step, probability 1 - e^{-lambda dt}) it is not optimal.
* "exact optimum of this env" (``exact``): backward induction over (step, q) with the env's own fill model,
  hard inventory limit and action bounds (:mod:`agents.exact_optimum`); its value V(0, q0) is the exact
  expected episode reward. The CJP policy converges to it as dt -> 0 (:func:`convergence_table`).
* AS with the matched risk aversion gamma = 2 phi / sigma^2 (phi = gamma sigma^2 / 2, Gueant 2016 ch. 10) and
  AS over :data:`AS_GAMMA_GRID`.

On markets other than the AS model no exact optimum is known; the CJP policy is then the model's optimum
applied to a mis-specified market (``cjp_model``). Every policy is evaluated on the same paths (common random
numbers, :func:`evaluate_policies`), so differences have paired standard errors (:func:`score_against`).
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from agents import AvellanedaStoikovAgent
from agents.exact_optimum import exact_optimum_for_env
from agents.optimal import CJPAgent
from mmenv.config import MarketParams
from mmenv.envs.rollout import rollout_many

__all__ = [
    "AS_GAMMA_GRID",
    "REFERENCE_NAMES",
    "cjp_policy",
    "convergence_table",
    "evaluate_policies",
    "format_convergence",
    "format_scores",
    "market_value",
    "reference_policies",
    "reference_values",
    "score_against",
]

AS_GAMMA_GRID = (0.01, 0.02, 0.05, 0.1, 0.2, 0.5)
#: Display names of the references.
REFERENCE_NAMES = {
    "exact": "exact optimum of this env",
    "cjp": "continuous-time CJP policy",
    "cjp_model": "CJP policy (model optimum, mis-specified market)",
}


def evaluate_policies(
    policies: dict[str, Any], env_kwargs: dict[str, Any], episodes: int, seed: int
) -> dict[str, np.ndarray]:
    """Episode rewards of each policy on the same ``episodes`` held-out paths (common random numbers).

    Args:
        policies: name -> :class:`mmenv.policy.Policy`.
        env_kwargs: env arguments (market and task, incl. ``reward``, ``phi``, ``alpha``).
        episodes: number of episodes (paths). seed: the evaluation seed.

    Returns:
        name -> (episodes,) array of summed rewards.
    """
    kwargs = {k: v for k, v in env_kwargs.items() if k != "action_mode"}
    runs = rollout_many(policies, episodes, seed, **kwargs)
    return {name: r.reward.sum(axis=1) for name, r in runs.items()}


def market_value(env_kwargs: dict[str, Any], name: str) -> Any:
    """The market parameter ``name`` of ``env_kwargs``, or its :class:`mmenv.config.MarketParams` default."""
    return env_kwargs.get(name, getattr(MarketParams(), name))


def cjp_policy(env_kwargs: dict[str, Any]) -> CJPAgent:
    """The continuous-time CJP policy for the task and market of ``env_kwargs`` (phi, alpha and the drift mu of
    the task, default 0; A, k, T, dt, q_max, order_size and s0 of the market): the optimum of the AS model,
    mis-specified on any other market."""
    g = {n: market_value(env_kwargs, n) for n in ("A", "k", "T", "dt", "q_max", "order_size", "s0")}
    return CJPAgent(
        phi=float(env_kwargs.get("phi", 0.0)),
        alpha=float(env_kwargs.get("alpha", 0.0)),
        A=g["A"],
        k=g["k"],
        T=g["T"],
        dt=g["dt"],
        q_max=g["q_max"],
        order_size=g["order_size"],
        mu=float(env_kwargs.get("mu", 0.0)),
        s0=g["s0"],
    )


def reference_policies(env_kwargs: dict[str, Any]) -> dict[str, Any]:
    """AS (matched gamma = 2 phi / sigma^2), AS over :data:`AS_GAMMA_GRID`, the CJP policy and, on the model
    market, the exact optimum of the env (:func:`agents.exact_optimum.exact_optimum_for_env`) for ``env_kwargs``."""
    g = {n: market_value(env_kwargs, n) for n in ("A", "k", "T", "dt", "q_max", "order_size", "sigma", "s0")}
    phi = float(env_kwargs.get("phi", 0.0))
    market = env_kwargs.get("market", "model")
    gamma = max(2.0 * phi / g["sigma"] ** 2, 1e-6)
    refs: dict[str, Any] = {
        "as": AvellanedaStoikovAgent(gamma=gamma, k=g["k"], q_max=g["q_max"], s0=g["s0"]),
    }
    for gm in AS_GAMMA_GRID:
        refs[f"as_gamma={gm:g}"] = AvellanedaStoikovAgent(gamma=gm, k=g["k"], q_max=g["q_max"], s0=g["s0"])
    refs["cjp" if market == "model" else "cjp_model"] = cjp_policy(env_kwargs)
    if market == "model":
        kwargs = {k: v for k, v in env_kwargs.items() if k != "action_mode"}  # PPO acts in the normalised box
        refs["exact"] = exact_optimum_for_env(kwargs)
    return refs


def reference_values(refs: dict[str, Any], env_kwargs: dict[str, Any]) -> dict[str, float]:
    """Exact expected episode rewards of the references that have one (no Monte-Carlo noise).

    ``exact``: V(0, q0) of the recursion. ``cjp``: the CJP policy's exact value in the env's discrete time
    (:meth:`agents.optimal.CJPAgent.discrete_value`; only without fees, which that recursion omits).
    """
    out: dict[str, float] = {}
    if "exact" in refs:
        out["exact"] = refs["exact"].value()
    cjp = refs.get("cjp")
    no_fees = all(float(env_kwargs.get(n, 0.0)) == 0.0 for n in ("fee_per_unit", "fee_rate"))
    if cjp is not None and no_fees:
        q0 = float(market_value(env_kwargs, "q0"))
        out["cjp"] = float(cjp.discrete_value()[cjp.n_q + round(q0 / cjp.order_size)])
    return out


def _stats(x: np.ndarray) -> dict[str, float]:
    return {
        "mean": float(x.mean()),
        "se": float(x.std(ddof=1) / math.sqrt(x.size)),
        "std": float(x.std(ddof=1)),
    }


def _paired(d: np.ndarray) -> tuple[float, float]:
    return float(d.mean()), float(d.std(ddof=1) / math.sqrt(d.size))


def score_against(
    rewards: dict[str, np.ndarray], agent: str = "ppo", values: dict[str, float] | None = None
) -> dict[str, Any]:
    """Means with SEs, the optimality gap and the edges of ``agent`` over every reference (paired SEs).

    Args:
        rewards: name -> (episodes,) episode rewards on common paths.
        agent: the policy scored. values: exact expected rewards of references (:func:`reference_values`).

    Returns a JSON-ready dict: ``policies`` (name -> mean, se, std), ``best_as`` (name of the AS with the
    highest mean), ``edges`` (reference -> {diff, se} of J_agent - J_ref), ``values`` (the exact values),
    and against the optimum (``exact`` when present, else ``cjp_model``): ``optimum``,
    ``optimality_gap`` (mean paired difference optimum - agent, price units) with its ``optimality_gap_se``,
    and ``optimality_gap_pct`` / ``optimality_gap_se_pct`` relative to the optimum's exact value V when
    known (``optimum_value``), else to its Monte-Carlo mean. With V known, ``mc_check`` gives the optimum's
    Monte-Carlo mean minus V in SEs, and ``cjp_gap_pct`` the CJP policy's exact shortfall 100 (V - V_cjp) / V.
    """
    values = dict(values or {})
    out: dict[str, Any] = {"policies": {n: _stats(r) for n, r in rewards.items()}, "values": values}
    as_names = [n for n in rewards if n.startswith("as")]
    if as_names:
        out["best_as"] = max(as_names, key=lambda n: rewards[n].mean())
    if agent not in rewards:
        return out
    a = rewards[agent]
    out["edges"] = {}
    for name, r in rewards.items():
        if name != agent:
            diff, se = _paired(a - r)
            out["edges"][name] = {"diff": diff, "se": se}
    opt = next((n for n in ("exact", "cjp_model") if n in rewards), None)
    if opt is None:
        return out
    gap, gap_se = _paired(rewards[opt] - a)
    ref = values.get(opt)
    scale = abs(ref) if ref is not None else abs(float(rewards[opt].mean()))
    out.update(
        optimum=opt,
        optimality_gap=gap,
        optimality_gap_se=gap_se,
        optimality_gap_pct=100.0 * gap / scale,
        optimality_gap_se_pct=100.0 * gap_se / scale,
    )
    if ref is not None:
        s = out["policies"][opt]
        out["optimum_value"] = ref
        out["mc_check"] = {"diff": s["mean"] - ref, "se": s["se"], "z": (s["mean"] - ref) / s["se"]}
        if "cjp" in values:
            out["cjp_gap_pct"] = 100.0 * (ref - values["cjp"]) / abs(ref)
    return out


def format_scores(scores: dict[str, Any]) -> str:
    """Text table of :func:`score_against`."""
    lines = [f"{'policy':<16}{'mean reward':>14}{'SE':>8}{'std':>9}{'PPO - policy':>15}{'SE':>8}"]
    edges = scores.get("edges", {})
    for name, s in scores["policies"].items():
        e = edges.get(name)
        extra = f"{e['diff']:>15.3f}{e['se']:>8.3f}" if e else ""
        lines.append(f"{name:<16}{s['mean']:>14.3f}{s['se']:>8.3f}{s['std']:>9.3f}{extra}")
    values = scores.get("values", {})
    if "exact" in values:
        mc = scores.get("mc_check")
        check = (
            f"; its policy's Monte-Carlo mean here differs by {mc['diff']:+.3f} ± {mc['se']:.3f}"
            if mc
            else ""
        )
        lines.append(
            f"{REFERENCE_NAMES['exact']} (exact): expected reward V = {values['exact']:.3f} by recursion{check}"
        )
    if "cjp" in values:
        below = f", {scores['cjp_gap_pct']:.2f}% below the exact optimum" if "cjp_gap_pct" in scores else ""
        lines.append(
            f"{REFERENCE_NAMES['cjp']} (cjp): exact expected reward in this env {values['cjp']:.3f}{below}"
        )
    if "optimality_gap_pct" in scores:
        name = REFERENCE_NAMES.get(scores["optimum"], scores["optimum"])
        lines.append(
            f"optimality gap of PPO vs the {name}: {scores['optimality_gap_pct']:.2f}% "
            f"± {scores['optimality_gap_se_pct']:.2f}% (paired, 1 SE; {scores['optimality_gap']:.3f} "
            f"± {scores['optimality_gap_se']:.3f} per episode)"
        )
    if "best_as" in scores and "edges" in scores:
        b = scores["edges"][scores["best_as"]]
        lines.append(f"PPO - best AS ({scores['best_as']}): {b['diff']:.3f} ± {b['se']:.3f}")
    return "\n".join(lines)


def convergence_table(env_kwargs: dict[str, Any], factors=(4.0, 2.0, 1.0, 0.5, 0.25, 0.125)) -> list[dict]:
    """The CJP policy against the exact optimum of the env as dt shrinks (model market, exact values).

    For dt' = factor * dt (dt of ``env_kwargs``; factors giving an integer T / dt'), both exact expected
    rewards from their recursions: the exact optimum V(dt') (:mod:`agents.exact_optimum`, the env's action
    bounds), the continuous-time CJP policy's value in the env at dt' (:meth:`agents.optimal.CJPAgent.discrete_value`)
    and the CJP value function h(0, q0) of the continuous-time problem, the common limit as dt -> 0.

    Returns rows {"dt", "exact", "cjp", "gap", "gap_pct", "continuous"} (price units, percent of V).
    """
    rows = []
    dt = float(market_value(env_kwargs, "dt"))
    T = float(market_value(env_kwargs, "T"))
    for f in factors:
        d = dt * f
        n = T / d
        if d > T or abs(n - round(n)) > 1e-9 * max(1.0, n):
            continue
        refs = reference_policies({**env_kwargs, "dt": d})
        v = reference_values(refs, {**env_kwargs, "dt": d})
        rows.append(
            {
                "dt": d,
                "exact": v["exact"],
                "cjp": v["cjp"],
                "gap": v["exact"] - v["cjp"],
                "gap_pct": 100.0 * (v["exact"] - v["cjp"]) / abs(v["exact"]),
                "continuous": refs["cjp"].value(float(market_value(env_kwargs, "q0"))),
            }
        )
    return rows


def format_convergence(rows: list[dict]) -> str:
    """Text table of :func:`convergence_table`."""
    lines = [
        f"{'dt':>9}{'exact optimum':>15}{'CJP policy':>12}{'difference':>12}{'%':>8}{'continuous h(0,q0)':>20}"
    ]
    for r in rows:
        lines.append(
            f"{r['dt']:>9.6g}{r['exact']:>15.4f}{r['cjp']:>12.4f}{r['gap']:>12.4f}{r['gap_pct']:>8.3f}"
            f"{r['continuous']:>20.4f}"
        )
    return "\n".join(lines)
