"""PPO on a real tape: train on the in-sample part, score out of sample against the calibrated policies.

``mmenv train --market replay --lobster MSG BOOK`` (or ``--trades T --quotes Q``, ``--tape FILE``):

1. The tape is split in time (``--in-sample``, default the first half); A, k and sigma are calibrated on the
   in-sample part (:func:`mmenv.studies.tapes.calibrate_tape`), which also sets the lot and the replay
   settings (fill model, latency, fees: the arguments of ``mmenv backtest`` on real data).
2. PPO (stable-baselines3, ``MlpPolicy``, observations normalised by a running mean;
   :func:`mmenv.studies.tape_ppo.train_on_tape`) trains for
   ``--timesteps`` decisions on :class:`mmenv.replay.env.ReplayEnv` episodes of ``--episode-s`` seconds drawn
   from the in-sample part (decisions on every quote update; action: depths in ticks; reward: the change of
   mark-to-mid equity in the settlement currency of the tape's instrument, ``--instrument``: coins for an
   inverse contract). With ``--signals`` the observation also holds the order-book signals of
   :mod:`mmenv.signals` (:class:`mmenv.replay.env.ReplayEnv`'s ``signals``; the micro-price table fitted on
   the in-sample part alone, :func:`mmenv.signals.fit.fit_signals`), in training and in scoring.
3. The out-of-sample part is cut into consecutive windows of ``--episode-s`` seconds; in each window, from a
   flat start, the trained agent (deterministic actions) and the calibrated AS, GLFT and CJP policies are
   replayed on the same events with the same settings (fees: the instrument's unless ``--maker-fee-bps`` /
   ``--taker-fee-bps``). Scores, in the settlement currency: each policy's mean P&L per window with its
   standard error, and PPO minus each policy paired by window (mean and standard error of the
   differences).

Writes ``DIR/eval_replay.json`` and the trained agent (``DIR/ppo_replay.zip`` with ``DIR/vecnormalize.pkl``,
and ``DIR/signals.json``, the feature spec, with ``--signals``; :func:`mmenv.studies.tape_ppo.save_agent`),
which ``mmenv backtest --ppo-run DIR`` replays.
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path
from typing import Any

import numpy as np

from mmenv.instrument import Instrument
from mmenv.outdir import staged
from mmenv.replay.accounting import settle
from mmenv.replay.engine import replay
from mmenv.signals import FeatureSpec, feature_names
from mmenv.signals.fit import fit_signals
from mmenv.studies import sources
from mmenv.studies.common import mean_se, write_json
from mmenv.studies.strategies import tape_policies
from mmenv.studies.tape_ppo import play, replay_env, save_agent, train_on_tape
from mmenv.studies.tapes import calibrate_tape, episode_windows, median_lot, replay_config

__all__ = ["REFERENCE", "evaluate_windows", "run"]

#: The calibrated policies PPO is scored against.
REFERENCE = ("as", "glft", "optimal")


def evaluate_windows(
    model,
    venv,
    oos,
    cfg,
    policies_of,
    episode_s: float,
    instrument: Instrument | None = None,
    signals: FeatureSpec | None = None,
) -> dict[str, np.ndarray]:
    """P&L per out-of-sample window of PPO and the reference policies (same events, same settings), in the
    settlement currency of ``instrument`` (None: the replay's price units); the agent acts
    deterministically from a flat start in each window, in an env built with the ``signals`` it was
    trained with (None: none)."""
    out: dict[str, list[float]] = {"ppo": []}
    for w in episode_windows(oos, episode_s):
        env = replay_env(
            w, cfg, episode_s=w.duration_s + 1.0, start="first", instrument=instrument, signals=signals
        )
        out["ppo"].append(play(model, venv, env))
        for name, pol in policies_of(float(w.mid[0])).items():
            res = replay(pol, w, cfg)
            out.setdefault(name, []).append(res.pnl if instrument is None else settle(res, instrument).pnl)
    return {k: np.asarray(v) for k, v in out.items()}


def run(args: argparse.Namespace) -> int:
    """Train on the in-sample tape, evaluate out of sample, write eval_replay.json, print the table."""
    t0 = time.perf_counter()
    src = sources.one_tape_source(args)
    tape = src.load()
    inst = src.instrument_of(tape)
    ins, oos = tape.split(args.in_sample)
    cal = calibrate_tape(ins)
    lot = float(args.lot) if args.lot is not None else median_lot(ins)
    cfg = replay_config(args, lot=lot, sigma=float(cal.sigma), instrument=inst)
    episode_s = float(args.episode_s)
    n_envs = max(1, min(int(args.n_envs), 8))
    fspec = fit_signals(ins).spec if getattr(args, "signals", False) else None
    with staged(args.out, getattr(args, "force", False), "train") as out:
        model, venv = train_on_tape(
            ins,
            cfg,
            timesteps=int(args.timesteps),
            seed=int(args.seed),
            n_envs=n_envs,
            episode_s=episode_s,
            progress=not args.no_progress,
            env_kwargs={"instrument": inst, "signals": fspec},
        )
        save_agent(model, venv, out, signals=fspec)

        def policies_of(s0: float) -> dict[str, Any]:
            return tape_policies(
                REFERENCE,
                cal,
                max_lots=args.max_lots,
                risk_aversion=args.risk_aversion,
                horizon=args.replay_horizon_s,
                s0=s0,
            )

        pnl = evaluate_windows(model, venv, oos, cfg, policies_of, episode_s, inst, fspec)
        scores = {name: mean_se(x) for name, x in pnl.items()}
        paired = {f"ppo_minus_{n}": mean_se(pnl["ppo"] - pnl[n]) for n in REFERENCE}
        result = {
            "source": tape.source,
            "tape_validation": sources.tape_validation(tape),
            "in_sample_events": len(ins),
            "out_of_sample_events": len(oos),
            "timesteps": int(args.timesteps),
            "episode_s": episode_s,
            "lot": lot,
            "replay": cfg.to_dict(),
            "header": cfg.describe(),
            "instrument": inst.to_dict(),
            "currency": inst.settlement_currency,
            "calibration": {"A": float(cal.A), "k": float(cal.k), "sigma": float(cal.sigma)},
            "signals": None if fspec is None else {"features": feature_names(fspec), "spec": fspec.to_dict()},
            "pnl_per_window": scores,
            "paired": paired,
            "windows": {k: v.tolist() for k, v in pnl.items()},
        }
        write_json(result, out / "eval_replay.json")
    seen = "" if fspec is None else f" (observing {', '.join(feature_names(fspec))})"
    print(
        f"PPO on {tape.source}{seen}: trained {int(args.timesteps):,} decisions on the in-sample half, scored "
        f"on {scores['ppo']['n']} out-of-sample windows of {episode_s:g} s; {cfg.describe()}"
    )
    for name, s in scores.items():
        print(f"  {name:<8} P&L per window {s['mean']:+.4g} +- {s['se']:.2g} {inst.settlement_currency}")
    for name, s in paired.items():
        print(f"  {name:<18} {s['mean']:+.4g} +- {s['se']:.2g} {inst.settlement_currency} (paired by window)")
    print(f"wrote {Path(args.out) / 'eval_replay.json'} ({time.perf_counter() - t0:.1f} s)")
    return 0
