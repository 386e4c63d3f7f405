"""RL where no closed form exists: PPO against AS and GLFT tuned on training paths, on markets beyond the AS model.

``mmenv rl-study --out DIR [--markets trend toxic garch lobster binance] [--timesteps N]``: for each simulated
market (the market variants of :mod:`mmenv.markets.variants`; any market the env builds from keyword arguments
is one more entry of :data:`MARKETS`) the steps below; for each real tape (``lobster``, ``binance``: the
shared samples under ``--data DIR``; or a tape of one's own, ``--lobster MSG BOOK``, ``--trades T --quotes Q``
or ``--tape F``) the same comparison on the event-clock replay env, trained and tuned on the first half of
the tape and scored on held-out windows of the second half, paired by window (:mod:`mmenv.studies.rl_tapes`).

1. trains PPO (:func:`agents.ppo.train_ppo`, ``N`` env steps) on the penalized reward
   W_T - W_0 - phi int q^2 dt - alpha q_T^2 (phi 0.2, alpha 0.1, the model market's task);
2. tunes the risk aversion gamma of AS (Avellaneda & Stoikov 2008, eqs. 3.17-3.18) and of GLFT (Gueant,
   Lehalle & Fernandez-Tapia 2013) over :data:`GAMMA_GRID` on training paths only (seed ``--seed``, never
   used for evaluation), by mean episode reward;
3. evaluates PPO, the tuned AS, the tuned GLFT and the model's CJP policy (Cartea, Jaimungal & Penalva
   2015, 10.2, the optimum of the AS model, mis-specified here) on held-out paths (seed 10^6 + seed), all on
   the same paths, and reports the paired difference PPO - best tuned AS with its standard error, and the
   training budget (steps and seconds);
4. diagnostics of why: inventory held (mean |q_t|, std of q_T), the correlation of the mean inventory of an
   episode with its price move s_T - s_0 (positive: inventory held in the direction of the move), and the
   one-step markout per fill (the mid's move over the step of a fill, signed in the market maker's favour:
   up after a buy, down after a sell; negative under adverse selection).

Writes DIR/metrics.json (read by ``mmenv report --rl-study DIR``; simulated markets under "markets", tapes
under "tapes"; a run updates the markets it ran and keeps the others of an existing DIR/metrics.json),
DIR/learning_curve_<market>.png and the PPO runs under DIR/<market>/.
"""

from __future__ import annotations

import argparse
import json
import math
from pathlib import Path
from typing import Any

import numpy as np

from agents import AvellanedaStoikovAgent, GLFTAgent
from agents.ppo import PPOAgent, PPOConfig, plot_learning_curve, train_ppo
from mmenv.envs.rollout import rollout_many
from mmenv.studies import rl_tapes, sources
from mmenv.studies.common import write_json
from mmenv.studies.references import (
    cjp_policy,
    evaluate_policies,
    market_value,
    reference_policies,
    reference_values,
)

__all__ = [
    "GAMMA_GRID",
    "MARKETS",
    "TAPE_MARKETS",
    "configure_parser",
    "diagnostics",
    "run",
    "run_market",
    "tune_gamma",
]

#: market name -> env arguments (market kind and its switches); a new simulated market is one more entry.
MARKETS: dict[str, dict[str, Any]] = {
    "trend": {"market": "trend", "trend": 2.0},
    "toxic": {"market": "toxic", "toxic_share": 0.5},
    "garch": {"market": "garch"},
}
#: The shared samples studied on the event-clock replay env (:data:`mmenv.studies.sources.REPLAY_SAMPLES`: the
#: LOBSTER and Binance USD-M tapes and the two COIN-M captures; their settings in
#: :data:`mmenv.studies.rl_tapes.TAPE_SETTINGS`).
TAPE_MARKETS = sources.REPLAY_SAMPLES
#: The task of every market: the penalized reward of the model market's PPO run.
TASK: dict[str, Any] = {"reward": "penalized", "phi": 0.2, "alpha": 0.1}
#: Risk aversions tried for AS and GLFT on the training paths (1 / price unit).
GAMMA_GRID = (0.005, 0.01, 0.02, 0.05, 0.1, 0.2, 0.5)


def _stats(x: np.ndarray) -> dict[str, float]:
    return {"mean": float(x.mean()), "se": float(x.std(ddof=1) / math.sqrt(x.size))}


def _params(env_kwargs: dict[str, Any]) -> dict[str, float]:
    return {n: market_value(env_kwargs, n) for n in ("A", "k", "T", "dt", "q_max", "order_size", "s0")}


def _make(kind: str, gamma: float, p: dict[str, float]):
    if kind == "as":
        return AvellanedaStoikovAgent(gamma=gamma, k=p["k"], q_max=p["q_max"], s0=p["s0"])
    return GLFTAgent(
        gamma=gamma, A=p["A"], k=p["k"], q_max=p["q_max"], order_size=p["order_size"], s0=p["s0"]
    )


def tune_gamma(
    kind: str, env_kwargs: dict[str, Any], paths: int, seed: int, grid=GAMMA_GRID
) -> tuple[float, dict[str, float]]:
    """The gamma of ``kind`` ("as" or "glft") with the highest mean episode reward on training paths.

    Returns (best gamma, {gamma: mean reward}); every gamma sees the same ``paths`` paths of seed ``seed``.
    """
    p = _params(env_kwargs)
    pols = {f"{g:g}": _make(kind, g, p) for g in grid}
    rewards = evaluate_policies(pols, env_kwargs, paths, seed)
    means = {name: float(r.mean()) for name, r in rewards.items()}
    best = max(means, key=means.get)
    return float(best), means


def diagnostics(ro) -> dict[str, float]:
    """Inventory and fill diagnostics of a :class:`mmenv.envs.rollout.Rollout` (module docstring, point 4)."""
    q = ro.inventory
    move = ro.mid[:, -1] - ro.mid[:, 0]
    qbar = q[:, 1:].mean(axis=1)
    corr = float(np.corrcoef(qbar, move)[0, 1]) if qbar.std() > 0 and move.std() > 0 else float("nan")
    before, after = ro.mid[:, :-1], ro.mid[:, 1:]
    move_for_us = np.where(ro.bought > 0, after - before, 0.0) + np.where(ro.sold > 0, before - after, 0.0)
    fills = float((ro.bought > 0).sum() + (ro.sold > 0).sum())
    return {
        "mean_abs_inventory": float(np.abs(q[:, 1:]).mean()),
        "std_final_inventory": float(q[:, -1].std(ddof=1)),
        "inventory_move_corr": corr,
        "markout_per_fill": float(move_for_us.sum() / fills) if fills else float("nan"),
        "fills_per_episode": fills / q.shape[0],
    }


def run_market(
    name: str,
    out: Path,
    timesteps: int,
    seed: int,
    tune_paths: int,
    eval_paths: int,
    n_envs: int = 64,
    progress: bool = False,
) -> dict[str, Any]:
    """Steps 1-4 of the module docstring for market ``name`` of :data:`MARKETS`; JSON-ready metrics."""
    env_kwargs = {**TASK, **MARKETS[name]}
    config = PPOConfig(
        timesteps=timesteps,
        seed=seed,
        n_envs=n_envs,
        batch_size=min(1600, n_envs * 200),
        env_kwargs=env_kwargs,
    )
    result = train_ppo(config, out / name, progress=progress)
    agent = PPOAgent(out / name)
    g_as, tune_as = tune_gamma("as", env_kwargs, tune_paths, seed)
    g_glft, tune_glft = tune_gamma("glft", env_kwargs, tune_paths, seed)
    p = _params(env_kwargs)
    pols = {
        "ppo": agent,
        "as_tuned": _make("as", g_as, p),
        "glft_tuned": _make("glft", g_glft, p),
        "cjp_model": cjp_policy(env_kwargs),
    }
    eval_seed = 1_000_000 + seed
    rolls = rollout_many(pols, eval_paths, eval_seed, **env_kwargs)
    rewards = {n: r.reward.sum(axis=1) for n, r in rolls.items()}
    edges = {}
    for ref in ("as_tuned", "glft_tuned", "cjp_model"):
        edges[ref] = _stats(rewards["ppo"] - rewards[ref])
    refs = {
        f"AS, gamma {g_as:g} tuned on training paths": float(rewards["as_tuned"].mean()),
        f"GLFT, gamma {g_glft:g} tuned on training paths": float(rewards["glft_tuned"].mean()),
    }
    curve_png = out / f"learning_curve_{name}.png"
    plot_learning_curve(result.curve, curve_png, references=refs, title=f"PPO learning curve, {name} market")
    return {
        "env_kwargs": env_kwargs,
        "timesteps": timesteps,
        "train_seconds": result.seconds,
        "train_seed": seed,
        "tune_paths": tune_paths,
        "eval_paths": eval_paths,
        "eval_seed": eval_seed,
        "as_gamma": g_as,
        "glft_gamma": g_glft,
        "tuning": {"as": tune_as, "glft": tune_glft},
        "policies": {n: _stats(r) for n, r in rewards.items()},
        "edges": edges,
        "diagnostics": {n: diagnostics(r) for n, r in rolls.items()},
        "learning_curve": curve_png.name,
        "final_training_return": result.curve[-1]["mean_return"] if result.curve else None,
    }


def summary(metrics: dict[str, Any]) -> list[str]:
    """Sentences computed from the metrics of :func:`run` (one per market)."""
    out = []
    for name, m in metrics["markets"].items():
        e, d = m["edges"]["as_tuned"], m["diagnostics"]
        verdict = (
            "wins"
            if e["mean"] > 2 * e["se"]
            else ("loses" if e["mean"] < -2 * e["se"] else "ties (within 2 SE)")
        )
        g, c = m["edges"]["glft_tuned"], m["edges"]["cjp_model"]
        out.append(
            f"{name}: PPO {verdict} against AS tuned on training paths (gamma {m['as_gamma']:g}): "
            f"{e['mean']:+.3f} ± {e['se']:.3f} per episode on {m['eval_paths']} held-out paths "
            f"(against tuned GLFT, gamma {m['glft_gamma']:g}: {g['mean']:+.3f} ± {g['se']:.3f}; against the "
            f"model's CJP policy: {c['mean']:+.3f} ± {c['se']:.3f}), after "
            f"{m['timesteps']:,} training steps ({m['train_seconds']:.0f} s). Mean |q|: PPO "
            f"{d['ppo']['mean_abs_inventory']:.2f}, AS {d['as_tuned']['mean_abs_inventory']:.2f}; "
            f"correlation of the episode's mean inventory with its price move: PPO "
            f"{d['ppo']['inventory_move_corr']:+.2f}, AS {d['as_tuned']['inventory_move_corr']:+.2f}; "
            f"one-step markout per fill: PPO {d['ppo']['markout_per_fill']:+.3f}, AS "
            f"{d['as_tuned']['markout_per_fill']:+.3f}."
        )
    return out


def configure_parser(parser: argparse.ArgumentParser) -> None:
    """Arguments of ``mmenv rl-study``."""
    parser.add_argument("--out", type=Path, default=Path("out/rl-study"), help="output directory")
    parser.add_argument(
        "--markets",
        nargs="+",
        default=None,
        choices=[*MARKETS, *TAPE_MARKETS],
        help="markets to study: simulated (trend, toxic, garch) or the shared samples (lobster, binance, "
        "binance_cm_btcusd, binance_cm_ethusd; default: trend toxic garch, or none when a tape is given by its flags)",
    )
    sources.add_data_argument(parser)
    sources.add_tape_arguments(parser, "study PPO against tuned AS and GLFT on it")
    parser.add_argument("--timesteps", type=int, default=1_000_000, help="PPO env steps per market")
    parser.add_argument("--seed", type=int, default=0, help="training and tuning seed")
    parser.add_argument("--tune-paths", type=int, default=1000, help="training paths for tuning gamma")
    parser.add_argument("--eval-paths", type=int, default=2000, help="held-out evaluation paths")
    parser.add_argument("--n-envs", type=int, default=64, help="parallel PPO episodes (tapes: at most 8)")
    parser.add_argument("--no-progress", action="store_true", help="hide the progress bars")
    parser.add_argument(
        "--signals",
        action="store_true",
        help="on tapes, also train PPO with the order-book signals in its observation and compare it with PPO "
        "without them, paired by held-out window",
    )


def _study_plan(args: argparse.Namespace) -> tuple[list[str], dict[str, sources.TapeSource]]:
    """(simulated markets, {key: tape}) of the run: ``--markets`` (default: the simulated markets, none when
    a tape is given by flags), the shared samples among them (their files checked) and the tapes given."""
    given = sources.tape_sources(args)
    names = args.markets if args.markets is not None else ([] if given else list(MARKETS))
    tapes = {n: sources.sample_source(n, args.data) for n in names if n in TAPE_MARKETS}
    for src in given:
        if src.key in tapes:
            raise ValueError(
                f"--markets {src.key} (the shared sample) and a tape of that format given by its flags"
            )
        src.check()
        tapes[src.key] = src
    return [n for n in names if n in MARKETS], tapes


def run(args: argparse.Namespace) -> int:
    """Run every market, print the summary, write DIR/metrics.json (keeping the other markets of an existing one)."""
    for name in ("timesteps", "tune_paths", "eval_paths", "n_envs"):
        v = getattr(args, name)
        if v < 2:
            raise ValueError(f"{name} must be >= 2, got {v!r}")
    markets, tapes = _study_plan(args)  # the tapes' files are checked before anything runs or is written
    ran_names = [*markets, *tapes]
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    metrics: dict[str, Any] = {"task": TASK, "gamma_grid": list(GAMMA_GRID), "markets": {}, "tapes": {}}
    old = out / "metrics.json"
    if old.is_file():
        prev = json.loads(old.read_text())
        metrics["markets"] = {k: v for k, v in prev.get("markets", {}).items() if k not in ran_names}
        metrics["tapes"] = {k: v for k, v in prev.get("tapes", {}).items() if k not in ran_names}
        kept = [*metrics["markets"], *metrics["tapes"]]
        if kept:
            print(f"keeping {', '.join(kept)} from the existing {old}")
    for name in markets:
        print(f"{name}: training PPO for {args.timesteps:,} steps, tuning AS and GLFT, evaluating ...")
        metrics["markets"][name] = run_market(
            name,
            out,
            args.timesteps,
            args.seed,
            args.tune_paths,
            args.eval_paths,
            n_envs=args.n_envs,
            progress=not args.no_progress,
        )
    for name, src in tapes.items():
        metrics["tapes"][name] = _run_tape(name, src, args, out)
    ran = {k: v for k, v in metrics["markets"].items() if k in markets}
    ran_tapes = {k: v for k, v in metrics["tapes"].items() if k in tapes}
    for line in summary({"markets": ran}) + rl_tapes.summary(ran_tapes):
        print(line)
    write_json(metrics, out / "metrics.json")
    print(f"wrote {out / 'metrics.json'}")
    return 0


def _run_tape(name: str, src: sources.TapeSource, args: argparse.Namespace, out: Path) -> dict[str, Any]:
    """One real tape (:func:`mmenv.studies.rl_tapes.run_tape_market`)."""
    tape = src.load()
    print(
        f"{name}: training PPO for {args.timesteps:,} decisions on the first half of {tape.source}, tuning "
        "AS and GLFT on its windows, evaluating on the second half ..."
    )
    return rl_tapes.run_tape_market(
        name,
        tape,
        out,
        label=src.label,
        timesteps=args.timesteps,
        seed=args.seed,
        n_envs=max(1, min(int(args.n_envs), 8)),
        progress=not args.no_progress,
        signals=bool(getattr(args, "signals", False)),
        instrument=src.instrument_of(tape),
    )


def _model_discrete_gain(task: dict[str, Any]) -> float:
    """V_exact - V_CJP on the model market for ``task`` (exact values of both recursions)."""
    v = reference_values(reference_policies(task), task)
    return v["exact"] - v["cjp"]


def report_markdown(metrics: dict[str, Any]) -> tuple[str, list[str]]:
    """The report's subsections from a study's metrics.json: (markdown, learning-curve file names). The
    simulated markets ("markets") and the real tapes ("tapes", :func:`mmenv.studies.rl_tapes.report_markdown`)
    each get their own subsection when present."""
    texts, figures = [], []
    if metrics.get("markets"):
        text, figs = _simulated_markdown(metrics)
        texts.append(text)
        figures += figs
    if metrics.get("tapes"):
        text, figs = rl_tapes.report_markdown(metrics["tapes"])
        texts.append(text)
        figures += figs
    return "\n\n".join(texts), figures


def _simulated_markdown(metrics: dict[str, Any]) -> tuple[str, list[str]]:
    """The subsection on the simulated markets."""
    rows = [
        "| market | PPO | tuned AS (gamma) | tuned GLFT (gamma) | PPO - AS | PPO - GLFT | PPO - CJP (model) "
        "| training |",
        "|---|---|---|---|---|---|---|---|",
    ]
    figures = []
    for name, m in metrics["markets"].items():
        p = m["policies"]
        ea, eg, ec = m["edges"]["as_tuned"], m["edges"]["glft_tuned"], m["edges"]["cjp_model"]
        rows.append(
            f"| {name} | {p['ppo']['mean']:.2f} ± {p['ppo']['se']:.2f} "
            f"| {p['as_tuned']['mean']:.2f} ({m['as_gamma']:g}) | {p['glft_tuned']['mean']:.2f} ({m['glft_gamma']:g}) "
            f"| {ea['mean']:+.3f} ± {ea['se']:.3f} | {eg['mean']:+.3f} ± {eg['se']:.3f} "
            f"| {ec['mean']:+.3f} ± {ec['se']:.3f} "
            f"| {m['timesteps']:,} steps, {m['train_seconds']:.0f} s |"
        )
        figures.append(m["learning_curve"])
    first = next(iter(metrics["markets"].values()))
    text = (
        "### RL where no closed form exists: simulated markets\n\n"
        "Measured on simulated markets that depart from the AS model (trend, toxic flow, GARCH volatility), not "
        f"on data: PPO trained on each market's penalized reward (phi = {metrics['task']['phi']}, alpha = "
        f"{metrics['task']['alpha']}); the risk aversion of AS and GLFT tuned over gamma in "
        f"{{{', '.join(f'{g:g}' for g in metrics['gamma_grid'])}}} on {first['tune_paths']} training paths; "
        f"all scored on {first['eval_paths']} held-out paths (a seed never used for training or tuning), "
        "every policy on the same paths, differences paired (± 1 SE). Mean episode reward:\n\n"
        + "\n".join(rows)
        + "\n\nAS and GLFT are not optimal for this objective even on the model market (discrete time, no "
        "inventory bound in AS), so an edge over them is partly that. The CJP policy is the model's optimum in "
        "continuous time; on the model market itself the exact optimum of the env beats it by "
        f"{_model_discrete_gain(metrics['task']):.3f} per episode (exact values), so only a PPO - CJP edge beyond "
        "that is evidence of PPO exploiting the market's departure from the model.\n\n"
        + "\n".join(f"- {s}" for s in summary(metrics))
    )
    return text, figures
