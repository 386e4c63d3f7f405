"""Train an RL market maker (PPO) and score it against AS, the continuous-time CJP policy and the exact optimum.

``mmenv train --algo ppo --timesteps N --seed S --out DIR`` trains :func:`agents.ppo.train_ppo` on
``reward="penalized"`` (phi, alpha), saves the model with its config, then evaluates on ``--eval-episodes``
held-out episodes (seed ``--eval-seed``, never used in training) the PPO agent, the AS strategy with the
matched risk aversion gamma = 2 phi / sigma^2 (the mean-variance link phi = gamma sigma^2 / 2, Gueant 2016
ch. 10), the best AS over a small gamma grid, and two references. All policies see the same market paths
(common random numbers), so differences have paired standard errors.

References on the AS model market:

* "continuous-time CJP policy" (``cjp``): the exact optimum of the running-penalty objective in continuous
  time (Cartea, Jaimungal & Penalva 2015, section 10.2; :class:`agents.optimal.CJPAgent`). In the env's
  discrete time (one fill per side per step, probability 1 - e^{-lambda dt}) it is not optimal.
* "exact optimum of this env" (``exact``): backward induction over (step, q) with the env's own fill model,
  hard inventory limit and action bounds (:mod:`agents.exact_optimum`); its value V(0, q0) is the exact
  expected episode reward. The CJP policy converges to it as dt -> 0.

Score of a policy: its mean episode reward J (the env's penalized reward summed over the episode, i.e.
W_T - W_0 - phi int q^2 dt - alpha q_T^2, price units), with the Monte-Carlo standard error. Optimality gap:
100 (V - J_ppo) / |V| percent against the exact optimum, estimated as the mean paired difference
(exact policy - PPO) on the common paths (its expectation is V - J_ppo; the paired SE is small) over the
recursion's V (no Monte-Carlo noise on the reference). On markets other than the AS model ("market="
variants) no exact optimum is known; the CJP policy is then the model's optimum applied to a mis-specified
market (``cjp_model``), no longer an upper bound.

Writes DIR/eval.json and DIR/learning_curve.png (with the reference lines); prints the table.
"""

from __future__ import annotations

import argparse
import json
import math
import time
from pathlib import Path
from typing import Any

import numpy as np

from mmenv.outdir import atomic_write_text, staged

__all__ = [
    "AS_GAMMA_GRID",
    "REFERENCE_NAMES",
    "configure_parser",
    "convergence_table",
    "evaluate_policies",
    "reference_policies",
    "reference_values",
    "run",
    "score_against",
]

#: gamma grid of the "best AS" reference (1 / price unit).
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
    from mmenv.envs.rollout import rollout_many

    kwargs = {k: v for k, v in env_kwargs.items() if k != "action_mode"}
    runs = rollout_many(policies, episodes, seed, **kwargs)
    return {name: r.reward.sum(axis=1) for name, r in runs.items()}


def _market_value(env_kwargs: dict[str, Any], name: str) -> Any:
    from mmenv.config import MarketParams

    return env_kwargs.get(name, getattr(MarketParams(), name))


def reference_policies(env_kwargs: dict[str, Any]) -> dict[str, Any]:
    """AS (matched gamma = 2 phi / sigma^2), AS over :data:`AS_GAMMA_GRID`, the CJP policy and, on the model
    market, the exact optimum of the env (:func:`agents.exact_optimum.exact_optimum_for_env`) for ``env_kwargs``."""
    from agents import AvellanedaStoikovAgent
    from agents.exact_optimum import exact_optimum_for_env
    from agents.optimal import CJPAgent

    g = {n: _market_value(env_kwargs, n) for n in ("A", "k", "T", "dt", "q_max", "order_size", "sigma", "s0")}
    phi = float(env_kwargs.get("phi", 0.0))
    alpha = float(env_kwargs.get("alpha", 0.0))
    market = env_kwargs.get("market", "model")
    gamma = max(2.0 * phi / g["sigma"] ** 2, 1e-6)
    refs: dict[str, Any] = {
        "as": AvellanedaStoikovAgent(gamma=gamma, k=g["k"], q_max=g["q_max"], s0=g["s0"]),
    }
    for gm in AS_GAMMA_GRID:
        refs[f"as_gamma={gm:g}"] = AvellanedaStoikovAgent(gamma=gm, k=g["k"], q_max=g["q_max"], s0=g["s0"])
    refs["cjp" if market == "model" else "cjp_model"] = CJPAgent(
        phi=phi,
        alpha=alpha,
        A=g["A"],
        k=g["k"],
        T=g["T"],
        dt=g["dt"],
        q_max=g["q_max"],
        order_size=g["order_size"],
        mu=float(env_kwargs.get("mu", 0.0)),
        s0=g["s0"],
    )
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
        q0 = float(_market_value(env_kwargs, "q0"))
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
    dt = float(_market_value(env_kwargs, "dt"))
    T = float(_market_value(env_kwargs, "T"))
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
                "continuous": refs["cjp"].value(float(_market_value(env_kwargs, "q0"))),
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


def configure_parser(parser: argparse.ArgumentParser) -> None:
    """Arguments of ``mmenv train``."""
    parser.add_argument("--algo", choices=["ppo"], default="ppo", help="RL algorithm (ppo)")
    parser.add_argument(
        "--timesteps",
        type=int,
        default=5_000_000,
        help="env steps of training (5M: about 3-4 min on 2 CPU cores)",
    )
    parser.add_argument("--seed", type=int, default=0, help="training seed")
    parser.add_argument("--out", type=Path, default=Path("out/train"), help="run directory")
    parser.add_argument("--n-envs", type=int, default=64, help="parallel episodes")
    parser.add_argument(
        "--vec-env", choices=["native", "dummy", "subproc"], default="native", help="parallel env backend"
    )
    parser.add_argument("--market", default="model", help="market kind of make_market (model, ...)")
    parser.add_argument("--phi", type=float, default=0.2, help="running inventory penalty")
    parser.add_argument("--alpha", type=float, default=0.1, help="terminal inventory penalty")
    parser.add_argument("--mu", type=float, default=None, help="drift of the mid (price / time)")
    parser.add_argument("--eval-episodes", type=int, default=2000, help="held-out evaluation episodes")
    parser.add_argument("--eval-seed", type=int, default=None, help="evaluation seed (default 10^6 + seed)")
    parser.add_argument("--no-progress", action="store_true", help="hide the progress bar")
    parser.add_argument("--episode-s", type=float, default=30.0, help="--market replay: episode length (s)")
    from mmenv.studies.replay import add_replay_arguments

    add_replay_arguments(parser)


def run(args: argparse.Namespace) -> int:
    """Train, save, evaluate, print and write DIR/eval.json (``--market replay``: mmenv.studies.train_replay)."""
    from agents.ppo import PPOConfig

    if args.market == "replay":
        from mmenv.studies import train_replay

        return train_replay.run(args)

    if args.eval_episodes < 2:
        raise ValueError(f"eval_episodes must be >= 2, got {args.eval_episodes!r}")
    env_kwargs: dict[str, Any] = {"reward": "penalized", "phi": args.phi, "alpha": args.alpha}
    if args.market != "model":
        env_kwargs["market"] = args.market
    if args.mu is not None:
        env_kwargs["mu"] = args.mu
    config = PPOConfig(
        timesteps=args.timesteps,
        seed=args.seed,
        n_envs=args.n_envs,
        vec_env=args.vec_env,
        batch_size=min(1600, args.n_envs * 200),
        env_kwargs=env_kwargs,
    )
    print(f"training PPO for {config.timesteps:,} steps on {env_kwargs} (seed {config.seed}) -> {args.out}")
    with staged(args.out, getattr(args, "force", False), "train") as out:
        _train_and_evaluate(args, config, env_kwargs, out)
    print(f"wrote {Path(args.out) / 'eval.json'}")
    return 0


def _train_and_evaluate(args: argparse.Namespace, config, env_kwargs: dict[str, Any], out: Path) -> None:
    from agents.ppo import PPOAgent, plot_learning_curve, train_ppo

    result = train_ppo(config, out, progress=not args.no_progress)
    print(f"trained in {result.seconds:.1f} s ({config.timesteps / result.seconds:,.0f} env steps/s)")
    agent = PPOAgent(out)
    eval_seed = 1_000_000 + args.seed if args.eval_seed is None else args.eval_seed
    t0 = time.perf_counter()
    refs = reference_policies(env_kwargs)
    values = reference_values(refs, env_kwargs)
    rewards = evaluate_policies({"ppo": agent, **refs}, env_kwargs, args.eval_episodes, eval_seed)
    scores = score_against(rewards, values=values)
    print(
        f"evaluation on {args.eval_episodes} held-out episodes (seed {eval_seed}), {time.perf_counter() - t0:.1f} s"
    )
    print(format_scores(scores))
    lines = {"AS (matched gamma)": scores["policies"]["as"]["mean"]}
    for name in ("exact", "cjp"):
        if name in values:
            lines[REFERENCE_NAMES[name]] = values[name]
    if "cjp_model" in scores["policies"]:
        lines[REFERENCE_NAMES["cjp_model"]] = scores["policies"]["cjp_model"]["mean"]
    plot_learning_curve(result.curve, out / "learning_curve.png", references=lines)
    conv = convergence_table(env_kwargs) if "exact" in values and "cjp" in values else []
    if conv:
        print("exact optimum of this env vs the continuous-time CJP policy as dt shrinks (exact values):")
        print(format_convergence(conv))
    report = {
        "algo": args.algo,
        "config": config.to_json(),
        "train_seconds": result.seconds,
        "eval_episodes": args.eval_episodes,
        "eval_seed": eval_seed,
        "final_training_return": result.curve[-1]["mean_return"] if result.curve else None,
        **scores,
        "dt_convergence": conv,
    }
    atomic_write_text(out / "eval.json", json.dumps(report, indent=2) + "\n")
