"""PPO on real tapes against AS and GLFT tuned in sample: trained, tuned and scored on disjoint parts of the tape.

``mmenv rl-study --markets lobster binance [--data DIR]`` runs, for each shared sample of :data:`TAPE_SETTINGS`
(:mod:`mmenv.data.samples`), and ``mmenv rl-study --lobster MSG BOOK`` (``--trades T --quotes Q``, ``--tape F``)
for a tape of one's own, what :mod:`mmenv.studies.rl_study` runs on the simulated markets:

1. The tape is split in time: the first half (``in_sample``) is the training part, the second half is held
   out. A, k and sigma are calibrated on the training part (:func:`mmenv.studies.tapes.calibrate_tape`),
   the lot is the median training trade size, the inventory limit ``max_lots`` lots, and the intensity law
   is selected out of sample within the training part (:func:`mmenv.studies.tapes.select_law`), as the
   replay backtest does. Replay settings: the queue-aware engine, zero latency, no fees, decisions on every
   top-of-book update; the AS horizon T is the window length.
2. Tuning: the training part is cut into consecutive windows of ``episode_s`` seconds; for every risk
   aversion r of :data:`RISK_GRID` (the AS / GLFT gamma per lot is ``r / (k sigma^2 T)``, so that the
   inventory term moves AS's quotes by at most ``r / k`` per lot held) AS, GLFT and, when the selected law
   is not the exponential, their quotes under that law (``as-<law>``, ``glft-<law>``) are replayed on
   every training window from a flat start; each family keeps the r with the highest mean P&L per window,
   and "best tuned AS" (GLFT) is the AS-type (GLFT-type) policy with the highest training mean.
3. PPO (stable-baselines3, :func:`mmenv.studies.tape_ppo.train_on_tape`) trains for ``timesteps``
   decisions on :class:`mmenv.replay.env.ReplayEnv` episodes of ``episode_s`` seconds drawn from the
   training part (reward: the change of mark-to-mid equity in the instrument's settlement currency, coins
   for an inverse contract; observation: inventory, time, spread, queue imbalance, last trade side, event
   gap, mid change, sigma; action: the two depths in ticks, in
   [0.5, ``max_depth_ticks``], which the agent sets through [-1, 1] mapped linearly onto that box). The
   learning curve is the mean return of the training episodes per rollout.
4. The held-out half is cut into windows of ``episode_s`` seconds; in each, from a flat start, PPO
   (deterministic actions) and the tuned policies are replayed on the same events. Scores: P&L per window
   in the settlement currency (mark to mid at the window's end) with its SE, and PPO minus each tuned policy paired by window.
5. Diagnostics (:func:`replay_diagnostics`): inventory (time-weighted mean |q| and std of the final q, in
   lots), fills per window, the spread captured and the markouts at 1 s and 10 s per unit filled (ticks;
   negative: adverse selection), the quoted depth, and the quote skew, ``(bid + ask) / 2 - mid`` in ticks,
   correlated with the queue imbalance of the top of book and with the inventory. The imbalance's own
   predictive power on the held-out half (correlation with the mid change over the next second) says how
   much signal there was to use.
"""

from __future__ import annotations

import math
import os
import time
from pathlib import Path
from typing import Any

import numpy as np
from scipy import stats

from agents.ppo import configure_torch, plot_learning_curve
from mmenv.analytics.scores import markouts, mid_at
from mmenv.instrument import Instrument
from mmenv.replay.accounting import settle
from mmenv.replay.engine import ReplayConfig, replay
from mmenv.signals import feature_names
from mmenv.signals.fit import fit_signals
from mmenv.studies import sources
from mmenv.studies.common import fmt_number, mean_se
from mmenv.studies.strategies import law_policies, tape_policies
from mmenv.studies.tape_ppo import play, replay_env, save_agent, train_on_tape
from mmenv.studies.tapes import calibrate_tape, episode_windows, median_lot, select_law

__all__ = [
    "RISK_GRID",
    "TAPE_SETTINGS",
    "imbalance_signal",
    "plot_tape_curve",
    "replay_diagnostics",
    "report_markdown",
    "run_tape_market",
    "summary",
    "tune_risk_aversion",
]

#: Risk aversions r tried on the training windows (scale-free: AS's inventory shift is at most r / k per lot).
RISK_GRID = (0.1, 0.3, 1.0, 3.0, 10.0, 30.0, 100.0, 1000.0)
#: The study's settings per tape, by sample key (:data:`mmenv.data.samples.SAMPLES`) or, for a tape given by
#: flags, by format: the window (episode) length in seconds and the largest depth PPO may quote (ticks; of
#: the order of the standard deviation of the mid's move over one window: 15.7 on BTCUSDT, 17.5 on the BTCUSD
#: COIN-M perpetual and 1.10 on ETHUSD over 5 s). A generic tape gets :data:`DEFAULT_SETTINGS`.
TAPE_SETTINGS: dict[str, dict[str, float]] = {
    "lobster": {"episode_s": 60.0, "max_depth_ticks": 50.0},
    "binance": {"episode_s": 5.0, "max_depth_ticks": 200.0},
    "binance_cm_btcusd": {"episode_s": 5.0, "max_depth_ticks": 200.0},
    "binance_cm_ethusd": {"episode_s": 5.0, "max_depth_ticks": 150.0},
}
DEFAULT_SETTINGS: dict[str, float] = {"episode_s": 60.0, "max_depth_ticks": 50.0}
MARKOUT_S = (1.0, 10.0)
_POLICY_NAMES = {
    "ppo": "PPO",
    "as_tuned": "AS, tuned r",
    "glft_tuned": "GLFT, tuned r",
    "as_default": "AS, r = 1",
    "ppo_signals": "PPO with the signals",
}


def _policy_factory(cal, law, *, max_lots: float, horizon: float):
    """f(family, r, s0) -> a fresh policy: family "as", "glft", "as-<law>" or "glft-<law>"."""

    def make(family: str, r: float, s0: float):
        kw = {"max_lots": max_lots, "risk_aversion": r, "horizon": horizon, "s0": s0}
        if family in ("as", "glft"):
            return tape_policies([family], cal, **kw)[family]
        return law_policies(law, cal, **kw)[family]

    return make


def _families(law) -> list[str]:
    out = ["as", "glft"]
    if law is not None and law.name != "exponential":
        out += [f"as-{law.name}", f"glft-{law.name}"]
    return out


def _pnl(res, instrument: Instrument | None) -> float:
    """A replay's P&L in the settlement currency of ``instrument`` (None: the replay's price units)."""
    return res.pnl if instrument is None else settle(res, instrument).pnl


def tune_risk_aversion(make, families, windows, cfg, grid=None, instrument=None) -> dict[str, Any]:
    """Mean P&L per training window of every (family, r), in the settlement currency of ``instrument``
    (None: price units); the best r per family (module docstring, step 2).

    Returns {family: {"best": r, "mean_pnl": {r: mean}, "errors": {r: message}}}; an r whose quotes cannot be
    built (a law that does not decay where the quotes would sit) is listed under "errors", not scored.
    """
    grid = RISK_GRID if grid is None else grid
    out: dict[str, Any] = {}
    for fam in families:
        means: dict[str, float] = {}
        errors: dict[str, str] = {}
        for r in grid:
            try:
                pnl = [_pnl(replay(make(fam, r, float(w.mid[0])), w, cfg), instrument) for w in windows]
            except ValueError as exc:
                errors[f"{r:g}"] = str(exc)
                continue
            means[f"{r:g}"] = float(np.mean(pnl))
        if means:
            best = max(means, key=means.get)
            out[fam] = {"best": float(best), "mean_pnl": means, "errors": errors}
    return out


def imbalance_signal(tape, horizon_s: float = 1.0) -> float:
    """Correlation, over the quote events of ``tape``, of the queue imbalance (bid - ask size) / (bid + ask
    size) with the mid's change over the next ``horizon_s`` seconds (the signal an agent could lean on)."""
    q = tape.kind == 0
    t = tape.time[q]
    mid = tape.mid[q]
    imb = (tape.bid_qty[q] - tape.ask_qty[q]) / (tape.bid_qty[q] + tape.ask_qty[q])
    j = np.searchsorted(t, t + int(horizon_s * 1e9), side="right") - 1
    ok = t + int(horizon_s * 1e9) <= t[-1]
    move = mid[j] - mid
    return _corr(imb[ok], move[ok])


def _corr(a: np.ndarray, b: np.ndarray) -> float:
    if a.size < 3 or a.std() == 0 or b.std() == 0:
        return math.nan
    return float(np.corrcoef(a, b)[0, 1])


def replay_diagnostics(results, windows, lot: float, tick: float) -> dict[str, float]:
    """Inventory, fills, markouts and quote skew of one policy over its per-window results (module
    docstring, step 5). ``results[i]`` is the :class:`mmenv.backtest.BacktestResult` of ``windows[i]``."""
    absq_w = absq_t = 0.0
    finals, n_fills, units = [], 0, 0.0
    capture = 0.0
    mk = np.zeros(len(MARKOUT_S))
    skew, imb, inv, fut = [], [], [], []
    depth_sum, depth_n, both_t, total_t = 0.0, 0, 0.0, 0.0
    for res, w in zip(results, windows, strict=True):
        st, fl = res.states, res.fills
        t = np.asarray(st["time"], dtype=np.float64)
        q = np.asarray(st["inventory"], dtype=np.float64) / lot
        dt = np.diff(t)
        absq_w += float(np.sum(np.abs(q[:-1]) * dt))
        absq_t += float(np.sum(dt))
        finals.append(q[-1])
        if len(fl):
            n_fills += len(fl)
            units += float(np.sum(fl["size"]))
            capture += float(np.sum(fl["size"] * fl["side"] * (fl["mid"] - fl["price"])))
            mk += markouts(fl, st, MARKOUT_S).sum(axis=0)
        mid = np.asarray(st["mid"], dtype=np.float64)
        bid, ask = np.asarray(st["bid"], dtype=np.float64), np.asarray(st["ask"], dtype=np.float64)
        both = np.isfinite(bid) & np.isfinite(ask)
        both_t += float(np.sum(dt[both[:-1]]))
        total_t += float(np.sum(dt))
        ev = np.asarray(st["event"], dtype=np.int64)
        sel = both & (ev >= 0)
        if sel.any():
            e = ev[sel]
            c = ((bid[sel] + ask[sel]) / 2.0 - mid[sel]) / tick
            skew.append(c)
            imb.append((w.bid_qty[e] - w.ask_qty[e]) / (w.bid_qty[e] + w.ask_qty[e]))
            inv.append(q[sel])
            fut.append((mid_at(st, t[sel] + 1.0) - mid[sel]) / tick)
            depth_sum += float(np.sum((mid[sel] - bid[sel]) + (ask[sel] - mid[sel]))) / tick / 2.0
            depth_n += int(sel.sum())
    cat = (lambda xs: np.concatenate(xs)) if skew else (lambda xs: np.zeros(0))
    skew_a, imb_a, inv_a, fut_a = cat(skew), cat(imb), cat(inv), cat(fut)
    per_unit = (lambda v: v / units / tick) if units else (lambda v: math.nan)
    out = {
        "mean_abs_inventory_lots": absq_w / absq_t if absq_t > 0 else math.nan,
        "std_final_inventory_lots": float(np.std(finals, ddof=1)) if len(finals) > 1 else math.nan,
        "fills_per_window": n_fills / len(results),
        "units_per_fill_lots": units / n_fills / lot if n_fills else math.nan,
        "spread_capture_ticks": per_unit(capture),
        "mean_depth_ticks": depth_sum / depth_n if depth_n else math.nan,
        "share_time_two_sided": both_t / total_t if total_t > 0 else math.nan,
        "skew_imbalance_corr": _corr(skew_a, imb_a),
        "skew_inventory_corr": _corr(skew_a, inv_a),
        "inventory_next_move_corr": _corr(inv_a, fut_a),
    }
    for h, v in zip(MARKOUT_S, mk, strict=True):
        out[f"markout_{h:g}s_ticks"] = per_unit(float(v))
    return out


def _load() -> list[float] | None:
    """The machine's 1, 5 and 15-minute load averages (None where the OS has none)."""
    return list(os.getloadavg()) if hasattr(os, "getloadavg") else None


def _ppo_result(model, venv, window, cfg, max_depth_ticks: float, signals=None, instrument=None):
    """The trained agent over one window, deterministic actions, flat start: its BacktestResult
    (``signals``: the feature spec of an agent trained with the order-book signals in its observation)."""
    env = replay_env(
        window,
        cfg,
        True,
        episode_s=window.duration_s + 1.0,
        start="first",
        max_depth_ticks=max_depth_ticks,
        signals=signals,
        instrument=instrument,
    )
    play(model, venv, env)
    return env.unwrapped.result("ppo")


def run_tape_market(
    name: str,
    tape,
    out: Path,
    *,
    label: str | None = None,
    timesteps: int,
    seed: int,
    n_envs: int = 8,
    episode_s: float | None = None,
    max_depth_ticks: float | None = None,
    max_lots: float = 10.0,
    in_sample: float = 0.5,
    grid=None,
    progress: bool = False,
    signals: bool = False,
    instrument: Instrument | None = None,
) -> dict[str, Any]:
    """Steps 1-5 of the module docstring on ``tape``; JSON-ready metrics. ``name``: the key of its settings in
    :data:`TAPE_SETTINGS` (a sample key or a tape's format; ``episode_s`` and ``max_depth_ticks`` override them)
    and of its outputs; ``label``: its name in the tables (default: the tape's source). Writes
    ``out/learning_curve_<name>.png`` and the trained agent under ``out/<name>/``
    (:func:`mmenv.studies.tape_ppo.save_agent`; it acts in [-1, 1]^2 mapped onto depths of
    [0.5, ``max_depth_ticks``] ticks, :func:`mmenv.studies.tape_ppo.replay_env`). ``signals``: also train
    a second PPO, same seed and budget, with the order-book signals in its observation (the env's
    ``signals``, the micro-price table fitted on the first half, :func:`mmenv.signals.fit.fit_signals`),
    scored on the same windows as ``ppo_signals``, with its paired edge over PPO without them, and saved
    under ``out/<name>-signals/`` with its feature spec (``save_agent(..., signals=)``; the metrics'
    ``signals.agent``). ``instrument``: the :class:`mmenv.instrument.Instrument` traded; rewards, tuning and scores are in its
    settlement currency (coins for an inverse contract; None: the replay's price units)."""
    grid = RISK_GRID if grid is None else tuple(grid)
    spec = TAPE_SETTINGS.get(name, DEFAULT_SETTINGS)
    episode_s = float(episode_s if episode_s is not None else spec["episode_s"])
    max_depth = float(max_depth_ticks if max_depth_ticks is not None else spec["max_depth_ticks"])
    ins, oos = tape.split(in_sample)
    cal = calibrate_tape(ins)
    lot = median_lot(ins)
    cfg = ReplayConfig(order_size=lot, q_max=lot * max_lots, horizon_s=episode_s, sigma=float(cal.sigma))
    law = select_law(ins)
    make = _policy_factory(cal, law, max_lots=max_lots, horizon=episode_s)
    train_w, test_w = episode_windows(ins, episode_s), episode_windows(oos, episode_s)
    t0 = time.perf_counter()
    tuning = tune_risk_aversion(make, _families(law), train_w, cfg, grid, instrument)
    tune_s = time.perf_counter() - t0
    best = {}
    for kind in ("as", "glft"):
        fams = [f for f in tuning if f.split("-")[0] == kind]
        f = max(fams, key=lambda f: tuning[f]["mean_pnl"][f"{tuning[f]['best']:g}"])
        best[kind] = {
            "family": f,
            "risk_aversion": tuning[f]["best"],
            "train_mean_pnl": tuning[f]["mean_pnl"][f"{tuning[f]['best']:g}"],
        }
    configure_torch(1)

    def train(curve_out: list[dict[str, float]], **env_extra: Any):
        return train_on_tape(
            ins,
            cfg,
            timesteps=timesteps,
            seed=seed,
            n_envs=n_envs,
            episode_s=episode_s,
            progress=progress,
            curve=curve_out,
            env_kwargs={"max_depth_ticks": max_depth, "instrument": instrument, **env_extra},
            rescale_action=True,
        )

    curve: list[dict[str, float]] = []
    t0, c0, load0 = time.perf_counter(), time.process_time(), _load()
    model, venv = train(curve)
    train_s, train_cpu = time.perf_counter() - t0, time.process_time() - c0
    save_agent(model, venv, out / name, rescale_action=True, max_depth_ticks=max_depth)
    with_signals = None
    if signals:
        fspec = fit_signals(ins).spec
        curve_s: list[dict[str, float]] = []
        t1 = time.perf_counter()
        model_s, venv_s = train(curve_s, signals=fspec)
        with_signals = {"model": model_s, "venv": venv_s, "spec": fspec, "curve": curve_s}
        with_signals["train_seconds"] = time.perf_counter() - t1
        save_agent(
            model_s,
            venv_s,
            out / f"{name}-signals",
            signals=fspec,
            rescale_action=True,
            max_depth_ticks=max_depth,
        )
    t0 = time.perf_counter()
    results: dict[str, list] = {"ppo": [], "as_tuned": [], "glft_tuned": [], "as_default": []}
    if with_signals is not None:
        results["ppo_signals"] = []
    for w in test_w:
        s0 = float(w.mid[0])
        results["ppo"].append(_ppo_result(model, venv, w, cfg, max_depth, instrument=instrument))
        if with_signals is not None:
            ws = with_signals
            results["ppo_signals"].append(
                _ppo_result(ws["model"], ws["venv"], w, cfg, max_depth, ws["spec"], instrument)
            )
        results["as_tuned"].append(
            replay(make(best["as"]["family"], best["as"]["risk_aversion"], s0), w, cfg)
        )
        results["glft_tuned"].append(
            replay(make(best["glft"]["family"], best["glft"]["risk_aversion"], s0), w, cfg)
        )
        results["as_default"].append(replay(make("as", 1.0, s0), w, cfg))
    eval_s = time.perf_counter() - t0
    pnl = {n: np.array([_pnl(r, instrument) for r in rs]) for n, rs in results.items()}
    edges = {ref: mean_se(pnl["ppo"] - pnl[ref]) for ref in ("as_tuned", "glft_tuned", "as_default")}
    if with_signals is not None:
        edges["ppo_signals_vs_ppo"] = mean_se(pnl["ppo_signals"] - pnl["ppo"])
        edges["ppo_signals_vs_as_tuned"] = mean_se(pnl["ppo_signals"] - pnl["as_tuned"])
    png = out / f"learning_curve_{name}.png"
    label = tape.source if label is None else label
    plot_tape_curve(
        curve,
        best,
        label,
        episode_s,
        png,
        held_out=float(pnl["ppo"].mean()),
        signals_curve=None if with_signals is None else with_signals["curve"],
    )
    return {
        "label": label,
        "source": tape.source,
        "tape_validation": sources.tape_validation(tape),
        "tick": float(tape.tick),
        "currency": "price units" if instrument is None else instrument.settlement_currency,
        "episode_s": episode_s,
        "in_sample": {
            "fraction": in_sample,
            "n_events": len(ins),
            "duration_s": ins.duration_s,
            "windows": len(train_w),
        },
        "out_of_sample": {"n_events": len(oos), "duration_s": oos.duration_s, "windows": len(test_w)},
        "calibration": {
            "A_per_s": float(cal.A),
            "k_per_price": float(cal.k),
            "sigma_per_sqrt_s": float(cal.sigma),
        },
        "selected_law": None if law is None else law.name,
        "lot": lot,
        "max_lots": max_lots,
        "replay": cfg.to_dict(),
        "risk_grid": list(grid),
        "tuning": tuning,
        "best": best,
        "timesteps": int(timesteps),
        "n_envs": int(n_envs),
        "max_depth_ticks": max_depth,
        "train_seconds": train_s,
        "train_cpu_seconds": train_cpu,
        "load_average_before_training": load0,
        "tune_seconds": tune_s,
        "eval_seconds": eval_s,
        "cores": os.cpu_count(),
        "torch_threads": 1,
        "load_average": _load(),
        "policies": {n: mean_se(x) for n, x in pnl.items()},
        "edges": edges,
        "pnl_per_window": {n: x.tolist() for n, x in pnl.items()},
        "diagnostics": {n: replay_diagnostics(rs, test_w, lot, tape.tick) for n, rs in results.items()},
        "imbalance_next_1s_corr": imbalance_signal(oos, 1.0),
        "learning_curve": png.name,
        "curve": curve,
        "final_training_return": curve[-1]["mean_return"] if curve else None,
        "signals": None
        if with_signals is None
        else {
            "features": feature_names(with_signals["spec"]),
            "agent": f"{name}-signals",
            "train_seconds": with_signals["train_seconds"],
            "curve": with_signals["curve"],
            "final_training_return": with_signals["curve"][-1]["mean_return"]
            if with_signals["curve"]
            else None,
        },
    }


def _budget(m: dict[str, Any]) -> str:
    """The training budget in words: CPU seconds on one core and wall seconds."""
    cpu = m.get("train_cpu_seconds")
    head = f"{cpu:.0f} s of CPU on one core, " if isinstance(cpu, (int, float)) else "one core, "
    return head + f"{m['train_seconds']:.0f} s wall"


def _family_label(family: str) -> str:
    """ "as" -> "AS", "glft-two_part" -> "GLFT (two_part law)"."""
    kind, _, law = family.partition("-")
    return kind.upper() + (f" ({law} law)" if law else "")


def plot_tape_curve(
    curve,
    best: dict[str, Any],
    label: str,
    episode_s: float,
    png: Path,
    held_out: float | None = None,
    signals_curve: list[dict[str, float]] | None = None,
) -> None:
    """The learning curve of a tape with the tuned AS and GLFT's mean P&L per training window as references
    (and ``held_out``, the trained PPO's mean P&L per held-out window, when given; ``signals_curve``: the
    curve of PPO trained with the order-book signals, drawn beside it)."""
    refs = {
        f"{_family_label(b['family'])}, r {b['risk_aversion']:g}: mean P&L per training window": b[
            "train_mean_pnl"
        ]
        for b in (best["as"], best["glft"])
    }
    if held_out is not None:
        refs["PPO (deterministic): mean P&L per held-out window"] = held_out
    plot_learning_curve(
        curve,
        png,
        references=refs,
        title=f"PPO on the {label} tape (training half)",
        ylabel=f"P&L per {episode_s:g} s episode",
        more=None
        if not signals_curve
        else {"PPO with the order-book signals (training episodes)": signals_curve},
    )


def _verdict(e: dict[str, float]) -> str:
    if e["mean"] > 2 * e["se"]:
        return "wins"
    return "loses" if e["mean"] < -2 * e["se"] else "ties (within 2 SE)"


def summary(tapes: dict[str, Any]) -> list[str]:
    """Sentences computed from the tape markets' metrics (one per tape)."""
    out = []
    for _name, m in tapes.items():
        e, g = m["edges"]["as_tuned"], m["edges"]["glft_tuned"]
        d, t = m["diagnostics"], m["tick"]
        p, a = d["ppo"], d["as_tuned"]
        edge = (
            ", the largest of the grid: the tuned AS quotes as wide as the grid allows"
            if m["best"]["as"]["risk_aversion"] >= max(m["risk_grid"])
            else ""
        )
        out.append(
            f"{m['label']}: PPO {_verdict(e)} against the tuned AS ({m['best']['as']['family']}, r = "
            f"{m['best']['as']['risk_aversion']:g}{edge}): {e['mean']:+.4g} ± {e['se']:.2g} per {m['episode_s']:g} s "
            f"window on {e['n']} held-out windows (against the tuned GLFT: {g['mean']:+.4g} ± {g['se']:.2g}), "
            f"after {m['timesteps']:,} training decisions ({_budget(m)}). Fills per "
            f"window: PPO {fmt_number(p['fills_per_window'], '.2f')}, AS {fmt_number(a['fills_per_window'], '.2f')}; spread captured per unit: "
            f"PPO {fmt_number(p['spread_capture_ticks'], '+.2f')}, AS {fmt_number(a['spread_capture_ticks'], '+.2f')} ticks; 1 s markout per "
            f"unit: PPO {fmt_number(p['markout_1s_ticks'], '+.2f')}, AS {fmt_number(a['markout_1s_ticks'], '+.2f')} ticks; mean |q|: PPO "
            f"{fmt_number(p['mean_abs_inventory_lots'], '.2f')}, AS {fmt_number(a['mean_abs_inventory_lots'], '.2f')} lots; correlation of "
            f"the quote skew with the queue imbalance: PPO {fmt_number(p['skew_imbalance_corr'], '+.2f')}, AS "
            f"{fmt_number(a['skew_imbalance_corr'], '+.2f')} (the imbalance's correlation with the next second's mid change: "
            f"{fmt_number(m['imbalance_next_1s_corr'], '+.2f')}); mean quoted depth: PPO {fmt_number(p['mean_depth_ticks'], '.1f')}, AS "
            f"{fmt_number(a['mean_depth_ticks'], '.1f')} ticks (tick {t:g}). {_why(m)}"
        )
        sg = m["edges"].get("ppo_signals_vs_ppo")
        if sg is not None:
            v = m["edges"]["ppo_signals_vs_as_tuned"]
            ds = d["ppo_signals"]
            out.append(
                f"{m['label']}: PPO with the order-book signals in its observation minus PPO without, same "
                f"seed and budget: {sg['mean']:+.4g} ± {sg['se']:.2g} per window on {sg['n']} held-out windows "
                f"(against the tuned AS: {v['mean']:+.4g} ± {v['se']:.2g}); with the signals it fills "
                f"{fmt_number(ds['fills_per_window'], '.2f')} times per window (without: "
                f"{fmt_number(p['fills_per_window'], '.2f')}), its 1 s markout per unit is "
                f"{fmt_number(ds['markout_1s_ticks'], '+.2f')} ticks and its quote skew correlates "
                f"{fmt_number(ds['skew_imbalance_corr'], '+.2f')} with the queue imbalance."
            )
        drift = [
            _drift_text("PPO", m.get("curve") or []),
            _drift_text("PPO with the signals", (m.get("signals") or {}).get("curve") or []),
        ]
        if any(drift):
            out.append(
                f"{m['label']}, learning curves (standard errors from the means of {DRIFT_BATCHES} batches of "
                "consecutive rollouts per part, which allow for their autocorrelation): "
                + "; ".join(t for t in drift if t)
                + "."
            )
    return out


def _why(m: dict[str, Any]) -> str:
    """Computed reasons: whether the touch pays at all (AS at r = 1) and what PPO learned from it."""
    d = m["diagnostics"]
    a1, p = d.get("as_default"), d["ppo"]
    out = []
    if a1 and _finite(a1["spread_capture_ticks"]) and _finite(a1["markout_1s_ticks"]):
        net = a1["spread_capture_ticks"] + a1["markout_1s_ticks"]
        out.append(
            f"AS at r = 1 (the replay backtest's default) captures {a1['spread_capture_ticks']:+.2f} ticks of "
            f"spread per unit and the mid moves {a1['markout_1s_ticks']:+.2f} ticks in its favour within 1 s"
            + (
                ": adverse selection exceeds the spread, so every unit filled loses on average and the tuning "
                "moves r to where fills are rare."
                if net < 0
                else ": the spread pays for the adverse selection."
            )
        )
    if p["fills_per_window"] < 0.5:
        out.append(f"PPO learned the same abstention: {p['fills_per_window']:.2f} fills per held-out window.")
    elif _finite(p["markout_1s_ticks"]):
        lean = (
            f"leaning its quotes with the queue imbalance (correlation {p['skew_imbalance_corr']:+.2f}), "
            if _finite(p["skew_imbalance_corr"]) and p["skew_imbalance_corr"] > 0.2
            else ""
        )
        out.append(
            f"PPO trades ({p['fills_per_window']:.1f} fills per window), {lean}but its fills mark out at "
            f"{p['markout_1s_ticks']:+.2f} ticks per unit within 1 s against {p['spread_capture_ticks']:+.2f} "
            "of spread captured: the signal it uses does not cover the adverse selection of the fills it gets."
        )
    return " ".join(out)


#: Batches of consecutive rollouts per part in :func:`curve_drift`.
DRIFT_BATCHES = 5


def curve_drift(
    curve: list[dict[str, float]], share: float = 0.1, batches: int = DRIFT_BATCHES
) -> dict[str, Any] | None:
    """Whether a learning curve has flattened: the mean training return of the rollouts in the last ``share``
    of the training steps minus that of the ``share`` before, with a standard error that allows for the
    rollouts' autocorrelation.

    Consecutive rollout means are correlated (one policy update moves the next rollout only a little; lag-1
    autocorrelations of 0.2-0.8 on the shared tapes), so treating them as independent draws understates the
    error: on simulated flat AR(1) curves with coefficient 0.8 that test calls 52% of them "still moving".
    Here each part is cut into ``batches`` consecutive batches (the first rollouts of a part dropped when
    it does not divide evenly) and the variance of the part's mean is that of its batch means over
    ``batches`` (the batch-means estimator, e.g. Flegal & Jones 2010, Ann. Statist. 38(2)):
    ``se = sqrt(var(batch means of last) / b + var(batch means of before) / b)``. The curve is flat when
    ``|diff| <= crit * se``, ``crit`` the two-sided 95% quantile of Student's t with ``2 (b - 1)`` degrees
    of freedom (2.31 for ``b = 5``): about 5% of flat curves are called moving when the rollouts are
    independent, 8% at an autocorrelation of 0.8 with 98 rollouts per part.

    Returned: ``last`` and ``before`` (the two means), ``diff``, ``se``, ``crit``, ``flat``, ``share``,
    ``batches``, ``first`` (the mean of the first ``share``, so ``last - first`` is what training gained).
    None when either part holds fewer than ``batches`` rollouts."""
    if not curve:
        return None
    steps = np.array([c["timesteps"] for c in curve], dtype=float)
    ret = np.array([c["mean_return"] for c in curve], dtype=float)
    end = steps[-1]
    last = ret[steps > (1 - share) * end]
    before = ret[(steps > (1 - 2 * share) * end) & (steps <= (1 - share) * end)]
    if last.size < batches or before.size < batches or batches < 2:
        return None

    def var_of_mean(x: np.ndarray) -> float:
        k = x.size // batches
        means = x[x.size - k * batches :].reshape(batches, k).mean(axis=1)
        return float(means.var(ddof=1)) / batches

    se = math.sqrt(var_of_mean(last) + var_of_mean(before))
    crit = float(stats.t.ppf(0.975, 2 * (batches - 1)))
    diff = float(last.mean() - before.mean())
    return {
        "last": float(last.mean()),
        "before": float(before.mean()),
        "first": float(ret[steps <= share * end].mean()),
        "diff": diff,
        "se": se,
        "crit": crit,
        "flat": bool(abs(diff) <= crit * se),
        "share": share,
        "batches": batches,
    }


def _drift_text(name: str, curve: list[dict[str, float]]) -> str | None:
    d = curve_drift(curve)
    if d is None:
        return None
    flat = f"flat within {d['crit']:.2f} SE" if d["flat"] else "still moving"
    return (
        f"{name}, mean training return over the last {d['share']:.0%} of the steps minus the {d['share']:.0%} "
        f"before: {d['diff']:+.3g} ± {d['se']:.2g} ({flat}; the first {d['share']:.0%} to the last: "
        f"{d['last'] - d['first']:+.3g})"
    )


def _finite(v: Any) -> bool:
    return isinstance(v, (int, float)) and math.isfinite(v)


def report_markdown(tapes: dict[str, Any]) -> tuple[str, list[str]]:
    """The report's subsection on the real tapes: (markdown, learning-curve file names)."""
    sig = any("ppo_signals" in m["policies"] for m in tapes.values())
    rows = [
        "| tape | unit | window | PPO | tuned AS (r) | tuned GLFT (r) | PPO - AS | PPO - GLFT "
        + ("| PPO with signals | with - without signals " if sig else "")
        + "| training |",
        "|---|---|---|---|---|---|---|---|" + ("---|---|" if sig else "") + "---|",
    ]
    diag = [
        "| tape | policy | fills / window | spread captured | markout 1 s | markout 10 s | mean abs q (lots) "
        "| skew-imbalance corr | skew-inventory corr | depth (ticks) |",
        "|---|---|---|---|---|---|---|---|---|---|",
    ]
    figures = []
    for _name, m in tapes.items():
        p, b = m["policies"], m["best"]
        ea, eg = m["edges"]["as_tuned"], m["edges"]["glft_tuned"]
        with_sig = ""
        if sig:
            es = m["edges"].get("ppo_signals_vs_ppo")
            ps = p.get("ppo_signals")
            with_sig = (
                f"| {ps['mean']:.4g} ± {ps['se']:.2g} | {es['mean']:+.4g} ± {es['se']:.2g} "
                if ps and es
                else "| - | - "
            )
        budget = f"{m['timesteps']:,} decisions, {_budget(m)}"
        if (m.get("signals") or {}).get("train_seconds") is not None:
            budget += f"; with signals {m['signals']['train_seconds']:.0f} s wall"
        rows.append(
            f"| {m['label']} | {m.get('currency', 'price units')} | {m['episode_s']:g} s x {ea['n']} "
            f"| {p['ppo']['mean']:.4g} ± {p['ppo']['se']:.2g} "
            f"| {p['as_tuned']['mean']:.4g} ({b['as']['family']}, {b['as']['risk_aversion']:g}) "
            f"| {p['glft_tuned']['mean']:.4g} ({b['glft']['family']}, {b['glft']['risk_aversion']:g}) "
            f"| {ea['mean']:+.4g} ± {ea['se']:.2g} | {eg['mean']:+.4g} ± {eg['se']:.2g} "
            f"{with_sig}| {budget} |"
        )
        for pol in ("ppo", "ppo_signals", "as_tuned", "glft_tuned", "as_default"):
            if pol not in m["diagnostics"]:
                continue
            d = m["diagnostics"][pol]
            diag.append(
                f"| {m['label']} | {_POLICY_NAMES[pol]} | {fmt_number(d['fills_per_window'], '.1f')} | {fmt_number(d['spread_capture_ticks'], '+.2f')} "
                f"| {fmt_number(d['markout_1s_ticks'], '+.2f')} | {fmt_number(d['markout_10s_ticks'], '+.2f')} "
                f"| {fmt_number(d['mean_abs_inventory_lots'], '.2f')} | {fmt_number(d['skew_imbalance_corr'], '+.2f')} "
                f"| {fmt_number(d['skew_inventory_corr'], '+.2f')} | {fmt_number(d['mean_depth_ticks'], '.1f')} |"
            )
        figures.append(m["learning_curve"])
    first = next(iter(tapes.values()))
    text = (
        "### RL on real tapes (replay of recorded trades and quotes)\n\n"
        "Measured on the recorded tapes, not on a model: PPO trained on the event-clock replay env over the "
        f"first {first['in_sample']['fraction']:g} of each tape; the risk aversion r of AS and GLFT (and of their "
        "quotes under the intensity law selected out of sample in the training part) tuned over r in "
        f"{{{', '.join(f'{r:g}' for r in first['risk_grid'])}}} on the training windows only; all scored on "
        "consecutive held-out windows of the second half, each from a flat start, every policy on the same "
        "events (queue-aware fills, zero latency, no fees, decisions on every top-of-book update). P&L per "
        "window in the tape's settlement currency (the quote currency, or coins for an inverse contract; marked "
        "to mid), differences paired by window (± 1 SE); PPO with signals: the same PPO, seed and budget with "
        "the order-book signals in its observation (micro-price table fitted on the training half):\n\n"
        + "\n".join(rows)
        + "\n\nWhy, from the held-out replays (per unit filled, in ticks: spread captured = mid - our price "
        "for a buy, the reverse for a sell; markout = the mid's move after the fill in our favour, negative "
        "under adverse selection; skew = (bid + ask) / 2 - mid of our quotes):\n\n"
        + "\n".join(diag)
        + "\n\n"
        + "\n".join(f"- {s}" for s in summary(tapes))
    )
    return text, figures
