"""The parts of the study report's sections I-X (see :mod:`mmenv.studies.report` for how they are assembled).

Each part is ``part(rep, cfg)``: it runs its study, adds markdown (:meth:`Report.add`), figures with a
caption that says what they show and what to read (:meth:`Report.figure`) and its numbers to
``rep.metrics``. Every number in the text is computed here, in this run; heavy imports stay inside the parts.
"""

from __future__ import annotations

import math
import time
from typing import TYPE_CHECKING

import numpy as np

if TYPE_CHECKING:
    from mmenv.studies.report import Report

__all__ = [
    "sec_attribution",
    "sec_backtest",
    "sec_bar_limits",
    "sec_calibration",
    "sec_compare",
    "sec_conclusions",
    "sec_data",
    "sec_engine",
    "sec_replication",
    "sec_rl",
    "sec_sensitivity",
    "sec_theory",
    "sec_weaknesses",
]

#: Dimensionless risk aversion gamma k sigma^2 T of every AS / GLFT / optimum in the report (0.6 is gamma =
#: 0.1 in the AS paper's market).
RISK = 0.6

THEORY = r"""
The mid-price is a Brownian motion and market orders reach a quote at depth $\delta$ from the mid as a
Poisson process whose intensity decays exponentially with the depth (AS 2008, eqs. 2.10-2.12):

$$dS_t = \sigma\, dW_t, \qquad \lambda(\delta) = A e^{-k\delta}.$$

A dealer with CARA utility $-e^{-\gamma W_T}$ of terminal wealth, inventory $q$ and horizon $T$ quotes
around the **reservation (indifference) price** (AS 2008, eq. 3.17), the price at which it is indifferent
to holding one unit more or less,

$$r(s, q, t) = s - q\,\gamma\,\sigma^2\,(T - t),$$

with the **optimal spread** (AS 2008, eq. 3.18)

$$\delta^a + \delta^b = \gamma\,\sigma^2\,(T - t) + \frac{2}{\gamma}\ln\left(1 + \frac{\gamma}{k}\right),$$

so the bid is $p^b = r - (\delta^a+\delta^b)/2$ and the ask $p^a = r + (\delta^a+\delta^b)/2$. The first term
of the spread is the price of inventory risk over the time left; the second is the liquidity term: the
mark-up that maximises the expected spread income $\delta\,\lambda(\delta)$ for a risk-averse dealer (it
tends to $2/k$ as $\gamma \to 0$). The skew $r - s$ is what manages the inventory: long, both quotes move
down, so the ask fills more often than the bid and the position drains.

Two stronger references run beside AS. Gueant, Lehalle & Fernandez-Tapia (2013) give closed-form
asymptotic quotes with inventory bounds,

$$\delta^{b}(q) \approx \frac{1}{\gamma}\ln\left(1+\frac{\gamma}{k}\right) + \frac{2q+1}{2}
\sqrt{\frac{\sigma^2\gamma}{2kA}\left(1+\frac{\gamma}{k}\right)^{1+k/\gamma}},$$

and Cartea, Jaimungal & Penalva (2015, section 10.2) solve
$\max \mathbb{E}[X_T + q_T(S_T - \alpha q_T) - \phi\int_0^T q_u^2\,du]$ exactly: with
$h(t,q) = \frac{1}{k}\ln\omega(t,q)$ the HJB becomes the linear system
$\partial_t \omega = -\mathbf{A}\omega$, $\omega(t) = e^{\mathbf{A}(T-t)}z$, $z_q = e^{-k\alpha q^2}$, where
$\mathbf{A}$ is tridiagonal with $-k\phi q^2$ on the diagonal and $A/e$ off it; the optimal depths are
$\delta^{b} = \frac{1}{k} - h(t,q+1) + h(t,q)$ and $\delta^{a} = \frac{1}{k} - h(t,q-1) + h(t,q)$.
The two objectives are linked by $\phi = \gamma\sigma^2/2$; this "optimum" is the exact solution of the
continuous model, evaluated here in discrete time (the continuous-time CJP policy). The exact optimum of the
env itself, in its discrete time (one fill per side per step with probability $1 - e^{-\lambda(\delta)\Delta t}$,
the hard inventory limit, the action bounds), is a backward induction over (step, $q$); the CJP policy
converges to it as $\Delta t \to 0$ (section IX).
"""


def _model_info() -> dict[str, float]:
    from mmenv.studies.compare import MODEL_MARKET, market_info

    return market_info(MODEL_MARKET)


def _bars(cfg: dict):
    from mmenv import data

    return cfg["bars"] if cfg["bars"] is not None else data.synthetic_bars(days=cfg["days"], seed=cfg["seed"])


def _ticks(cfg: dict):
    from mmenv.data.ticks import synthesize_ticks

    return synthesize_ticks(_bars(cfg), seed=cfg["seed"] + 1)


def _trend(values: list[float]) -> str:
    """'rises monotonically', 'falls monotonically', or 'goes from a to b' (not monotone)."""
    d = np.diff(values)
    if np.all(d > 0):
        return f"rises monotonically ({values[0]:.3g} to {values[-1]:.3g})"
    if np.all(d < 0):
        return f"falls monotonically ({values[0]:.3g} to {values[-1]:.3g})"
    return f"goes from {values[0]:.3g} to {values[-1]:.3g}, not monotonically"


def _gamma_row(rows: list[dict], gamma: float) -> dict:
    return min(rows, key=lambda r: abs(math.log(r["gamma"] / gamma)))


# ----------------------------------------------------------------------------------------------------- I
def sec_theory(rep: Report, cfg: dict) -> None:
    """I: the dilemma in words, the variables with this run's values, the formulas, the trade-off figure."""
    from mmenv.engine import optimal_spread, reservation_price

    info = _model_info()
    A, k, sigma, s0, T, dt, q_max = (info[x] for x in ("A", "k", "sigma", "s0", "T", "dt", "q_max"))
    gamma = RISK / (k * sigma * sigma * T)
    spread0 = float(optimal_spread(T, gamma, sigma, k))
    skew1 = float(s0 - reservation_price(s0, 1, T, gamma, sigma))
    quotes = []
    for q in (-3, -1, 0, 1, 3):
        r = float(reservation_price(s0, q, T, gamma, sigma))
        quotes.append({"q": q, "r": r, "bid": r - spread0 / 2, "ask": r + spread0 / 2})
    rep.metrics["framework"] = {
        **info,
        "gamma": gamma,
        "risk": RISK,
        "spread_t0": spread0,
        "half_spread_t0": spread0 / 2,
        "skew_per_unit_t0": skew1,
        "liquidity_term": spread0 - gamma * sigma * sigma * T,
        "quotes_t0": quotes,
    }
    rep.add(
        "**The dealer's dilemma.** A market maker earns the spread by standing ready to buy at its bid and "
        "sell at its ask, but every fill leaves it holding inventory whose value moves with the price. "
        "Quoting close to the mid fills often and earns many small spreads, but the inventory wanders and the "
        "P&L swings with the mid: *inventory risk*. Quoting far from the mid keeps the inventory small, but "
        "few orders reach the quotes and the spread earned may not pay for the waiting: *execution risk*. "
        "Wider quotes fill less and carry less inventory. Avellaneda & Stoikov (2008) solve this trade-off "
        "for a risk-averse dealer: the quotes are centred on a reservation price that leans against the "
        "inventory, and their width balances the fill rate against risk aversion."
    )
    rows = [
        ("$s$", "mid-price", "price units", f"{s0:g} at $t = 0$, then a Brownian path"),
        ("$q$", "inventory", "units of the asset", f"0 at $t = 0$; hard limit ±{q_max:g}"),
        ("$\\sigma$", "volatility of the mid", "price / √time", f"{sigma:g}"),
        ("$\\gamma$", "risk aversion (CARA)", "1 / price", f"{gamma:.4g} (γkσ²T = {RISK:g})"),
        ("$k$", "decay of the fill intensity with depth", "1 / price", f"{k:g}"),
        ("$A$", "arrival rate of market orders at the mid", "orders / time / side", f"{A:g}"),
        ("$T$", "horizon", "time units", f"{T:g}"),
        ("$dt$", "decision interval", "time units", f"{dt:g} ({round(T / dt)} decisions per episode)"),
        (
            "$\\delta^b, \\delta^a$",
            "bid and ask depths from the mid",
            "price",
            f"{spread0 / 2:.4f} each at $q = 0$, $t = 0$",
        ),
        (
            "$r$",
            "reservation price",
            "price",
            f"$s$ at $q = 0$; moves by {skew1:.3f} per unit of $q$ at $t = 0$",
        ),
    ]
    table = ["| symbol | meaning | unit | value in this run |", "|---|---|---|---|"]
    table += [f"| {a} | {b} | {c} | {d} |" for a, b, c, d in rows]
    rep.add(
        "The variables, with the values of the model market used throughout this report (time in units "
        "of the horizon, prices in price units):\n\n" + "\n".join(table)
    )
    rep.add(THEORY)
    qt = ["| inventory q | reservation price r | bid | ask |", "|---|---|---|---|"]
    qt += [f"| {d['q']:+d} | {d['r']:.4f} | {d['bid']:.4f} | {d['ask']:.4f} |" for d in quotes]
    rep.add(
        f"AS quotes at $t = 0$ in this market ($s$ = {s0:g}): the spread {spread0:.4f} is the same for every "
        f"inventory; the centre moves by {skew1:.3f} per unit held.\n\n" + "\n".join(qt)
    )
    rows_g = rep.metrics.get("sensitivity")
    rep.figure(
        _plot_dilemma(info, gamma, rows_g, rep.out / "dealer_dilemma.png"),
        "Left: AS bid, ask and reservation price at t = 0 against the inventory q. Right: fill rate and "
        "inventory std against γ on the model market (this run's section IV grid)",
        _dilemma_reading(rows_g),
    )


def _dilemma_reading(rows: list[dict] | None) -> str:
    text = "A long position lowers both quotes, so the dealer sells more readily than it buys"
    if rows:
        lo, hi = rows[0], rows[-1]
        text += (
            f"; raising γ from {lo['gamma']:.3g} to {hi['gamma']:.3g} cuts the inventory std from "
            f"{lo['inventory_std']:.2f} to {hi['inventory_std']:.2f} units while the fill rate falls from "
            f"{lo['fill_rate']:.3f} to {hi['fill_rate']:.3f}: inventory risk traded for execution risk"
        )
    return text


def _plot_dilemma(info: dict, gamma: float, rows: list[dict] | None, path):
    from mmenv.engine import optimal_spread, reservation_price
    from mmenv.viz.style import pyplot, save_figure, strategy_color, twin_lines

    plt = pyplot()
    fig, (ax1, ax2) = plt.subplots(1, 2, figsize=(10.5, 3.8))
    q = np.arange(-8, 9)
    s0, T, sigma, k = info["s0"], info["T"], info["sigma"], info["k"]
    r = reservation_price(s0, q, T, gamma, sigma)
    half = float(optimal_spread(T, gamma, sigma, k)) / 2
    ax1.plot(q, r + half, "v-", color="tab:red", label="ask $p^a$")
    ax1.plot(q, r, "o-", color="k", label="reservation price $r$")
    ax1.plot(q, r - half, "^-", color="tab:green", label="bid $p^b$")
    ax1.axhline(s0, color="gray", ls="--", lw=1, label=f"mid $s$ = {s0:g}")
    ax1.set_xlabel("inventory q (units)")
    ax1.set_ylabel("price (price units)")
    ax1.set_title(f"AS quotes at t = 0 (γ = {gamma:.3g})")
    ax1.legend(loc="upper right")
    if rows:
        g = [x["gamma"] for x in rows]
        twin_lines(
            ax2,
            g,
            ([x["fill_rate"] for x in rows], "fill rate (fills per quote)", strategy_color("as")),
            ([x["inventory_std"] for x in rows], "inventory std (units)", "tab:orange"),
            legend_loc="upper right",
        )
        ax2.set_xlabel("risk aversion γ (log scale)")
        ax2.axvline(gamma, color="gray", ls=":", lw=1)
        ax2.set_title("wider quotes: fewer fills, less inventory")
    fig.tight_layout()
    return save_figure(fig, path)


# ---------------------------------------------------------------------------------------------------- II
def sec_data(rep: Report, cfg: dict) -> None:
    """II: the bars used and the tick synthesis on them."""
    from mmenv.viz.style import pyplot, save_figure

    bars = _bars(cfg)
    ticks = _ticks(cfg)
    from mmenv.data import BarReport
    from mmenv.data.bars.validate import within_session_log_returns

    close = bars["close"].to_numpy()
    lr = within_session_log_returns(bars)  # returns across session gaps excluded
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
    validation = bars.attrs.get("validation")
    if validation is not None:
        rep.metrics["data"]["bars_validation"] = validation
    d = rep.metrics["data"]
    rep.add(
        f"Data: **{cfg['source']}**, {d['n_bars']:,} one-minute bars, close {d['first_close']:.2f} -> "
        f"{d['last_close']:.2f}, std of 1-minute log returns {d['minute_logret_std']:.5f} (within sessions). Tick synthesis "
        f"(a model, not data): {d['n_ticks']:,} trades on a path that respects each bar, depths drawn so that "
        f"$\\lambda(d) = A e^{{-kd}}$ holds with $A$ = {d['tick_A_per_s']:.4g} trades/s/side, "
        f"$k$ = {d['tick_k']:.4g} per price unit. Sections III, VI and IX use these ticks."
    )
    if validation is not None and "bars_used" in validation:
        rep.add(f"Bars used: {validation['bars_used']}.")
    if validation is not None:
        rep.add(
            "Validation of the bars (`mmenv.data.validate_bars`: rows dropped, sorted or repaired, price "
            "outliers, gaps): " + BarReport.from_dict(validation).summary().replace("\n", "; ") + "."
        )
    plt = pyplot()
    fig, ax = plt.subplots(figsize=(9, 2.8))
    ax.plot(close, lw=0.7, color="tab:blue")
    ax.set_xlabel("minute of the sample")
    ax.set_ylabel("close (price units)")
    rep.figure(
        save_figure(fig, rep.out / "data_bars.png"),
        f"The {d['n_bars']:,} one-minute closes of the {cfg['source']} used in this run",
        f"the price path that every tick-based section trades on, from {d['first_close']:.2f} to "
        f"{d['last_close']:.2f}; the synthetic ticks respect each bar's open, high, low and close",
    )


def sec_bar_limits(rep: Report, cfg: dict) -> None:
    """II: what one-minute bars hide, measured where the truth is known."""
    from mmenv.studies.bar_limits import bar_limits_note

    note = bar_limits_note(days=max(2, cfg["days"] // 2), seed=cfg["seed"])
    rep.metrics["bar_limits"] = note.numbers
    rep.add(note.markdown)


# --------------------------------------------------------------------------------------------------- III
def sec_calibration(rep: Report, cfg: dict) -> None:
    """III: maximum-likelihood A and k on the synthetic ticks (truth known), with the fit figure."""
    from mmenv.calibration import calibrate
    from mmenv.calibration import trades as tl
    from mmenv.calibration.report import format_table, plot_calibration

    ticks = _ticks(cfg)
    src = tl.TickSource(ticks, source="synthetic ticks")
    res = calibrate(src)
    sample = src.depth_sample()
    rep.metrics["calibration"] = {**res.to_dict(), "truth": {"A": float(ticks.A), "k": float(ticks.k)}}
    fit = res.intensity
    z_a = abs(fit.A - ticks.A) / fit.A_se
    z_k = abs(fit.k - ticks.k) / fit.k_se
    rep.add(
        "Maximum-likelihood fit of $\\lambda(d) = A e^{-kd}$ to the synthetic trades, where the true values "
        "are known:\n\n```text\n"
        + format_table(res, {"A": float(ticks.A), "k": float(ticks.k)})
        + "\n```\n\n"
        f"$\\hat A$ = {fit.A:.4g} ± {fit.A_se:.2g} trades/s/side ({z_a:.1f} standard errors from the truth "
        f"{ticks.A:.4g}) and $\\hat k$ = {fit.k:.4g} ± {fit.k_se:.2g} per price unit ({z_k:.1f} standard "
        f"errors from {ticks.k:.4g}): the estimator recovers the law that generated the trades."
    )
    rep.figure(
        plot_calibration(res, sample, rep.out / "calibration.png"),
        "The empirical intensity beyond the touch on the likelihood's truncation basis (left, log scale) and "
        "the probability that an order walks x or more past the touch (right), with 95% intervals, against "
        "the fitted exponential",
        "a straight line on the log scale is what the exponential law predicts; here the goodness-of-fit "
        f"test gives Pearson χ² p = {res.to_dict().get('gof_pvalue', float('nan')):.3g} (a small p would mean "
        "the points leave the line)",
    )


# ---------------------------------------------------------------------------------------------------- IV
def sec_sensitivity(rep: Report, cfg: dict) -> None:
    """IV: gamma from aggressive to defensive, and AS under stochastic volatility."""
    from mmenv.studies.robustness import run_robustness
    from mmenv.studies.sensitivity import markdown_table, plot_frontier, run_sensitivity

    rows = run_sensitivity(np.geomspace(1e-3, 10, cfg["n_gamma"]), cfg["paths"], cfg["seed"])
    rep.metrics["sensitivity"] = rows
    lo, hi = rows[0], rows[-1]
    best = max(rows, key=lambda r: r["sharpe"])
    info = _model_info()
    gamma_used = RISK / (info["k"] * info["sigma"] ** 2 * info["T"])
    mid = _gamma_row(rows, gamma_used)
    rep.add(
        "AS on the model market over a log grid of $\\gamma$, every $\\gamma$ on the same paths. The skew is "
        "the mean distance between the centre of the quotes and the mid, $|r - s|$; the spread is the mean "
        "quoted $\\delta^a + \\delta^b$.\n\n" + markdown_table(rows)
    )
    flat = mid["sharpe"] >= 0.8 * best["sharpe"]
    rep.add(
        f"**Aggressive (small $\\gamma$ = {lo['gamma']:.3g}).** The quotes sit at the liquidity term "
        f"(mean spread {lo['mean_spread']:.3f}) and barely lean against the inventory ({lo['skew_per_unit']:.3g} "
        f"per unit held at $t = 0$; realised mean skew $|r - s|$ = {lo['mean_abs_skew']:.3f}): "
        f"{lo['fill_rate']:.1%} of the quotes fill, the inventory wanders (std {lo['inventory_std']:.2f} units) "
        f"and the P&L is {lo['mean_pnl']:.2f} ± {lo['mean_pnl_se']:.2f} with std {lo['std_pnl']:.2f}: the most "
        "spread income, carried with the most price risk.\n\n"
        f"**Defensive (large $\\gamma$ = {hi['gamma']:.3g}).** The inventory terms dominate: the spread widens "
        f"to {hi['mean_spread']:.3f} and the quotes lean {hi['skew_per_unit']:.3g} per unit held at $t = 0$, so "
        f"hard that the inventory stays near zero (std {hi['inventory_std']:.2f}) and the realised skew averages "
        f"only {hi['mean_abs_skew']:.3f}; {hi['fill_rate']:.1%} of the quotes fill and the P&L falls to "
        f"{hi['mean_pnl']:.2f} ± {hi['mean_pnl_se']:.2f} (std {hi['std_pnl']:.2f}): little risk, little "
        "income.\n\n"
        f"In between, the P&L per unit of risk peaks at $\\gamma$ = {best['gamma']:.3g} (Sharpe "
        f"{best['sharpe']:.2f}, against {lo['sharpe']:.2f} and {hi['sharpe']:.2f} at the ends). The grid point "
        f"nearest the report's AS ($\\gamma$ = {gamma_used:.3g}) is {mid['gamma']:.3g}: P&L {mid['mean_pnl']:.2f}, "
        f"std {mid['std_pnl']:.2f}, inventory std {mid['inventory_std']:.2f}, Sharpe {mid['sharpe']:.2f}, "
        + (
            "within 80% of the peak: most of the aggressive end's spread income at a fraction of its risk."
            if flat
            else "below 80% of the peak: this market would reward a different γ."
        )
    )
    rep.figure(
        plot_frontier(rows, rep.out / "sensitivity_frontier.png"),
        "Left: mean against std of the episode P&L, one point per γ (labels), ±2 SE bars. Right: inventory "
        "std and mean quoted spread against γ",
        "moving up the γ grid walks the frontier from the top right (aggressive: high P&L, high risk) to the "
        f"bottom left (defensive); the mean spread {_trend([r['mean_spread'] for r in rows])} and the inventory "
        f"std {_trend([r['inventory_std'] for r in rows])} along the grid",
    )
    vol = run_robustness(cfg["paths"], cfg["seed"], ("base", "garch", "garch_true", "garch_ewma"), ("as",))
    rep.metrics["volatility"] = vol
    lines = ["| market / sigma fed to AS | mean P&L | std P&L | inventory std |", "|---|---|---|---|"]
    labels = {
        "base": "constant volatility (the model)",
        "garch": "GARCH(1,1), AS fed the constant σ",
        "garch_true": "GARCH(1,1), AS fed the true conditional σ",
        "garch_ewma": "GARCH(1,1), AS fed an EWMA estimate",
    }
    for sc, d in vol.items():
        a = d["as"]
        lines.append(
            f"| {labels.get(sc, sc)} | {a['mean_pnl']:.2f} ± {a['mean_pnl_se']:.2f} | {a['std_pnl']:.2f} | "
            f"{a['inventory_std']:.2f} |"
        )
    g, gt = vol["garch"]["as"], vol["garch_true"]["as"]
    rep.add(
        "**Volatility.** AS when the volatility is stochastic (GARCH(1,1) with the same long-run σ) and AS "
        "is fed the constant σ, the true conditional σ or an EWMA estimate:\n\n" + "\n".join(lines) + "\n\n"
        f"Knowing the true conditional σ changes the mean P&L by {gt['mean_pnl'] - g['mean_pnl']:+.2f} "
        f"(±{math.hypot(gt['mean_pnl_se'], g['mean_pnl_se']):.2f}) and the inventory std from "
        f"{g['inventory_std']:.2f} to {gt['inventory_std']:.2f}: in this market the volatility enters the "
        "quotes only through the small inventory term $\\gamma\\sigma^2(T-t)$, so a better σ moves the "
        "quotes little."
    )


# ----------------------------------------------------------------------------------------------------- V
def sec_engine(rep: Report, cfg: dict) -> None:
    """V: the engine and the simulation core, with measured throughput."""
    from agents import AvellanedaStoikovAgent
    from mmenv.envs.rollout import rollout

    n = 2000 if not cfg["quick"] else 500
    rollout(AvellanedaStoikovAgent(), 8, 0)  # compile
    t0 = time.perf_counter()
    rollout(AvellanedaStoikovAgent(), n, 1)
    el = time.perf_counter() - t0
    rate = n * 200 / el
    rep.metrics["engine"] = {"paths": n, "steps": 200, "seconds": el, "path_steps_per_s": rate}
    rep.add(
        "`MarketMakingEngine` implements the formulas of section I on scalars or arrays; the simulation core "
        "(`mmenv.sim.core`) matches quotes against the order-flow reach of each interval (one numba rule shared by "
        "the env, the vector env and the backtester) and enforces the hard inventory limit. In this run an AS "
        f"rollout of {n} paths x 200 steps through the vector env took {el:.3f} s "
        f"({rate:,.0f} path-steps/s, including the Python policy)."
    )


def sec_replication(rep: Report, cfg: dict) -> None:
    """V: the AS 2008 section 4 simulation beside the paper's tables, with the P&L histograms."""
    from mmenv.studies.replication import explain, format_table, plot_pnl, run_replication

    paths = 200 if cfg["quick"] else 1000
    rows, diagnostics, pnl = run_replication(paths, cfg["seed"])
    rep.metrics["replication"] = {"rows": rows, "diagnostics": diagnostics}
    rep.add(
        "### The AS 2008 replication (`mmenv replicate`)\n\n"
        f"The paper's section 4 simulation ({paths} paths, binomial mid, fill probability $\\lambda(\\delta)dt$), "
        "inventory strategy against the symmetric one on common paths, beside the paper's Tables 1-3:\n\n"
        f"```text\n{format_table(rows)}\n```\n\n"
        + "\n".join(f"- {line}" for line in explain(rows, diagnostics).splitlines())
    )
    path = rep.out / "as2008_pnl.png"
    plot_pnl(pnl, path)
    g01 = [r for r in rows if abs(r["gamma"] - 0.1) < 1e-12]
    inv = next((r for r in g01 if r["strategy"] == "inventory"), None)
    sym = next((r for r in g01 if r["strategy"] == "symmetric"), None)
    narrower = [
        r["gamma"]
        for r in rows
        if r["strategy"] == "inventory"
        and any(
            x["strategy"] == "symmetric" and x["gamma"] == r["gamma"] and x["std_pnl"] > r["std_pnl"]
            for x in rows
        )
    ]
    n_gamma = len({r["gamma"] for r in rows})
    read = (
        f"the inventory strategy's histogram is the narrower one at {len(narrower)} of the {n_gamma} values "
        "of γ"
    )
    if inv and sym:
        read += (
            f" (at γ = 0.1 std {inv['std_pnl']:.2f} against {sym['std_pnl']:.2f}) for a mean that is "
            f"{sym['mean_pnl'] - inv['mean_pnl']:.2f} lower, the paper's Figure 2 result"
        )
    rep.figure(path, "Terminal P&L histograms of the AS inventory strategy and the symmetric benchmark", read)


# ---------------------------------------------------------------------------------------------------- VI
def sec_backtest(rep: Report, cfg: dict) -> None:
    """VI: the event-driven backtest of AS and naive on the synthetic tick stream, and latency."""
    from agents import AvellanedaStoikovAgent, NaiveAgent
    from mmenv.analytics.scores import summarize_backtest
    from mmenv.backtest import BacktestConfig, TickStream, backtest
    from mmenv.studies.backtest import BACKTEST_DEFAULTS, default_gamma, latency_effect, settings_line
    from mmenv.viz.plots import plot_equity

    ticks = _ticks(cfg)
    stream = TickStream.from_ticks(ticks, time_unit_seconds=3600.0)
    sig = float(np.std(np.diff(ticks.mid)) / math.sqrt(max(np.mean(np.diff(ticks.clock)), 1e-9) / 3600.0))
    k = float(ticks.k)
    gamma = default_gamma(k, sig)  # the defaults of `mmenv backtest`: one set for the command and the report
    d = BACKTEST_DEFAULTS
    # Quotes decided on every quote update (the mid of each tick, before its trade), live at once (latency 0):
    # a quote refreshed only every 10 s rests stale while the mid moves several depths per trade: picked off.
    conf = BacktestConfig(
        q_max=d["q_max"],
        order_size=d["order_size"],
        horizon=1.0,
        sigma=sig,
        decision_interval=0.0,
        latency=0.0,
    )
    move = float(np.mean(np.abs(np.diff(ticks.mid))))  # mean mid move between consecutive ticks
    pols = {
        "as": lambda: AvellanedaStoikovAgent(gamma=gamma, k=k, sigma=sig),
        "naive": lambda: NaiveAgent(d["naive_depth"]),
    }
    rows, lat, results = {}, {}, {}
    for name, new_pol in pols.items():
        results[name] = backtest(new_pol(), stream, conf)
        rows[name] = summarize_backtest(results[name], horizons=(10.0 / 3600.0,), episode=conf.horizon)
        lat[name] = latency_effect(new_pol, stream, conf, (0.0, 1.0, 5.0), (10.0 / 3600.0,), conf.horizon)
    rep.metrics["backtest"] = {**rows, "_settings": {"sigma": sig, "gamma": gamma, "k": k, "mean_move": move}}
    rep.metrics["backtest_latency"] = lat
    names = {
        "mean_pnl": "mean P&L per 1-hour episode",
        "std_pnl": "std of the episode P&L",
        "sharpe": "Sharpe (per episode, not annualised)",
        "total_pnl": "total P&L over the run",
        "max_drawdown": "max drawdown",
        "inventory_std": "inventory std (units)",
        "spread_pnl": "spread capture",
        "inventory_pnl": "inventory P&L",
        "adverse_selection_pnl": "adverse selection (10 s markout)",
        "fees": "fees",
        "n_fills": "fills",
    }
    lines = ["| metric | AS | naive (1 cent) |", "|---|---|---|"]
    for kk, label in names.items():
        if kk in rows["as"]:
            lines.append(f"| {label} | {float(rows['as'][kk]):.4g} | {float(rows['naive'][kk]):.4g} |")
    labels = list(lat["as"])
    heads = [f"latency {x}" if x != "on_trades" else "repriced on trades only" for x in labels]
    lat_lines = ["| strategy | " + " | ".join(heads) + " |", "|---" * (len(heads) + 1) + "|"]
    for name in lat:
        cells = [f"{lat[name][x]['total_pnl']:.4g} ({lat[name][x]['spread_pnl']:.4g})" for x in labels]
        lat_lines.append(f"| {name} | " + " | ".join(cells) + " |")
    rep.add(
        f"Event-driven backtest over {len(ticks):,} synthetic ticks ({rows['as']['duration']:.1f} trading hours; "
        "each tick is a quote update, the new mid, followed by a trade; the quotes are decided on every quote "
        "update and are live for the trade that follows, latency 0; "
        + settings_line(d["order_size"], d["q_max"], gamma, d["naive_depth"])
        + f", the defaults of `mmenv backtest`; σ = {sig:.4g} per √hour measured on the stream). P&L in price units; the "
        "attribution is over the whole run: total = spread capture + inventory P&L − fees; adverse selection "
        "is the 10 s markout of the fills (negative: the mid moved against the fill).\n\n" + "\n".join(lines)
    )
    path = plot_equity(results, rep.out / "backtest_equity.png", time_label="time (hours)")
    a, n = rows["as"], rows["naive"]
    rep.figure(
        path,
        "Mark-to-market P&L of AS and the naive 1-cent quotes over the event-driven backtest (latency 0)",
        f"both earn the spread, but the naive curve carries its inventory's price swings (inventory std "
        f"{n['inventory_std']:.2f} against {a['inventory_std']:.2f} for AS; max drawdown "
        f"{n['max_drawdown']:.4g} against {a['max_drawdown']:.4g})",
    )
    rep.add(
        "**Latency.** Total P&L over the run (spread capture in brackets) when the quotes go live 1 s or 5 s "
        "after the decision, and when they are repriced after each trade only (live from the next one). In "
        "this stream the mid changes only at the quote update that comes with each trade, so any latency "
        f"leaves the live quotes at least one mid move behind (mean |move| {move:.3g} per trade against a mean "
        f"trade depth 1/k = {1.0 / k:.3g}): they are picked off. AS's spread capture goes from "
        f"{lat['as'][labels[0]]['spread_pnl']:.4g} at latency 0 to {lat['as'][labels[1]]['spread_pnl']:.4g} at "
        f"{labels[1]}.\n\n" + "\n".join(lat_lines)
    )


# --------------------------------------------------------------------------------------------------- VII
def sec_attribution(rep: Report, cfg: dict) -> None:
    """VII: attribution and risk, from the comparison on the model market (section IX)."""
    cmp = rep.metrics.get("compare", {}).get("metrics", {}).get("model")
    if cmp is None:
        raise RuntimeError("the strategy comparison (section IX) did not run, and this section reads it")
    strat = {s: r for s, r in cmp.items() if not s.startswith("_")}
    lines = [
        "| strategy | P&L | = spread | + inventory | − fees | adverse sel. (5 steps) | max drawdown | Sharpe |",
        "|---|---|---|---|---|---|---|---|",
    ]
    for s, r in strat.items():
        lines.append(
            f"| {s} | {r['mean_pnl']:.2f} | {r['spread_pnl']:.2f} | {r['inventory_pnl']:.2f} | {r['fees']:.2f} | "
            f"{r['adverse_selection_pnl']:.2f} | {r['max_drawdown']:.2f} | {r['sharpe']:.2f} |"
        )
    rep.add(
        "P&L attribution on the model market (per episode, mean over paths; spread + inventory − fees = P&L "
        "exactly). Adverse selection is the markout of the fills 5 steps after the quote; in the AS model it "
        "is zero up to noise because the flow is uninformed. Sharpe: mean / std of the episode P&L, not "
        "annualised.\n\n" + "\n".join(lines)
    )
    rep.figure(
        _plot_attribution(strat, rep.out / "attribution.png"),
        "Mean P&L per episode split into spread capture and inventory P&L, per strategy, with the maximum "
        "drawdown beside it (model market)",
        f"spread capture makes {_share(strat):.0%} or more of every strategy's mean P&L here; the inventory "
        f"P&L averages between {min(r['inventory_pnl'] for r in strat.values()):+.2f} and "
        f"{max(r['inventory_pnl'] for r in strat.values()):+.2f}; the strategies differ in the risk they run "
        f"for it: max drawdown from {min(r['max_drawdown'] for r in strat.values()):.2f} "
        f"({min(strat, key=lambda s: strat[s]['max_drawdown'])}) to "
        f"{max(r['max_drawdown'] for r in strat.values()):.2f} ({max(strat, key=lambda s: strat[s]['max_drawdown'])})",
    )


def _share(strat: dict[str, dict]) -> float:
    """Smallest ratio of spread capture to total mean P&L over the strategies with a positive P&L."""
    ratios = [r["spread_pnl"] / r["mean_pnl"] for r in strat.values() if r["mean_pnl"] > 0]
    return min(ratios) if ratios else float("nan")


def _plot_attribution(strat: dict[str, dict], path):
    from mmenv.viz.style import pyplot, save_figure, strategy_color

    plt = pyplot()
    names = list(strat)
    x = np.arange(len(names))
    fig, (ax1, ax2) = plt.subplots(1, 2, figsize=(10.5, 3.6), gridspec_kw={"width_ratios": [2, 1]})
    sp = np.array([strat[s]["spread_pnl"] for s in names])
    inv = np.array([strat[s]["inventory_pnl"] for s in names])
    fees = np.array([strat[s]["fees"] for s in names])
    ax1.bar(x, sp, 0.6, color="tab:green", alpha=0.75, label="spread capture")
    ax1.bar(x, inv, 0.6, bottom=np.where(inv < 0, 0, sp), color="tab:blue", alpha=0.75, label="inventory P&L")
    if np.any(fees):
        ax1.bar(x, -fees, 0.6, color="tab:red", alpha=0.75, label="− fees")
    ax1.plot(x, [strat[s]["mean_pnl"] for s in names], "k_", ms=18, mew=2, label="total P&L")
    ax1.set_xticks(x, names, rotation=20)
    ax1.set_ylabel("P&L per episode (price units)")
    ax1.axhline(0, color="k", lw=0.6)
    ax1.legend(ncol=4, loc="lower left", bbox_to_anchor=(0.0, 1.02), frameon=False)
    ax2.bar(x, [strat[s]["max_drawdown"] for s in names], 0.6, color=[strategy_color(s) for s in names])
    ax2.set_xticks(x, names, rotation=20)
    ax2.set_ylabel("max drawdown (price units)")
    fig.tight_layout()
    return save_figure(fig, path)


# -------------------------------------------------------------------------------------------------- VIII
def sec_weaknesses(rep: Report, cfg: dict) -> None:
    """VIII: each assumption of the AS model switched off, the change against the base case."""
    from mmenv.studies.robustness import SCENARIOS, markdown_table, plot_robustness, run_robustness

    res = run_robustness(cfg["paths"], cfg["seed"], progress=False)
    rep.metrics["robustness"] = res
    rep.metrics["robustness_scenarios"] = {s: SCENARIOS[s][1] for s in res}
    desc = "\n".join(f"- **{s}**: {SCENARIOS[s][1]}" for s in res)
    ranked = sorted((sc for sc in res if sc != "base"), key=lambda sc: res[sc]["as"]["d_mean_pnl"])
    worst = ranked[0]
    w = res[worst]["as"]
    rep.add(
        "Each assumption of the AS model switched off one at a time (`mmenv.markets.variants`), same seeds:\n\n"
        + desc
        + "\n\n"
        + markdown_table(res)
        + f"\n\nThe largest loss of AS in this run comes from **{worst}** ({w['d_mean_pnl']:+.2f} "
        f"± {_d_se(res, worst, 'as'):.2f} per episode against the base case; adverse selection "
        f"{w['adverse_selection_pnl']:.2f}), then **{ranked[1]}** ({res[ranked[1]]['as']['d_mean_pnl']:+.2f}). "
        "Informed flow and trade-driven prices show up as negative adverse selection, which no inventory skew "
        "removes: the loss is in the fills themselves, not in the inventory they leave."
    )
    rep.figure(
        plot_robustness(res, rep.out / "robustness.png"),
        "Change of the mean episode P&L (top) and of its std (bottom) against the base model market, per "
        "scenario and strategy (variant minus base, ±2 SE)",
        _robustness_reading(res),
    )


def _robustness_reading(res: dict) -> str:
    """Which scenarios cost every strategy alike (mean) and which mostly widen one strategy's risk (std)."""
    scen = [sc for sc in res if sc != "base"]
    worst = sorted(scen, key=lambda sc: min(r["d_mean_pnl"] for r in res[sc].values()))[:3]
    means = "; ".join(
        f"{sc} {min(r['d_mean_pnl'] for r in res[sc].values()):+.2f} to "
        f"{max(r['d_mean_pnl'] for r in res[sc].values()):+.2f}"
        for sc in worst
    )
    widest = max(scen, key=lambda sc: max(r["d_std_pnl"] for r in res[sc].values()))
    who = max(res[widest], key=lambda s: res[widest][s]["d_std_pnl"])
    return (
        f"bars below zero on top are losses caused by the broken assumption; the three costliest scenarios "
        f"change the mean by (range over strategies) {means}; the largest rise in risk is {who}'s under "
        f"{widest} ({res[widest][who]['d_std_pnl']:+.2f} in std)"
    )


def _d_se(res: dict, sc: str, strat: str) -> float:
    """SE of the change of mean P&L against base: the paired one when the study gives it, else unpaired."""
    r, b = res[sc][strat], res["base"][strat]
    if r.get("d_mean_pnl_se") is not None:
        return float(r["d_mean_pnl_se"])
    return math.hypot(r["mean_pnl_se"], b["mean_pnl_se"])


# ---------------------------------------------------------------------------------------------------- IX
def sec_compare(rep: Report, cfg: dict) -> None:
    """IX: every strategy on the model market and the synthetic tick market (and bars when given)."""
    from mmenv.studies.compare import MODEL_MARKET, TICK_MARKET, markdown_table, plot_compare, run_compare

    markets = {"model": dict(MODEL_MARKET), "synthetic_ticks": {**TICK_MARKET, "synthetic_days": cfg["days"]}}
    if cfg["bars"] is not None:
        markets["bars"] = {**TICK_MARKET, "bars": cfg["bars"]}
    metrics, pnl, infos = run_compare(markets, cfg["paths"], cfg["seed"], RISK, ppo=cfg.get("ppo"))
    rep.metrics["compare"] = {"metrics": metrics, "markets": infos}
    titles = {"model": "The AS model market", "synthetic_ticks": "The synthetic tick market", "bars": "Bars"}
    for m, d in metrics.items():
        i = infos[m]
        rep.add(
            f"### {titles.get(m, m)} (A = {i['A']:.4g}, k = {i['k']:.4g}, σ = {i['sigma']:.4g}, T = {i['T']:.4g}, "
            f"dt = {i['dt']:.4g})\n\n" + markdown_table(d)
        )
        summ = d.get("_summary", {})
        if "inventory_variance" in summ:
            rep.add(_variance_table(summ["inventory_variance"]))
        if m != "model" and "as" in d:
            move = i["sigma"] * math.sqrt(i["dt"] * 2.0 / math.pi)
            rep.add(
                f"Here the env decides once per interval dt = {i['dt']:.4g} (time unit of the market): quotes "
                f"rest while the mid moves by E|Δs| = σ√(2dt/π) = {move:.3g} per interval, against a mean "
                f"trade depth 1/k = {1.0 / i['k']:.3g}. Resting quotes are picked off: AS's adverse selection "
                f"is {d['as']['adverse_selection_pnl']:.2f} per episode against a spread capture of "
                f"{d['as']['spread_pnl']:.2f}. Repricing on every quote update (section VI, latency 0) is what "
                "makes market making pay on this stream."
            )
    files = plot_compare(metrics, pnl, rep.out)
    captions = {
        "compare_risk_return": (
            "Mean against std of the episode P&L per strategy and market (±2 SE bars)",
            "up and to the left is better; " + _risk_return_reading(metrics),
        ),
        "compare_pnl_hist": (
            "Distribution of the episode P&L of AS, naive, GLFT and the optimum per market",
            _hist_reading(metrics),
        ),
    }
    for f in files:
        shows, read = captions.get(f.stem, (f.stem.replace("_", " "), "see the tables above"))
        rep.figure(f, shows, read)


def _risk_return_reading(metrics: dict) -> str:
    """Where AS and naive sit in each market's risk-return plane, and the best mean per market."""
    parts = []
    for m, d in metrics.items():
        strat = {s: r for s, r in d.items() if not s.startswith("_")}
        best = max(strat, key=lambda s: strat[s]["mean_pnl"])
        text = f"{m.replace('_', ' ')}: best mean {strat[best]['mean_pnl']:.2f} ({best})"
        if "as" in strat and "naive" in strat:
            a, n = strat["as"], strat["naive"]
            text += f", AS at std {a['std_pnl']:.2f} against naive's {n['std_pnl']:.2f}"
        parts.append(text)
    return "; ".join(parts)


def _hist_reading(metrics: dict) -> str:
    """The width of each shown strategy's P&L distribution (interquantile range is not stored: the std)."""
    parts = []
    for m, d in metrics.items():
        widths = ", ".join(f"{s} {d[s]['std_pnl']:.2f}" for s in ("as", "glft", "optimal", "naive") if s in d)
        parts.append(f"{m.replace('_', ' ')}: std {widths}")
    return "the narrower a histogram, the less the episode P&L depends on where the price went; " + "; ".join(
        parts
    )


def _variance_table(v: dict[str, dict]) -> str:
    labels = {
        "pooled": "pooled over paths and times (headline)",
        "terminal": "terminal inventory $q_T$ across paths",
        "within": "within paths (variance over time, averaged over paths)",
    }
    lines = ["| inventory variance | AS | naive | cut by AS |", "|---|---|---|---|"]
    for key, label in labels.items():
        if key in v:
            r = v[key]
            ok = all(x is not None and math.isfinite(x) for x in (r["reduction"], r["se"]))
            cut = (
                f"{r['reduction']:.1%} ± {r['se']:.1%}"
                if ok
                else r.get("undefined", "undefined: naive's variance is zero")
            )
            lines.append(f"| {label} | {r['as']:.3g} | {r['naive']:.3g} | {cut} |")
    return (
        "How much AS cuts the inventory variance against the naive strategy, under three definitions (± a "
        "bootstrap SE over paths; the same paths for both):\n\n" + "\n".join(lines)
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
    from agents.ppo import PPOAgent
    from mmenv.studies.train import (
        evaluate_policies,
        format_scores,
        reference_policies,
        reference_values,
        score_against,
    )

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


# ----------------------------------------------------------------------------------------------------- X
def sec_conclusions(rep: Report, cfg: dict) -> None:
    """X: what the evidence of this run says about when AS is the right tool, and what to build next."""
    from mmenv.studies.report_summary import conclusions_markdown

    rep.add(conclusions_markdown(rep.metrics))
