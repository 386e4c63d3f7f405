"""The study report: ``mmenv report --out DIR`` writes DIR/report.md, its figures and metrics.json.

Sections I-X (theory, data and ticks, calibration, volatility and gamma sensitivity, the engine, the
backtest, attribution and risk, the model's weaknesses, the strategy comparison, conclusions). Every number
and figure is computed by the run that writes it, offline on the embedded synthetic market by default
(``--ticker NVDA`` or ``--bars-csv PATH`` add real bars); ``--quick`` shrinks every study (about a minute).
A self-contained HTML version (figures inlined) is written next to the markdown.
"""

from __future__ import annotations

import argparse
import base64
import html
import math
import time
import traceback
from pathlib import Path
from typing import Any

import numpy as np

from mmenv.outdir import staged
from mmenv.studies.common import write_json

__all__ = ["configure_parser", "main", "run", "write_report"]

THEORY = r"""
The mid-price follows $dS_t = \sigma\, dW_t$; market orders reach a quote at depth $\delta$ from the mid
with Poisson intensity $\lambda(\delta) = A e^{-k\delta}$ (Avellaneda & Stoikov 2008, eqs. 2.10-2.12).
A market maker with CARA risk aversion $\gamma$, inventory $q$ and horizon $T$ quotes around the
**reservation price** (AS eq. 3.17)

$$r(s, q, t) = s - q\,\gamma\,\sigma^2\,(T - t)$$

with the **optimal spread** (AS eq. 3.18)

$$\delta^a + \delta^b = \gamma\,\sigma^2\,(T - t) + \frac{2}{\gamma}\ln\!\left(1 + \frac{\gamma}{k}\right).$$

Two stronger references are computed too. Gueant, Lehalle & Fernandez-Tapia (2013) give closed-form
asymptotic quotes with inventory bounds,

$$\delta^{b}(q) \approx \frac{1}{\gamma}\ln\!\left(1+\frac{\gamma}{k}\right) + \frac{2q+1}{2}
\sqrt{\frac{\sigma^2\gamma}{2kA}\left(1+\frac{\gamma}{k}\right)^{1+k/\gamma}},$$

and Cartea, Jaimungal & Penalva (2015, section 10.2) solve
$\max \mathbb{E}[X_T + q_T(S_T - \alpha q_T) - \phi\int_0^T q_u^2\,du]$ exactly: with
$h(t,q) = \frac{1}{k}\ln\omega(t,q)$ the HJB becomes the linear system
$\partial_t \omega = -\mathbf{A}\omega$, $\omega(t) = e^{\mathbf{A}(T-t)}z$, $z_q = e^{-k\alpha q^2}$, where
$\mathbf{A}$ is tridiagonal with $-k\phi q^2$ on the diagonal and $A/e$ off it; the optimal depths are
$\delta^{b} = \frac{1}{k} - h(t,q+1) + h(t,q)$ and $\delta^{a} = \frac{1}{k} - h(t,q-1) + h(t,q)$.
We link the two objectives by $\phi = \gamma\sigma^2/2$.
"""


class Report:
    """Collects markdown sections, figures and metrics."""

    def __init__(self, out: Path) -> None:
        self.out = out
        self.parts: list[str] = []
        self.metrics: dict[str, Any] = {}
        self.figures: list[Path] = []

    def add(self, text: str) -> None:
        """Append markdown."""
        self.parts.append(text.strip("\n") + "\n")

    def figure(self, path: Path | None, caption: str) -> None:
        """Reference a figure written under ``out`` (relative link)."""
        if path is None:
            return
        path = Path(path)
        self.figures.append(path)
        self.add(f"![{caption}]({path.name})\n\n*{caption}*")


def _section(rep: Report, title: str, fn, *a) -> None:
    """Run one section; a failure is reported in the section (never hidden) and the report goes on."""
    rep.add(f"## {title}")
    t0 = time.perf_counter()
    try:
        fn(rep, *a)
    except Exception as exc:  # the report must still be written; the error is printed in it
        rep.add(f"**This section failed in this run:** `{type(exc).__name__}: {exc}`")
        rep.metrics.setdefault("errors", {})[title] = "".join(traceback.format_exception_only(exc)).strip()
    rep.metrics.setdefault("timings_s", {})[title] = time.perf_counter() - t0


def sec_theory(rep: Report, cfg: dict) -> None:
    """I: formulas, plus the AS quotes of the base market computed from the engine."""
    from mmenv.engine import optimal_spread, reservation_price

    rep.add(THEORY)
    g, sigma, k = 0.1, 2.0, 1.5
    rows = ["| q | reservation price r (s=100, t=0) | bid | ask |", "|---|---|---|---|"]
    for q in (-3, -1, 0, 1, 3):
        r = float(reservation_price(100.0, q, 1.0, g, sigma))
        half = float(optimal_spread(1.0, g, sigma, k)) / 2
        rows.append(f"| {q} | {r:.4f} | {r - half:.4f} | {r + half:.4f} |")
    rep.add(
        f"AS quotes at t = 0 in the paper's market (gamma = {g}, sigma = {sigma}, k = {k}, T = 1):\n\n"
        + "\n".join(rows)
    )


def sec_data(rep: Report, cfg: dict) -> None:
    """II: the synthetic market, the ticks and the limits of 1-minute bars."""
    from mmenv import data
    from mmenv.studies.bar_limits import bar_limits_note
    from mmenv.ticks import synthesize_ticks

    bars = cfg["bars"] if cfg["bars"] is not None else data.synthetic_bars(days=cfg["days"], seed=cfg["seed"])
    ticks = synthesize_ticks(bars, seed=cfg["seed"] + 1)
    close = bars["close"].to_numpy()
    lr = np.diff(np.log(close))
    rep.metrics["data"] = {
        "source": cfg["source"],
        "n_bars": len(bars),
        "n_ticks": len(ticks),
        "first_close": float(close[0]),
        "last_close": float(close[-1]),
        "minute_logret_std": float(lr.std()),
        "tick_A_per_s": float(ticks.A),
        "tick_k": float(ticks.k),
    }
    d = rep.metrics["data"]
    rep.add(
        f"Data: **{cfg['source']}**, {d['n_bars']:,} one-minute bars, close {d['first_close']:.2f} -> "
        f"{d['last_close']:.2f}, std of 1-minute log returns {d['minute_logret_std']:.5f}. Tick synthesis "
        f"(a model, not data): {d['n_ticks']:,} trades on a path that respects each bar, depths drawn so that "
        f"$\\lambda(d) = A e^{{-kd}}$ holds with $A$ = {d['tick_A_per_s']:.4g} trades/s/side, $k$ = {d['tick_k']:.4g}."
    )
    plt = _plt()
    fig, ax = plt.subplots(figsize=(9, 3))
    ax.plot(close, lw=0.7)
    ax.set_xlabel("minute")
    ax.set_ylabel("close")
    fig.tight_layout()
    rep.figure(_save(fig, rep.out / "data_bars.png"), "1-minute closes of the bars used in this run")
    note = bar_limits_note(days=max(2, cfg["days"] // 2), seed=cfg["seed"])
    rep.metrics["bar_limits"] = note.numbers
    rep.add(
        "### What 1-minute bars hide (measured on the synthetic market, where the truth is known)\n\n"
        + note.markdown
    )


def sec_calibration(rep: Report, cfg: dict) -> None:
    """III: MLE of A and k on the synthetic ticks, with the figure."""
    from mmenv import data
    from mmenv import trade_loaders as tl
    from mmenv.calibration import calibrate
    from mmenv.calibration_report import format_table, plot_calibration
    from mmenv.ticks import synthesize_ticks

    bars = cfg["bars"] if cfg["bars"] is not None else data.synthetic_bars(days=cfg["days"], seed=cfg["seed"])
    ticks = synthesize_ticks(bars, seed=cfg["seed"] + 1)
    src = tl.TickSource(ticks, source="synthetic ticks")
    res = calibrate(src)
    sample = src.depth_sample()
    rep.metrics["calibration"] = {**res.to_dict(), "truth": {"A": float(ticks.A), "k": float(ticks.k)}}
    fit = res.intensity
    rep.add(
        "Maximum-likelihood fit of $\\lambda(d) = A e^{-kd}$ to the synthetic trades (true values known):\n\n"
        "```\n" + format_table(res, {"A": float(ticks.A), "k": float(ticks.k)}) + "\n```\n\n"
        f"$\\hat k$ = {fit.k:.4g} ± {fit.k_se:.2g} (truth {ticks.k:.4g}: "
        f"{abs(fit.k - ticks.k) / fit.k_se:.1f} standard errors away)."
    )
    rep.figure(
        plot_calibration(res, sample, rep.out / "calibration.png"),
        "empirical fill probability and intensity per depth against the fitted curve",
    )


def sec_sensitivity(rep: Report, cfg: dict) -> None:
    """IV: volatility and gamma sensitivity."""
    from mmenv.studies.sensitivity import markdown_table, plot_frontier, run_sensitivity

    rows = run_sensitivity(np.geomspace(1e-3, 10, cfg["n_gamma"]), cfg["paths"], cfg["seed"])
    rep.metrics["sensitivity"] = rows
    best = max(rows, key=lambda r: r["sharpe"])
    rep.add(
        "AS on the model market over a log grid of $\\gamma$ (common paths). Small $\\gamma$ quotes tight and "
        "barely skews: the most P&L and the most risk; large $\\gamma$ widens the spread by "
        "$(2/\\gamma)\\ln(1+\\gamma/k)$ and skews hard against inventory: less risk, fewer fills, less P&L.\n\n"
        + markdown_table(rows)
        + f"\n\nIn this run the best P&L/std ratio is at $\\gamma$ = {best['gamma']:.3g} "
        f"(Sharpe {best['sharpe']:.2f})."
    )
    rep.figure(plot_frontier(rows, rep.out / "sensitivity_frontier.png"), "mean-std frontier over gamma")
    from mmenv.studies.robustness import run_robustness

    vol = run_robustness(cfg["paths"], cfg["seed"], ("base", "garch", "garch_true", "garch_ewma"), ("as",))
    rep.metrics["volatility"] = vol
    rep.add(
        "Volatility: AS under GARCH(1,1) volatility (same long-run sigma) fed the constant sigma, the true "
        "conditional sigma or an EWMA estimate:\n\n"
        + "\n".join(
            ["| market / sigma fed to AS | mean P&L | std P&L | inventory std |", "|---|---|---|---|"]
            + [
                f"| {sc} | {d['as']['mean_pnl']:.2f} ± {d['as']['mean_pnl_se']:.2f} | {d['as']['std_pnl']:.2f} | "
                f"{d['as']['inventory_std']:.2f} |"
                for sc, d in vol.items()
            ]
        )
    )


def sec_engine(rep: Report, cfg: dict) -> None:
    """V: the engine and the simulation core, with measured throughput."""
    from agents import AvellanedaStoikovAgent
    from mmenv.rollout import rollout

    n = 2000 if not cfg["quick"] else 500
    rollout(AvellanedaStoikovAgent(), 8, 0)  # compile
    t0 = time.perf_counter()
    rollout(AvellanedaStoikovAgent(), n, 1)
    el = time.perf_counter() - t0
    rate = n * 200 / el
    rep.metrics["engine"] = {"paths": n, "steps": 200, "seconds": el, "path_steps_per_s": rate}
    rep.add(
        "`MarketMakingEngine` implements the formulas of section I on scalars or arrays; the simulation core "
        "(`mmenv.core`) matches quotes against the order-flow reach of each interval (one numba rule shared by "
        "the env, the vector env and the backtester) and enforces the hard inventory limit. In this run an AS "
        f"rollout of {n} paths x 200 steps through the vector env took {el:.3f} s "
        f"({rate:,.0f} path-steps/s, including the Python policy)."
    )
    from mmenv.studies.replication import explain, format_table, run_replication

    paths = 200 if cfg["quick"] else 1000
    rows, diagnostics, _ = run_replication(paths, cfg["seed"])
    rep.metrics["replication"] = {"rows": rows, "diagnostics": diagnostics}
    rep.add(
        "\n### The AS 2008 replication (`mmenv replicate`)\n\n"
        f"The paper's section 4 simulation ({paths} paths, binomial mid, fill probability $\\lambda(\\delta)dt$), "
        "inventory strategy against the symmetric one on common paths, beside the paper's Tables 1-3:\n\n"
        f"```text\n{format_table(rows)}\n```\n\n"
        + "\n".join(f"- {line}" for line in explain(rows, diagnostics).splitlines())
    )


def sec_backtest(rep: Report, cfg: dict) -> None:
    """VI: the event-driven backtest of AS and naive on the synthetic tick stream."""
    from agents import AvellanedaStoikovAgent, NaiveAgent
    from mmenv import data
    from mmenv.analytics import summarize_backtest
    from mmenv.backtest import BacktestConfig, TickStream, backtest
    from mmenv.studies.backtest import latency_effect
    from mmenv.ticks import synthesize_ticks

    bars = cfg["bars"] if cfg["bars"] is not None else data.synthetic_bars(days=cfg["days"], seed=cfg["seed"])
    ticks = synthesize_ticks(bars, seed=cfg["seed"] + 1)
    stream = TickStream.from_ticks(ticks, time_unit_seconds=3600.0)
    sig = float(np.std(np.diff(ticks.mid)) / math.sqrt(max(np.mean(np.diff(ticks.clock)), 1e-9) / 3600.0))
    k = float(ticks.k)
    gamma = 0.6 / (k * sig * sig)
    # Quotes decided on every quote update (the mid of each tick, before its trade), live at once (latency 0):
    # a quote refreshed only every 10 s rests stale while the mid moves several depths per trade: picked off.
    conf = BacktestConfig(
        q_max=25.0, order_size=1.0, horizon=1.0, sigma=sig, decision_interval=0.0, latency=0.0
    )
    move = float(np.mean(np.abs(np.diff(ticks.mid))))  # mean mid move between consecutive ticks
    pols = {
        "as": lambda: AvellanedaStoikovAgent(gamma=gamma, k=k, sigma=sig),
        "naive": lambda: NaiveAgent(0.01),
    }
    rows, lat = {}, {}
    for name, new_pol in pols.items():
        res = backtest(new_pol(), stream, conf)
        rows[name] = summarize_backtest(res, horizons=(10.0 / 3600.0,), episode=conf.horizon)
        lat[name] = latency_effect(new_pol, stream, conf, (0.0, 1.0, 5.0), (10.0 / 3600.0,), conf.horizon)
    rep.metrics["backtest"] = rows
    rep.metrics["backtest_latency"] = lat
    keys = [
        k
        for k in (
            "mean_pnl",
            "std_pnl",
            "sharpe",
            "total_pnl",
            "max_drawdown",
            "inventory_std",
            "spread_pnl",
            "inventory_pnl",
            "adverse_selection_pnl",
            "fees",
            "n_fills",
        )
        if k in rows["as"]
    ]
    lines = ["| metric | AS | naive (1 cent) |", "|---|---|---|"]
    for kk in keys:
        lines.append(f"| {kk} | {float(rows['as'][kk]):.4g} | {float(rows['naive'][kk]):.4g} |")
    labels = list(lat["as"])
    heads = [f"latency {x}" if x != "on_trades" else "on trades only" for x in labels]
    lat_lines = ["| strategy | " + " | ".join(heads) + " |", "|---" * (len(heads) + 1) + "|"]
    for name in lat:
        cells = [f"{lat[name][x]['total_pnl']:.4g} ({lat[name][x]['spread_pnl']:.4g})" for x in labels]
        lat_lines.append(f"| {name} | " + " | ".join(cells) + " |")
    rep.add(
        f"Event-driven backtest over {len(ticks):,} synthetic ticks ({rows['as']['duration']:.1f} trading hours; "
        "each tick is a quote update, the new mid, followed by a trade; the quotes are decided on every quote "
        "update and are live for the trade that follows, latency 0; hard limit 25 units of size 1; "
        f"sigma = {sig:.4g} per sqrt(hour) measured on the stream, AS gamma = {gamma:.4g}). mean_pnl, std_pnl "
        "and sharpe are per 1-hour episode (sharpe not annualised); total_pnl, max_drawdown (price units, "
        "from the running peak of the mark-to-market equity) and the attribution are over the whole run: "
        "total = spread + inventory - fees; adverse selection is the 10 s markout of the fills.\n\n"
        + "\n".join(lines)
    )
    rep.add(
        "Latency: total P&L over the run (spread capture in brackets) of the same strategies when their quotes "
        "go live 1 s or 5 s after the decision, and when they are decided after each trade only (live from the "
        "next one). In this stream the mid changes only at the quote update that comes with each trade, so any "
        f"latency leaves the live quotes at least one mid move behind (mean |move| {move:.3g} per trade against "
        f"a mean trade depth 1/k = {1.0 / k:.3g}): they are picked off and the spread capture turns negative.\n\n"
        + "\n".join(lat_lines)
    )


def sec_attribution(rep: Report, cfg: dict) -> None:
    """VII: attribution and risk from the comparison on the model market."""
    cmp = rep.metrics.get("compare", {}).get("metrics", {}).get("model")
    if cmp is None:
        raise RuntimeError("the comparison (section IX) did not run")
    lines = [
        "| strategy | P&L | = spread | + inventory | - fees | adverse sel. (5 steps) | max drawdown | Sharpe |",
        "|---|---|---|---|---|---|---|---|",
    ]
    for s, r in cmp.items():
        if s.startswith("_"):
            continue
        lines.append(
            f"| {s} | {r['mean_pnl']:.2f} | {r['spread_pnl']:.2f} | {r['inventory_pnl']:.2f} | {r['fees']:.2f} | "
            f"{r['adverse_selection_pnl']:.2f} | {r['max_drawdown']:.2f} | {r['sharpe']:.2f} |"
        )
    rep.add(
        "P&L attribution on the model market (per episode, mean over paths; spread + inventory - fees = P&L "
        "exactly). Adverse selection is the markout of the fills 5 steps after the quote; in the AS model it is "
        "zero up to noise because the flow is uninformed. Sharpe: mean / std of the episode P&L, not annualised.\n\n"
        + "\n".join(lines)
    )


def sec_weaknesses(rep: Report, cfg: dict) -> None:
    """VIII: each weakness against the base case."""
    from mmenv.studies.robustness import SCENARIOS, markdown_table, plot_robustness, run_robustness

    res = run_robustness(cfg["paths"], cfg["seed"], progress=False)
    rep.metrics["robustness"] = res
    desc = "\n".join(f"- **{s}**: {SCENARIOS[s][1]}" for s in res)
    worst = min((sc for sc in res if sc != "base"), key=lambda sc: res[sc]["as"]["d_mean_pnl"])
    rep.add(
        "Each assumption of the AS model switched off one at a time (`mmenv.market_variants`), same seeds:\n\n"
        + desc
        + "\n\n"
        + markdown_table(res)
        + f"\n\nThe largest loss of AS in this run comes from **{worst}** "
        f"({res[worst]['as']['d_mean_pnl']:+.2f} per episode against the base case); toxic flow and "
        "trade-driven prices show up as negative adverse selection, which no inventory skew removes."
    )
    rep.figure(
        plot_robustness(res, rep.out / "robustness.png"), "mean and std of P&L per scenario and strategy"
    )


def sec_compare(rep: Report, cfg: dict) -> None:
    """IX: the strategy comparison on the markets."""
    from mmenv.studies.compare import (
        MODEL_MARKET,
        TICK_MARKET,
        describe_reduction,
        markdown_table,
        plot_compare,
        run_compare,
    )

    markets = {"model": dict(MODEL_MARKET), "synthetic_ticks": {**TICK_MARKET, "synthetic_days": cfg["days"]}}
    if cfg["bars"] is not None:
        markets["bars"] = {**TICK_MARKET, "bars": cfg["bars"]}
    metrics, pnl, infos = run_compare(markets, cfg["paths"], cfg["seed"], ppo=cfg.get("ppo"))
    rep.metrics["compare"] = {"metrics": metrics, "markets": infos}
    for m, d in metrics.items():
        i = infos[m]
        rep.add(
            f"### {m} (A = {i['A']:.4g}, k = {i['k']:.4g}, sigma = {i['sigma']:.4g}, T = {i['T']:.4g}, "
            f"dt = {i['dt']:.4g})\n\n"
            + markdown_table(d)
            + f"\n\nInventory variance: {describe_reduction(d.get('_summary', {}))}."
        )
        if m != "model" and "as" in d:
            move = i["sigma"] * math.sqrt(i["dt"] * 2.0 / math.pi)
            rep.add(
                f"Here the env decides once per interval dt = {i['dt']:.4g} (time unit of the market): quotes "
                f"rest while the mid moves by E|Δs| = σ√(2dt/π) = {move:.3g} per interval, against a mean "
                f"trade depth 1/k = {1.0 / i['k']:.3g}. Resting quotes are picked off: AS's adverse selection "
                f"is {d['as'].get('adverse_selection_pnl', float('nan')):.2f} per episode against a spread "
                f"capture of {d['as'].get('spread_pnl', float('nan')):.2f}. Repricing on every quote update "
                "(section VI, latency 0) is what makes market making pay on this stream."
            )
    for f in plot_compare(metrics, pnl, rep.out):
        rep.figure(f, f.stem.replace("_", " "))
    sec_rl(rep, cfg)


def sec_rl(rep: Report, cfg: dict) -> None:
    """IX (end): trained PPO runs re-evaluated on held-out paths of their own market, in this run."""
    runs = cfg.get("ppo_runs") or []
    if not runs:
        rep.add(
            "### RL\n\nNo trained PPO run was given. `mmenv train --timesteps 5000000 --seed 0 --out runs/ppo` "
            "(about 3 minutes on 2 cores) then `mmenv report --ppo-run runs/ppo` scores it here against AS "
            "and the exact CJP optimum on held-out paths."
        )
        return
    from agents.ppo import PPOAgent
    from mmenv.studies.train import evaluate_policies, format_scores, reference_policies, score_against

    episodes = 500 if cfg["quick"] else 2000
    rep.metrics["rl"] = {}
    for run in runs:
        agent = PPOAgent(run)
        env_kwargs = dict(agent.config.env_kwargs)
        rewards = evaluate_policies(
            {"ppo": agent, **reference_policies(env_kwargs)}, env_kwargs, episodes, 1_000_000 + cfg["seed"]
        )
        scores = score_against(rewards)
        rep.metrics["rl"][str(run)] = scores
        market = env_kwargs.get("market", "model")
        rep.add(
            f"### RL: PPO run `{run}` on the {market} market\n\n"
            f"Trained for {agent.config.timesteps:,} steps (seed {agent.config.seed}) on the penalized reward "
            f"(phi = {env_kwargs.get('phi')}, alpha = {env_kwargs.get('alpha')}); re-evaluated here on "
            f"{episodes} held-out episodes, every policy on the same paths (edges are paired differences):\n\n"
            f"```text\n{format_scores(scores)}\n```"
        )


def sec_conclusions(rep: Report, cfg: dict) -> None:
    """X: conclusions computed from this run's numbers."""
    cm = rep.metrics.get("compare", {}).get("metrics", {}).get("model", {})
    rb = rep.metrics.get("robustness", {})
    out = []
    if cm:
        a, n, o = cm["as"], cm["naive"], cm["optimal"]
        out.append(
            f"- On the AS model market, AS cuts the P&L std from {n['std_pnl']:.2f} (naive) to {a['std_pnl']:.2f} "
            f"for a mean of {a['mean_pnl']:.2f} against {n['mean_pnl']:.2f}; the CJP optimum earns "
            f"{o['mean_pnl']:.2f} with std {o['std_pnl']:.2f}."
        )
    if rb:
        for sc in ("toxic", "information", "impact"):
            if sc in rb:
                out.append(
                    f"- {sc}: AS loses {-rb[sc]['as']['d_mean_pnl']:.2f} per episode against the base case."
                )
    out.append(
        "- Extensions: quotes that react to order-flow imbalance (against toxic flow and trade-driven prices), "
        "volatility forecasts in the skew, multi-level quoting, queue position in the backtest, "
        "and RL agents trained on the variant markets (issue 7)."
    )
    rep.add("\n".join(out))


def _plt():
    from mmenv.studies.common import pyplot

    return pyplot()


def _save(fig, path: Path) -> Path:
    from mmenv.studies.common import save_figure

    return save_figure(fig, path)


SECTIONS = (
    ("I. Theory: the Avellaneda-Stoikov model", sec_theory),
    ("II. Data and tick synthesis", sec_data),
    ("III. Calibration of the order-arrival intensity (MLE)", sec_calibration),
    ("IV. Volatility and gamma sensitivity", sec_sensitivity),
    ("V. The engine", sec_engine),
    ("VI. The backtest", sec_backtest),
    ("IX. Strategy comparison", sec_compare),
    ("VII. Attribution and risk", sec_attribution),
    ("VIII. The model's weaknesses, measured", sec_weaknesses),
    ("X. Conclusions and extensions", sec_conclusions),
)
ORDER = ("I.", "II.", "III.", "IV.", "V.", "VI.", "VII.", "VIII.", "IX.", "X.")


def write_report(out: Path, cfg: dict, progress: bool = True) -> tuple[Path, dict]:
    """Run every section (IX before VII, which reads its numbers) and write report.md, report.html, metrics.json."""
    out.mkdir(parents=True, exist_ok=True)
    rep = Report(out)
    t0 = time.perf_counter()
    chunks: dict[str, list[str]] = {}
    it = SECTIONS
    if progress:
        from tqdm.auto import tqdm

        it = tqdm(SECTIONS, desc="report")
    for title, fn in it:
        if progress:
            it.set_postfix_str(title.split(" ")[0])
        start = len(rep.parts)
        _section(rep, title, fn, cfg)
        chunks[title] = rep.parts[start:]
    elapsed = time.perf_counter() - t0
    body = []
    for key in ORDER:
        title = next(t for t, _ in SECTIONS if t.startswith(key))
        body += chunks[title]
    head = (
        "# mmenv study report\n\n"
        f"Generated by `mmenv report` in {elapsed:.0f} s ({'quick' if cfg['quick'] else 'full'} mode, "
        f"{cfg['paths']} paths per run, seed {cfg['seed']}, data: {cfg['source']}). Every number and figure "
        "below was computed by this run; Monte-Carlo standard errors follow ±.\n"
    )
    md = head + "\n" + "\n".join(body)
    rep.metrics["config"] = {k: v for k, v in cfg.items() if k != "bars"}
    rep.metrics["elapsed_s"] = elapsed
    tmp = out / "report.md.tmp"
    tmp.write_text(md)
    tmp.replace(out / "report.md")
    write_json(rep.metrics, out / "metrics.json")
    _write_html(md, out)
    return out / "report.md", rep.metrics


def _write_html(md: str, out: Path) -> None:
    """A self-contained HTML page: the markdown as preformatted text per paragraph, figures inlined (base64).

    Formulas render with MathJax when the page is opened online; offline they read as LaTeX source.
    """
    parts = []
    for block in md.split("\n\n"):
        b = block.strip()
        if b.startswith("![") and "](" in b:
            name = b[b.index("](") + 2 : b.index(")", b.index("]("))]
            p = out / name
            if p.exists():
                data = base64.b64encode(p.read_bytes()).decode()
                parts.append(f'<img src="data:image/png;base64,{data}" style="max-width:100%">')
                continue
        if b.startswith("#"):
            level = len(b) - len(b.lstrip("#"))
            parts.append(f"<h{level}>{html.escape(b.lstrip('#').strip())}</h{level}>")
        elif b.startswith("|"):
            rows = [r for r in b.splitlines() if not set(r) <= set("|-: ")]
            cells = [[html.escape(c.strip()) for c in r.strip("|").split("|")] for r in rows]
            tr = "".join(
                "<tr>"
                + "".join(f"<{'th' if i == 0 else 'td'}>{c}</{'th' if i == 0 else 'td'}>" for c in row)
                + "</tr>"
                for i, row in enumerate(cells)
            )
            parts.append(f"<table border=1 cellpadding=3 style='border-collapse:collapse'>{tr}</table>")
        else:
            parts.append(f"<p>{html.escape(b)}</p>")
    page = (
        "<!doctype html><html><head><meta charset='utf-8'><title>mmenv report</title>"
        "<script>window.MathJax={tex:{inlineMath:[['$','$']]}};</script>"
        "<script async src='https://cdn.jsdelivr.net/npm/mathjax@3/es5/tex-chtml.js'></script>"
        "</head><body style='font-family:sans-serif;max-width:1100px;margin:auto'>"
        + "\n".join(parts)
        + "</body></html>"
    )
    tmp = out / "report.html.tmp"
    tmp.write_text(page)
    tmp.replace(out / "report.html")


def configure_parser(parser: argparse.ArgumentParser) -> None:
    """Arguments of ``mmenv report``."""
    parser.add_argument("--out", type=Path, default=Path("out/report"), help="output directory")
    parser.add_argument("--quick", action="store_true", help="small sizes (about a minute)")
    parser.add_argument("--seed", type=int, default=0, help="seed of every study (0)")
    parser.add_argument("--paths", type=int, default=None, help="paths per run (default 1000, quick 200)")
    parser.add_argument("--ppo", default=None, help="a trained PPO model to include in the comparison")
    parser.add_argument(
        "--ppo-run",
        nargs="+",
        type=Path,
        default=[],
        help="PPO run directories (mmenv train --out DIR): each is re-evaluated in this run against AS and "
        "the CJP optimum on its own market (section IX)",
    )
    g = parser.add_mutually_exclusive_group()
    g.add_argument("--ticker", default=None, help="add 1-minute bars of this ticker (yfinance)")
    g.add_argument("--bars-csv", type=Path, default=None, help="add bars from this CSV")
    parser.add_argument("--offline", action="store_true", help="read --ticker bars from the cache only")


def run(args: argparse.Namespace) -> int:
    """Write the report."""
    from mmenv.studies.compare import load_bars_arg

    bars = load_bars_arg(args)
    source = (
        f"{args.ticker} 1-minute bars"
        if args.ticker
        else (str(args.bars_csv) if args.bars_csv else "synthetic bars")
    )
    cfg = {
        "quick": bool(args.quick),
        "seed": int(args.seed),
        "paths": int(args.paths if args.paths is not None else (200 if args.quick else 1000)),
        "days": 3 if args.quick else 10,
        "n_gamma": 6 if args.quick else 13,
        "bars": bars,
        "source": source,
        "ppo": args.ppo,
        "ppo_runs": list(args.ppo_run),
    }
    if cfg["paths"] < 2:
        raise SystemExit(f"--paths must be >= 2, got {cfg['paths']}")
    with staged(args.out, getattr(args, "force", False), "report") as stage:
        _, metrics = write_report(stage, cfg)
    for title, err in metrics.get("errors", {}).items():
        print(f"section failed: {title}: {err}")
    print(f"wrote {args.out / 'report.md'} and {args.out / 'report.html'} in {metrics['elapsed_s']:.1f} s")
    return 1 if metrics.get("errors") else 0


def main(argv: list[str] | None = None) -> int:
    """Entry point of ``experiments/report.py`` (same as ``mmenv report``)."""
    from mmenv.cli import run_command

    return run_command("report", argv)
