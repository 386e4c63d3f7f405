"""Report section I: the dealer's dilemma and the Avellaneda-Stoikov framework, with this run's values.

The variables, the formulas (AS 2008 eqs. 2.10-2.12, 3.17, 3.18; GLFT 2013; CJP 2015 section 10.2), the AS
quotes at t = 0 in the model market and the trade-off figure (quotes against inventory; fill rate and
inventory risk against gamma, from section IV's grid).
"""

from __future__ import annotations

import numpy as np

from mmenv.engine import optimal_spread, reservation_price
from mmenv.studies.report.document import Report
from mmenv.studies.report.inputs import RISK, model_info
from mmenv.viz.style import pyplot, save_figure, strategy_color, twin_lines

__all__ = ["THEORY", "sec_theory"]


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


def sec_theory(rep: Report, cfg: dict) -> None:
    """I: the dilemma in words, the variables with this run's values, the formulas, the trade-off figure."""
    info = model_info()
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
