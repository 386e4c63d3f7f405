"""PPO on a real tape: train on the in-sample part, score out of sample against the calibrated policies.

``mmenv train --market replay --lobster MSG BOOK`` (or ``--trades T --quotes Q``, ``--tape FILE``):

1. The tape is split in time (``--in-sample``, default the first half); A, k and sigma are calibrated on the
   in-sample part (:func:`mmenv.studies.replay.calibrate_tape`), which also sets the lot and the replay
   settings (fill model, latency, fees: the arguments of ``mmenv backtest`` on real data).
2. PPO (stable-baselines3, ``MlpPolicy``, observations normalised by a running mean) trains for
   ``--timesteps`` decisions on :class:`mmenv.replay.env.ReplayEnv` episodes of ``--episode-s`` seconds drawn
   from the in-sample part (decisions on every quote update; action: depths in ticks; reward: the change of
   mark-to-mid equity).
3. The out-of-sample part is cut into consecutive windows of ``--episode-s`` seconds; in each window, from a
   flat start, the trained agent (deterministic actions) and the calibrated AS, GLFT and CJP policies are
   replayed on the same events with the same settings. Scores: each policy's mean P&L per window with its
   standard error, and PPO minus each policy paired by window (mean and standard error of the
   differences).

Writes ``DIR/eval_replay.json`` and the model ``DIR/ppo_replay.zip`` (with ``DIR/vecnormalize.pkl``).
"""

from __future__ import annotations

import argparse
import math
import time
from pathlib import Path
from typing import Any

import numpy as np

__all__ = ["evaluate_windows", "replay_env", "run", "train_on_tape"]

REFERENCE = ("as", "glft", "optimal")


def replay_env(tape, cfg, rescale_action: bool = False, **kwargs: Any):
    """A :class:`mmenv.replay.env.ReplayEnv` (``kwargs``: its arguments), with actions in [-1, 1]^2 mapped
    linearly onto its depth box when ``rescale_action`` (gymnasium's ``RescaleAction``)."""
    from mmenv.replay.env import ReplayEnv

    env = ReplayEnv(tape, cfg, **kwargs)
    if rescale_action:
        from gymnasium.wrappers import RescaleAction

        env = RescaleAction(env, -1.0, 1.0)
    return env


def train_on_tape(
    tape,
    cfg,
    *,
    timesteps: int,
    seed: int,
    n_envs: int,
    episode_s: float,
    progress: bool = False,
    curve: list[dict[str, float]] | None = None,
    env_kwargs: dict[str, Any] | None = None,
    rescale_action: bool = False,
):
    """PPO trained on episodes of ``tape``; returns (model, VecNormalize wrapper).

    ``curve``: a list that receives the learning curve, one {"timesteps", "mean_return", "std_return",
    "episodes"} per rollout (returns of the training episodes in reward units, before normalisation).
    ``env_kwargs``: more arguments of :class:`mmenv.replay.env.ReplayEnv` (e.g. ``max_depth_ticks``).
    ``rescale_action``: the agent acts in [-1, 1]^2, mapped linearly onto the env's depth box
    (:func:`replay_env`; an untrained policy then quotes mid-box rather than at its lower edge); run the
    trained agent in an env built the same way.
    """
    from stable_baselines3 import PPO
    from stable_baselines3.common.vec_env import DummyVecEnv, VecMonitor, VecNormalize

    def make(i: int):
        def thunk():
            env = replay_env(
                tape, cfg, rescale_action, episode_s=episode_s, start="random", **(env_kwargs or {})
            )
            env.reset(seed=seed + i)
            return env

        return thunk

    venv = VecNormalize(
        VecMonitor(DummyVecEnv([make(i) for i in range(n_envs)])), norm_obs=True, norm_reward=True
    )
    venv.seed(seed)
    n_steps = max(32, min(512, timesteps // n_envs))
    model = PPO(
        "MlpPolicy",
        venv,
        n_steps=n_steps,
        batch_size=min(256, n_steps * n_envs),
        seed=seed,
        verbose=0,
        device="cpu",
        stats_window_size=4 * n_envs,
    )
    callback = None
    if curve is not None:
        from agents.ppo import make_episode_stats_callback, make_logger

        model.set_logger(make_logger(curve, None))
        callback = make_episode_stats_callback()
    model.learn(total_timesteps=timesteps, progress_bar=progress, callback=callback)
    venv.training = False
    return model, venv


def _ppo_window(model, venv, window, cfg) -> float:
    """P&L of the trained agent over one window (deterministic actions, flat start)."""
    from mmenv.replay.env import ReplayEnv

    env = ReplayEnv(window, cfg, episode_s=window.duration_s + 1.0, start="first")
    obs, _ = env.reset(seed=0)
    total, done = 0.0, False
    while not done:
        act, _ = model.predict(venv.normalize_obs(obs[None, :]), deterministic=True)
        obs, r, _, done, _ = env.step(act[0])
        total += r
    return total


def evaluate_windows(model, venv, oos, cfg, policies_of, episode_s: float) -> dict[str, np.ndarray]:
    """P&L per out-of-sample window of PPO and the reference policies (same events, same settings)."""
    from mmenv.replay.engine import replay

    n = max(1, int(oos.duration_s // episode_s))
    wins = [w for w in oos.windows(n) if w.n_trades > 0 and len(w) > 1]
    out: dict[str, list[float]] = {"ppo": []}
    for w in wins:
        out["ppo"].append(_ppo_window(model, venv, w, cfg))
        for name, pol in policies_of(float(w.mid[0])).items():
            out.setdefault(name, []).append(replay(pol, w, cfg).pnl)
    return {k: np.asarray(v) for k, v in out.items()}


def _mean_se(x: np.ndarray) -> dict[str, float]:
    se = float(x.std(ddof=1) / math.sqrt(x.size)) if x.size > 1 else float("nan")
    return {"mean": float(x.mean()), "se": se, "n": int(x.size)}


def run(args: argparse.Namespace) -> int:
    """Train on the in-sample tape, evaluate out of sample, write eval_replay.json, print the table."""
    from mmenv.outdir import staged
    from mmenv.studies.common import write_json
    from mmenv.studies.replay import calibrate_tape, load_replay_tape, make_policies, replay_config

    t0 = time.perf_counter()
    tape = load_replay_tape(args)
    ins, oos = tape.split(args.in_sample)
    cal = calibrate_tape(ins)
    lot = float(args.lot) if args.lot is not None else float(np.median(ins.trade_qty[ins.kind == 1]))
    cfg = replay_config(args, lot=lot, sigma=float(cal.sigma))
    episode_s = float(args.episode_s)
    n_envs = max(1, min(int(args.n_envs), 8))
    with staged(args.out, getattr(args, "force", False), "train") as out:
        model, venv = train_on_tape(
            ins,
            cfg,
            timesteps=int(args.timesteps),
            seed=int(args.seed),
            n_envs=n_envs,
            episode_s=episode_s,
            progress=not args.no_progress,
        )
        model.save(out / "ppo_replay.zip")
        venv.save(str(out / "vecnormalize.pkl"))

        def policies_of(s0: float) -> dict[str, Any]:
            return make_policies(
                REFERENCE,
                cal,
                lot_size=lot,
                max_lots=args.max_lots,
                risk_aversion=args.risk_aversion,
                horizon=args.replay_horizon_s,
                s0=s0,
            )

        pnl = evaluate_windows(model, venv, oos, cfg, policies_of, episode_s)
        scores = {name: _mean_se(x) for name, x in pnl.items()}
        paired = {f"ppo_minus_{n}": _mean_se(pnl["ppo"] - pnl[n]) for n in REFERENCE}
        result = {
            "source": tape.source,
            "in_sample_events": len(ins),
            "out_of_sample_events": len(oos),
            "timesteps": int(args.timesteps),
            "episode_s": episode_s,
            "lot": lot,
            "replay": cfg.to_dict(),
            "header": cfg.describe(),
            "calibration": {"A": float(cal.A), "k": float(cal.k), "sigma": float(cal.sigma)},
            "pnl_per_window": scores,
            "paired": paired,
            "windows": {k: v.tolist() for k, v in pnl.items()},
        }
        write_json(result, out / "eval_replay.json")
    print(
        f"PPO on {tape.source}: trained {int(args.timesteps):,} decisions on the in-sample half, scored on "
        f"{scores['ppo']['n']} out-of-sample windows of {episode_s:g} s; {cfg.describe()}"
    )
    for name, s in scores.items():
        print(f"  {name:<8} P&L per window {s['mean']:+.4g} +- {s['se']:.2g}")
    for name, s in paired.items():
        print(f"  {name:<18} {s['mean']:+.4g} +- {s['se']:.2g} (paired by window)")
    print(f"wrote {Path(args.out) / 'eval_replay.json'} ({time.perf_counter() - t0:.1f} s)")
    return 0
