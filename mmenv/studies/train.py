"""Train an RL market maker (PPO) and score it against AS, the continuous-time CJP policy and the exact optimum.

``mmenv train --algo ppo --timesteps N --seed S --out DIR`` trains :func:`agents.ppo.train_ppo` on
``reward="penalized"`` (phi, alpha), saves the model with its config, then evaluates on ``--eval-episodes``
held-out episodes (seed ``--eval-seed``, never used in training) the PPO agent, the AS strategy with the
matched risk aversion gamma = 2 phi / sigma^2 (the mean-variance link phi = gamma sigma^2 / 2, Gueant 2016
ch. 10), the best AS over a small gamma grid, and two references. All policies see the same market paths
(common random numbers), so differences have paired standard errors.

The references and the paired scores are those of :mod:`mmenv.studies.references`.

Score of a policy: its mean episode reward J (the env's penalized reward summed over the episode, i.e.
W_T - W_0 - phi int q^2 dt - alpha q_T^2, price units), with the Monte-Carlo standard error. Optimality gap:
100 (V - J_ppo) / |V| percent against the exact optimum, estimated as the mean paired difference
(exact policy - PPO) on the common paths (its expectation is V - J_ppo; the paired SE is small) over the
recursion's V (no Monte-Carlo noise on the reference). On markets other than the AS model ("market="
variants) no exact optimum is known; the CJP policy is then the model's optimum applied to a mis-specified
market (``cjp_model``), no longer an upper bound.

Writes DIR/eval.json and DIR/learning_curve.png (with the reference lines); prints the table. With a tape
(``--market replay`` and ``--lobster``, ``--trades``/``--quotes`` or ``--tape``) PPO is trained on the tape
instead (:mod:`mmenv.studies.tape_training`), with ``--signals`` the order-book signals in its observation.
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path
from typing import Any

from agents.ppo import PPOAgent, PPOConfig, plot_learning_curve, train_ppo
from mmenv.outdir import atomic_write_text, staged
from mmenv.studies import sources, tapes
from mmenv.studies.references import (
    REFERENCE_NAMES,
    convergence_table,
    evaluate_policies,
    format_convergence,
    format_scores,
    reference_policies,
    reference_values,
    score_against,
)

__all__ = ["configure_parser", "run"]


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
    parser.add_argument(
        "--market",
        default="model",
        help="market kind of make_market (model, ...), or replay: PPO on a tape (implied by a tape's flags)",
    )
    parser.add_argument("--phi", type=float, default=0.2, help="running inventory penalty")
    parser.add_argument("--alpha", type=float, default=0.1, help="terminal inventory penalty")
    parser.add_argument("--mu", type=float, default=None, help="drift of the mid (price / time)")
    parser.add_argument("--eval-episodes", type=int, default=2000, help="held-out evaluation episodes")
    parser.add_argument("--eval-seed", type=int, default=None, help="evaluation seed (default 10^6 + seed)")
    parser.add_argument("--no-progress", action="store_true", help="hide the progress bar")
    parser.add_argument("--episode-s", type=float, default=30.0, help="--market replay: episode length (s)")
    parser.add_argument(
        "--signals",
        action="store_true",
        help="--market replay: the order-book signals of mmenv.signals in the observation (micro-price table "
        "fitted on the in-sample part), saved with the agent (signals.json) for mmenv backtest --ppo-run",
    )
    g = parser.add_argument_group("real data (PPO trained and scored on a tape)")
    sources.add_tape_arguments(g, "train on its first part, score on the rest (--market replay)")
    tapes.add_replay_settings(g)


def run(args: argparse.Namespace) -> int:
    """Train, save, evaluate, print and write DIR/eval.json (a tape: :mod:`mmenv.studies.tape_training`)."""
    if sources.tape_requested(args) or args.market == "replay":
        if args.market not in ("model", "replay"):
            raise ValueError(f"a tape is trained on with --market replay, got --market {args.market}")
        from mmenv.studies import tape_training  # stable-baselines3 and the tape's calibration: only here

        return tape_training.run(args)
    if getattr(args, "signals", False):
        raise ValueError("--signals is an option of PPO on a tape; add --market replay and a tape's flags")

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
