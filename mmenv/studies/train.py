"""Train an RL market maker (PPO) and score it against AS and the exact CJP optimum on held-out seeds.

``mmenv train --algo ppo --timesteps N --seed S --out DIR`` trains :func:`agents.ppo.train_ppo` on
``reward="penalized"`` (phi, alpha), saves the model with its config, then evaluates on ``--eval-episodes``
held-out episodes (seed ``--eval-seed``, never used in training) the PPO agent, the AS strategy with the
matched risk aversion gamma = 2 phi / sigma^2 (the mean-variance link phi = gamma sigma^2 / 2, Gueant 2016
ch. 10), the best AS over a small gamma grid, and the CJP optimum of the running-penalty objective
(Cartea, Jaimungal & Penalva 2015, section 10.2; :class:`agents.optimal.CJPAgent`). All policies see the
same market paths (common random numbers), so differences have paired standard errors.

Score of a policy: its mean episode reward J (the env's penalized reward summed over the episode, i.e.
W_T - W_0 - phi int q^2 dt - alpha q_T^2, price units), with the Monte-Carlo standard error. Optimality gap:
100 (J_opt - J_ppo) / |J_opt| percent, with the SE of the paired difference. On markets other than the AS
model ("market=" variants), the CJP policy is the model's optimum applied to a mis-specified market, no
longer an upper bound; the report then calls it ``cjp_model``.

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
    "configure_parser",
    "evaluate_policies",
    "main",
    "reference_policies",
    "run",
    "score_against",
]

#: gamma grid of the "best AS" reference (1 / price unit).
AS_GAMMA_GRID = (0.01, 0.02, 0.05, 0.1, 0.2, 0.5)


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
    from mmenv.rollout import rollout

    kwargs = {k: v for k, v in env_kwargs.items() if k != "action_mode"}
    return {name: rollout(p, episodes, seed, **kwargs).reward.sum(axis=1) for name, p in policies.items()}


def _market_value(env_kwargs: dict[str, Any], name: str) -> Any:
    from mmenv.config import MarketParams

    return env_kwargs.get(name, getattr(MarketParams(), name))


def reference_policies(env_kwargs: dict[str, Any]) -> dict[str, Any]:
    """AS (matched gamma = 2 phi / sigma^2), AS over :data:`AS_GAMMA_GRID` and the CJP optimum for ``env_kwargs``."""
    from agents import AvellanedaStoikovAgent
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
    opt_name = "optimal" if market == "model" else "cjp_model"
    refs[opt_name] = CJPAgent(
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
    return refs


def _stats(x: np.ndarray) -> dict[str, float]:
    return {
        "mean": float(x.mean()),
        "se": float(x.std(ddof=1) / math.sqrt(x.size)),
        "std": float(x.std(ddof=1)),
    }


def score_against(rewards: dict[str, np.ndarray], agent: str = "ppo") -> dict[str, Any]:
    """Means with SEs, the optimality gap and the edges of ``agent`` over every reference (paired SEs).

    Returns a JSON-ready dict: ``policies`` (name -> mean, se, std), ``best_as`` (name of the AS with the
    highest mean), ``edges`` (reference -> {diff, se} of J_agent - J_ref), ``optimality_gap_pct`` and its
    ``optimality_gap_se_pct`` when an optimum ("optimal" or "cjp_model") is present.
    """
    out: dict[str, Any] = {"policies": {n: _stats(r) for n, r in rewards.items()}}
    as_names = [n for n in rewards if n.startswith("as")]
    if as_names:
        out["best_as"] = max(as_names, key=lambda n: rewards[n].mean())
    if agent in rewards:
        a = rewards[agent]
        out["edges"] = {}
        for name, r in rewards.items():
            if name == agent:
                continue
            d = a - r
            out["edges"][name] = {"diff": float(d.mean()), "se": float(d.std(ddof=1) / math.sqrt(d.size))}
        for opt in ("optimal", "cjp_model"):
            if opt in rewards:
                j = rewards[opt].mean()
                d = rewards[opt] - a
                out["optimum"] = opt
                out["optimality_gap_pct"] = float(100.0 * d.mean() / abs(j))
                out["optimality_gap_se_pct"] = float(100.0 * d.std(ddof=1) / math.sqrt(d.size) / abs(j))
    return out


def format_scores(scores: dict[str, Any]) -> str:
    """Text table of :func:`score_against`."""
    lines = [f"{'policy':<16}{'mean reward':>14}{'SE':>8}{'std':>9}{'PPO - policy':>15}{'SE':>8}"]
    edges = scores.get("edges", {})
    for name, s in scores["policies"].items():
        e = edges.get(name)
        extra = f"{e['diff']:>15.3f}{e['se']:>8.3f}" if e else ""
        lines.append(f"{name:<16}{s['mean']:>14.3f}{s['se']:>8.3f}{s['std']:>9.3f}{extra}")
    if "optimality_gap_pct" in scores:
        lines.append(
            f"optimality gap of PPO vs {scores['optimum']}: {scores['optimality_gap_pct']:.2f}% "
            f"± {scores['optimality_gap_se_pct']:.2f}% (1 SE)"
        )
    if "best_as" in scores and "edges" in scores:
        b = scores["edges"][scores["best_as"]]
        lines.append(f"PPO - best AS ({scores['best_as']}): {b['diff']:.3f} ± {b['se']:.3f}")
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
    parser.add_argument("--out", type=Path, default=Path("runs/ppo"), help="run directory")
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
    policies = {"ppo": agent, **reference_policies(env_kwargs)}
    rewards = evaluate_policies(policies, env_kwargs, args.eval_episodes, eval_seed)
    scores = score_against(rewards)
    print(
        f"evaluation on {args.eval_episodes} held-out episodes (seed {eval_seed}), {time.perf_counter() - t0:.1f} s"
    )
    print(format_scores(scores))
    refs = {"AS (matched gamma)": scores["policies"]["as"]["mean"]}
    if "optimum" in scores:
        refs["CJP optimum" if scores["optimum"] == "optimal" else "CJP (model) policy"] = scores["policies"][
            scores["optimum"]
        ]["mean"]
    plot_learning_curve(result.curve, out / "learning_curve.png", references=refs)
    report = {
        "algo": args.algo,
        "config": config.to_json(),
        "train_seconds": result.seconds,
        "eval_episodes": args.eval_episodes,
        "eval_seed": eval_seed,
        "final_training_return": result.curve[-1]["mean_return"] if result.curve else None,
        **scores,
    }
    atomic_write_text(out / "eval.json", json.dumps(report, indent=2) + "\n")


def main(argv: list[str] | None = None) -> int:
    """Entry point of ``experiments/train_ppo.py`` (same as ``mmenv train``)."""
    from mmenv.cli import run_command

    return run_command("train", argv)
