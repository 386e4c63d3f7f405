"""The report's executive summary and its conclusions (section X), from ``metrics.json`` alone.

Everything here is a function of the metrics dictionary that ``mmenv report`` writes (the same values,
after the JSON round trip), so the summary, section X and the README block (:mod:`mmenv.studies.report.readme`)
can never disagree with ``metrics.json``. :data:`SUMMARY` lists the summary sentences in reading order:
``(section number, fn)`` with ``fn(metrics) -> str | None`` (None when the run lacks that study); each sentence
links to its section.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any

from mmenv.data.samples import SAMPLES as SHARED_SAMPLES
from mmenv.studies.common import fmt_value
from mmenv.studies.report.document import Report

__all__ = [
    "SUMMARY",
    "conclusions_markdown",
    "model_comparison",
    "sec_conclusions",
    "summary_items",
    "summary_markdown",
]

Metrics = dict[str, Any]


def pct(x: float) -> str:
    """A fraction as a percentage with one decimal: 0.9381 -> '93.8%'."""
    return f"{100.0 * x:.1f}%"


def model_comparison(m: Metrics) -> dict[str, Any] | None:
    """The strategy comparison on the model market (section IX), or None when the run lacks it."""
    return m.get("compare", {}).get("metrics", {}).get("model")


def _inventory(m: Metrics) -> str | None:
    model = model_comparison(m)
    v = (model or {}).get("_summary", {}).get("inventory_variance")
    if not v:
        return None
    p, t, w = v["pooled"], v["terminal"], v["within"]
    if any(d["reduction"] is None or d["se"] is None for d in (p, t, w)):
        return None  # a ratio with a zero base is not a finding
    return (
        f"On the AS model market, AS cuts the naive strategy's inventory variance by {pct(p['reduction'])} "
        f"± {pct(p['se'])} when the variance of q is pooled over all paths and times (the headline "
        f"definition), by {pct(t['reduction'])} ± {pct(t['se'])} for the terminal inventory across paths and "
        f"by {pct(w['reduction'])} ± {pct(w['se'])} within paths (variance over time, averaged over paths)."
    )


def _pnl(m: Metrics) -> str | None:
    model = model_comparison(m)
    if not model or not {"as", "glft", "optimal", "naive"} <= set(model):
        return None
    a, g, o, n = (model[s] for s in ("as", "glft", "optimal", "naive"))

    def one(r: dict) -> str:
        return f"{r['mean_pnl']:.2f} ± {r['mean_pnl_se']:.2f} (Sharpe {r['sharpe']:.2f})"

    return (
        f"Per episode AS earns {one(a)}, GLFT {one(g)} and the continuous-time CJP policy {one(o)}, against the naive "
        f"strategy's {one(n)}: AS gives up {n['mean_pnl'] - a['mean_pnl']:.2f} of mean P&L to cut the P&L std "
        f"from {n['std_pnl']:.2f} to {a['std_pnl']:.2f}."
    )


def _rl(m: Metrics) -> str | None:
    rl = m.get("rl") or {}
    tapes = (m.get("rl_study") or {}).get("tapes") or {}
    if not rl and not tapes:
        return None
    out = []
    for run, s in rl.items():
        p = s["policies"]["ppo"]
        text = f"PPO (`{run}`, {s.get('market', 'model')} market) scores {p['mean']:.2f} ± {p['se']:.2f}"
        if "optimum_value" in s:
            text += (
                f" on the penalized objective against the exact optimum of this env's {s['optimum_value']:.2f} "
                f"(by recursion; optimality gap {s['optimality_gap_pct']:.2f}% ± "
                f"{s['optimality_gap_se_pct']:.2f}%, paired)"
            )
        elif "optimality_gap_pct" in s:
            opt = s["policies"][s["optimum"]]
            text += (
                f" on the penalized objective against the model's CJP policy's {opt['mean']:.2f} ± {opt['se']:.2f} "
                f"(a mis-specified optimum: {s['optimality_gap_pct']:.2f}% ± {s['optimality_gap_se_pct']:.2f}%)"
            )
        if "best_as" in s and s["best_as"] in s.get("edges", {}):
            e = s["edges"][s["best_as"]]
            text += f" and beats the best AS on a γ grid by {e['diff']:.2f} ± {e['se']:.2f}"
        out.append(text)
    if tapes:
        out.append(
            ("on" if out else "On")
            + " the real tapes, replayed out of sample and paired by window, PPO minus AS tuned on the training "
            "half is "
            + ", ".join(
                f"{t['edges']['as_tuned']['mean']:+.3g} ± {t['edges']['as_tuned']['se']:.2g} per {t['episode_s']:g} s "
                f"on {t['label']}"
                for t in tapes.values()
            )
        )
        sig = {k: t for k, t in tapes.items() if "ppo_signals_vs_ppo" in t["edges"]}
        if sig:
            out.append(
                "PPO with the order-book signals in its observation minus PPO without (same seed and budget) is "
                + ", ".join(
                    f"{t['edges']['ppo_signals_vs_ppo']['mean']:+.3g} ± {t['edges']['ppo_signals_vs_ppo']['se']:.2g} "
                    f"{t.get('currency', 'price units')} on {t['label']}"
                    for t in sig.values()
                )
            )
    return "; ".join(out) + "."


def _calibration(m: Metrics) -> str | None:
    c = m.get("calibration")
    if not c or "A" not in c:
        return None
    t = c.get("truth", {})
    truth = f" (truth {t['A']:.4g} and {t['k']:.4g})" if {"A", "k"} <= set(t) else ""
    return (
        f"The maximum-likelihood calibration of the order-arrival intensity on synthetic ticks gives "
        f"A = {c['A']:.4g} ± {c['A_se']:.2g} trades/s/side and k = {c['k']:.4g} ± {c['k_se']:.2g} per price "
        f"unit{truth}."
    )


def _worst(m: Metrics) -> tuple[str, dict, float] | None:
    rb = m.get("robustness")
    if not rb or "base" not in rb:
        return None
    sc = min((s for s in rb if s != "base"), key=lambda s: rb[s]["as"]["d_mean_pnl"])
    r, b = rb[sc]["as"], rb["base"]["as"]
    se = r.get("d_mean_pnl_se")
    se = float(se) if se is not None else math.hypot(r["mean_pnl_se"], b["mean_pnl_se"])
    return sc, r, se


def _weakness(m: Metrics) -> str | None:
    w = _worst(m)
    if w is None:
        return None
    sc, r, se = w
    desc = m.get("robustness_scenarios", {}).get(sc, sc)
    return (
        f"The weakness that costs AS most is **{sc}**, where {desc}: {r['d_mean_pnl']:+.2f} ± {se:.2f} per episode "
        f"against the base case, with an adverse selection of {r['adverse_selection_pnl']:.2f}, which no "
        "inventory skew removes."
    )


def _gamma(m: Metrics) -> str | None:
    rows = m.get("sensitivity")
    if not rows:
        return None
    lo, hi = rows[0], rows[-1]
    best = max(rows, key=lambda r: r["sharpe"])
    return (
        f"Raising γ from {lo['gamma']:.3g} to {hi['gamma']:.3g} turns AS from aggressive to defensive: the fill "
        f"rate falls from {lo['fill_rate']:.3f} to {hi['fill_rate']:.3f}, the inventory std from "
        f"{lo['inventory_std']:.2f} to {hi['inventory_std']:.2f} and the mean P&L from {lo['mean_pnl']:.2f} to "
        f"{hi['mean_pnl']:.2f}; the P&L per unit of risk peaks at γ = {best['gamma']:.3g} (Sharpe "
        f"{best['sharpe']:.2f})."
    )


def _latency(m: Metrics) -> str | None:
    bt, lat = m.get("backtest"), m.get("backtest_latency")
    if not bt or not lat or "as" not in bt:
        return None
    a, n = bt["as"], bt["naive"]
    l1 = lat["as"].get("1s")
    text = (
        f"In the event-driven backtest on synthetic ticks, repricing on every quote update, AS makes "
        f"{a['total_pnl']:.1f} over {a['duration']:.0f} hours against the naive quotes' {n['total_pnl']:.1f} "
        f"with an inventory std of {a['inventory_std']:.2f} against {n['inventory_std']:.2f}"
    )
    if l1 is not None:
        text += f"; 1 s of quote latency turns AS's result into {l1['total_pnl']:.1f}"
    return text + "."


def _tapes(m: Metrics) -> list[tuple[str, dict, dict, dict | None]]:
    """(name, analysis, exponential fit, the misfit row one tick past the touch or the first) per real tape."""
    out = []
    for name, d in (m.get("intensity_models") or {}).items():
        ex = d.get("models", {}).get("exponential", {})
        if "params" not in ex:
            continue
        rows = d.get("exponential_misfit") or []
        row = next((r for r in rows if "one tick" in r.get("label", "")), rows[0] if rows else None)
        out.append((_tape_title(name), d, ex, row))
    return out


def _tape_title(name: str) -> str:
    """The shared sample's title without its parenthesis (:data:`mmenv.data.samples.SAMPLES`), or the key (a
    tape given to the report is keyed by its label)."""
    return SHARED_SAMPLES[name].title.split(" (")[0] if name in SHARED_SAMPLES else name


def _law(name: str | None) -> str:
    return str(name).replace("_", "-")


def _ratio(row: dict | None) -> str:
    r = (row or {}).get("ratio_exp_to_empirical")
    return f"{r:.2g}x" if r is not None else "an unmeasured multiple of"


def _real_tapes(m: Metrics) -> str | None:
    tapes = _tapes(m)
    if not tapes:
        return None
    fits = "; ".join(
        f"{name}: χ² p = {ex.get('gof_pvalue', float('nan')):.2g}, selected law "
        f"{_law(d.get('selected_model'))}, and {(row or {}).get('label', 'at the touch')} the exponential's "
        f"rate is {_ratio(row)} the observed one"
        for name, d, ex, row in tapes
    )
    return (
        "On the real tapes the exponential intensity law that AS assumes is tested out of sample against a "
        f"power law and a two-part law ({fits})."
    )


def _calibration_and_tapes(m: Metrics) -> str | None:
    """The calibration on synthetic ticks and, when real tapes are in the run, what they show: one sentence."""
    cal, tapes = _calibration(m), _real_tapes(m)
    if cal and tapes:
        return f"{cal[:-1]}; o{tapes[1:]}"
    return cal or tapes


def _replays(m: Metrics) -> list[tuple[str, dict, dict]]:
    """(tape, AS's out-of-sample replay metrics, every strategy's) per real tape replayed in section VI."""
    out = []
    for tape, d in (m.get("real_data") or {}).items():
        strat = d.get("strategies") or {}
        if "as" in strat and "total_pnl" in strat["as"]:
            out.append((tape, strat["as"], strat))
    return out


def _cur(m: Metrics, tape: str) -> str:
    """A space and the currency of a replayed tape's amounts (its instrument's settlement currency), or an
    empty string when its metrics do not say."""
    c = ((m.get("real_data") or {}).get(tape) or {}).get("currency")
    return f" {c}" if c else ""


def _replay(m: Metrics) -> str | None:
    reps = _replays(m)
    if not reps:
        return None
    parts = "; ".join(
        f"{tape}: P&L {a['total_pnl']:,.4g}{_cur(m, tape)} from {a['spread_pnl']:,.4g} of spread and a 1 s "
        f"markout of {a['adverse_selection_pnl']:,.4g} over {a['n_fills']:,} fills"
        for tape, a, _ in reps
    )
    winners = sum(1 for _, _, st in reps for r in st.values() if r.get("total_pnl", 0.0) > 0)
    total = sum(len(st) for _, _, st in reps)
    return (
        f"Replayed out of sample on real tapes with queue-aware fills, AS is calibrated on the first half "
        f"of each tape and scored on the rest ({parts}); {winners} of {total} strategy runs make money."
    )


def _signals(m: Metrics) -> str | None:
    """Which order-book signal cuts adverse selection on each real tape, by how much, and whether anything
    makes money net of fees (the signal study of section VI)."""
    res = m.get("signals") or {}
    parts, makers, runs = [], 0, 0
    for tape, r in res.items():
        paired = {n: p["markout_total"] for n, p in r["paired_vs_as"].items() if n != "glft"}
        paired = {n: d for n, d in paired.items() if d["n_windows"] > 0 and not math.isnan(d["mean_diff"])}
        if paired:
            best = max(paired, key=lambda n: paired[n]["mean_diff"])
            d, pnl = paired[best], r["paired_vs_as"][best]["pnl_net"]
            parts.append(
                f"{tape}: `{best}`, markout {fmt_value(d['mean_diff'])} ± {fmt_value(d['se'])} and net P&L "
                f"{fmt_value(pnl['mean_diff'])} ± {fmt_value(pnl['se'])} {r['unit']} per window"
            )
        single = {n: s for n, s in r["single_split"].items() if n != "_window"}
        runs += len(single)
        makers += sum(1 for s in single.values() if s["pnl_net"] > 0)
    if not parts:
        return None
    return (
        "Against adverse selection, the signal-aware strategy that cuts the 1 s markout most relative to AS, "
        f"paired by walk-forward window, is per real tape {'; '.join(parts)}; net of the maker fee, {makers} of "
        f"{runs} out-of-sample runs (AS, GLFT and the signal-aware strategies) make money."
    )


def _signal_evidence(m: Metrics) -> str | None:
    """Section X's evidence from the signal study of section VI (None when the run lacks it)."""
    res = m.get("signals") or {}
    cut, total, makers, runs = [], 0, 0, 0
    for tape, r in res.items():
        paired = {n: p["markout_total"] for n, p in r["paired_vs_as"].items() if n != "glft"}
        ok = {n: d for n, d in paired.items() if d["n_windows"] > 1 and not math.isnan(d["se"])}
        total += 1
        sig = [n for n, d in ok.items() if d["mean_diff"] > 2.0 * d["se"]]
        if sig:
            cut.append(f"{tape} ({', '.join(f'`{n}`' for n in sig)})")
        single = {n: s for n, s in r["single_split"].items() if n != "_window"}
        runs += len(single)
        makers += sum(1 for s in single.values() if s["pnl_net"] > 0)
    if not total:
        return None
    head = (
        f"**Order-book signals see part of the toxic flow.** On {len(cut)} of {total} real tapes a signal-aware "
        "strategy's 1 s markout beats AS's by more than two standard errors, paired by walk-forward window"
        + (f": {'; '.join(cut)}" if cut else "")
        + f" (section VI); net of the maker fee, {makers} of {runs} out-of-sample runs make money."
    )
    if makers == 0:
        head += (
            " The signals shrink the loss without turning quoting into a profit on these tapes: the inventory "
            "skew of AS manages risk, and an edge against informed flow has to come from elsewhere."
        )
    return head


#: The summary sentences in reading order: (section number, sentence builder).
SUMMARY: list[tuple[str, Callable[[Metrics], str | None]]] = [
    ("IX", _inventory),
    ("IX", _pnl),
    ("IX", _rl),
    ("III", _calibration_and_tapes),
    ("VIII", _weakness),
    ("IV", _gamma),
    ("VI", _latency),
    ("VI", lambda m: " ".join(x for x in (_replay(m), _signals(m)) if x) or None),
]


def _anchors(m: Metrics) -> dict[str, str]:
    return {s["number"]: s["anchor"] for s in m.get("sections", [])}


def summary_items(m: Metrics) -> list[tuple[str, str]]:
    """(section number, sentence) of every summary sentence this run's metrics support."""
    out = []
    for num, fn in SUMMARY:
        try:
            text = fn(m)
        except Exception as exc:  # one missing number must not cost the whole report; it is said, not hidden
            text = f"This summary sentence could not be computed in this run ({type(exc).__name__}: {exc})."
        if text:
            out.append((num, text))
    return out


def summary_markdown(m: Metrics, link_prefix: str = "") -> str:
    """The executive summary: one bullet per sentence, each linking to its section (``link_prefix#anchor``)."""
    anchors = _anchors(m)
    lines = []
    for num, text in summary_items(m):
        link = f" ([section {num}]({link_prefix}#{anchors[num]}))" if num in anchors else ""
        lines.append(f"- {text}{link}")
    return "\n".join(lines) + "\n"


# ----------------------------------------------------------------------------------------------- section X
def conclusions_markdown(m: Metrics) -> str:
    """Section X: the evidence of this run, when AS is the right tool and when not, and what to build next."""
    ev: list[str] = []
    model = model_comparison(m)
    if model and {"as", "naive", "optimal", "glft"} <= set(model):
        a, n, o, g = model["as"], model["naive"], model["optimal"], model["glft"]
        v = model.get("_summary", {}).get("inventory_variance", {}).get("pooled")
        cut = f" and the inventory variance by {pct(v['reduction'])}" if v else ""
        ev.append(
            f"**Where its assumptions hold, AS does what it promises.** On the model market it cuts the P&L std "
            f"from {n['std_pnl']:.2f} to {a['std_pnl']:.2f}{cut} against naive quotes, for "
            f"{n['mean_pnl'] - a['mean_pnl']:.2f} less mean P&L ({pct((n['mean_pnl'] - a['mean_pnl']) / n['mean_pnl'])}"
            f"); its Sharpe is {a['sharpe']:.2f} against {n['sharpe']:.2f}. The continuous-time CJP policy (the "
            f"exact optimum of the same objective in continuous time) earns {o['mean_pnl']:.2f} (std {o['std_pnl']:.2f}) and GLFT {g['mean_pnl']:.2f} (std "
            f"{g['std_pnl']:.2f}), {o['mean_pnl'] - a['mean_pnl']:.2f} more than AS per episode at a std "
            f"{o['std_pnl'] - a['std_pnl']:+.2f} away from AS's: the price of AS's asymptotic spread and of its "
            "having no inventory bound."
        )
    rows = m.get("sensitivity")
    if rows:
        best = max(rows, key=lambda r: r["sharpe"])
        ev.append(
            f"**γ is the one dial, and it is forgiving.** The Sharpe ratio is above {0.8 * best['sharpe']:.2f} "
            f"(80% of its peak {best['sharpe']:.2f}) for γ from "
            f"{min(r['gamma'] for r in rows if r['sharpe'] >= 0.8 * best['sharpe']):.3g} to "
            f"{max(r['gamma'] for r in rows if r['sharpe'] >= 0.8 * best['sharpe']):.3g}: a desk can set it from "
            "its inventory limit without fine calibration."
        )
    c = m.get("calibration")
    if c and "A" in c:
        p = c.get("gof_pvalue")
        ptxt = f" (Pearson χ² p = {p:.3g})" if p is not None else ""
        ev.append(
            f"**Its inputs can be measured.** On synthetic ticks the MLE recovers A and k to within "
            f"{max(abs(c['A'] - c['truth']['A']) / c['A_se'], abs(c['k'] - c['truth']['k']) / c['k_se']):.1f} "
            f"standard errors{ptxt}, so where the exponential "
            "law holds, calibration is not the weak link."
        )
        tapes = _tapes(m)
        if tapes:
            ps = [t[2].get("gof_pvalue") for t in tapes]
            rejected = all(p is not None and p < 0.01 for p in ps)
            head = (
                "**On real tapes the exponential law does not hold.** "
                if rejected
                else "**Real tapes: the exponential law against two alternatives.** "
            )
            ev.append(head + " ".join(_real_tape(*t) for t in tapes))
        else:
            ev.append(
                "**Real tapes were not part of this run**, so whether real order flow follows the exponential "
                "law is not measured here; the fit figure of section III is the test to run on a tape before "
                "trusting AS's spread on it."
            )
    w = _worst(m)
    rb = m.get("robustness")
    if w and rb:
        losses = ", ".join(
            f"{sc} {rb[sc]['as']['d_mean_pnl']:+.2f}"
            for sc in sorted((s for s in rb if s != "base"), key=lambda s: rb[s]["as"]["d_mean_pnl"])[:3]
        )
        ev.append(
            f"**Its blind spot is information.** The largest losses against the base case come from {losses} "
            "per episode; they appear as adverse selection, hit GLFT and the optimum alike (section VIII), and "
            "are not an inventory problem, so no choice of γ fixes them."
        )
    reps = _replays(m)
    if reps:
        # amounts in different currencies do not compare: the largest spread among the tapes settled in the
        # currency of the first one
        first = _cur(m, reps[0][0])
        tape, a, _ = max((r for r in reps if _cur(m, r[0]) == first), key=lambda t: t[1]["spread_pnl"])
        c = _cur(m, tape)
        beaten = all(-r[1]["adverse_selection_pnl"] > r[1]["spread_pnl"] for r in reps)
        ev.append(
            "**Real tapes show the same blind spot.** Replayed out of sample with queue-aware fills (section "
            f"VI), AS's fills on {tape} earn {a['spread_pnl']:,.4g}{c} of spread but mark out at "
            f"{a['adverse_selection_pnl']:,.4g}{c} one second later, for a P&L of {a['total_pnl']:,.4g}{c}; AS's "
            "P&L is "
            + ", ".join(f"{r[1]['total_pnl']:,.4g}{_cur(m, r[0])} on {r[0]}" for r in reps)
            + (
                ". On every tape the 1 s markout of the fills exceeds the spread they capture: on real flow "
                "adverse selection, not inventory, decides the result."
                if beaten
                else "."
            )
        )
    sig = _signal_evidence(m)
    if sig:
        ev.append(sig)
    bt, lat = m.get("backtest"), m.get("backtest_latency")
    if bt and lat and "as" in bt:
        l1, l5 = lat["as"].get("1s"), lat["as"].get("5s")
        tx = (
            f"**Speed decides whether the spread is earned.** Repricing on every quote update, AS makes "
            f"{bt['as']['total_pnl']:.1f} on the synthetic tick stream"
        )
        if l1 and l5:
            tx += f"; with 1 s of latency {l1['total_pnl']:.1f}, with 5 s {l5['total_pnl']:.1f}"
        tick = m.get("compare", {}).get("metrics", {}).get("synthetic_ticks", {}).get("as")
        info = m.get("compare", {}).get("markets", {}).get("synthetic_ticks")
        if tick and info:
            tx += (
                f". In the env, where the quotes rest for a {3600 * info['dt']:.0f} s decision interval on the "
                f"same kind of stream, AS averages {tick['mean_pnl']:.2f} per episode with an adverse selection "
                f"of {tick['adverse_selection_pnl']:.2f} (section IX): stale quotes are picked off whatever "
                "formula set them"
            )
        ev.append(tx + ".")
    blocks = ["### What the evidence of this run says\n\n" + "\n".join(f"- {e}" for e in ev)]
    blocks.append(
        "### When AS is the right tool, and when it is not\n\n"
        "AS is the right tool when the order flow is uninformed, the mid diffuses without predictable drift, "
        "the quotes are repriced faster than the mid moves by one typical trade depth, and the objective is "
        "spread income under an inventory-risk budget: then its two closed-form lines give most of the "
        f"continuous-time optimum's P&L at lower risk{_share_of_optimum(model)}, are transparent to a risk "
        "manager, cost nothing to compute and have a single dial, γ. It is the wrong tool, or at least an "
        "incomplete one, when the flow carries "
        "information (the losses above are adverse selection, and the skew only manages inventory), when "
        "latency is comparable to the time the mid needs to move one depth (then speed, not the formula, "
        "decides), and when the fill intensity is not exponential in the depth (then the spread's liquidity "
        "term is mis-sized, and a model of the intensity that the data support should set it)."
    )
    blocks.append(
        "### Next steps\n\n"
        "- **Options market making with Greeks-based hedging.** Treat the inventory in delta terms: replace "
        "$q$ by the book's net delta $\\Delta = \\sum_i q_i\\,\\partial V_i/\\partial S$ in the reservation "
        "price, skew each option's quotes by its own delta times the book's, and hedge the residual delta in "
        "the underlying when it leaves a band; built as a market source that prices a strip of options off "
        "the simulated mid (Black-Scholes, then a stochastic-volatility model) and a policy that applies the "
        "engine's formulas per strike, with vega treated as a second inventory.\n"
        "- **Learned volatility forecasts in the quotes.** `mmenv vol-forecast` already feeds GARCH, HAR-RV "
        "and EWMA forecasts $\\hat\\sigma_t$ into AS's reservation price and spread; the next forecast is "
        "learned: a small network on recent returns, realised range and order-flow features, trained on "
        "QLIKE, plugged into the same forecast-sigma policy and scored by the same paired comparison and by "
        "the robustness harness against the constant, true and EWMA σ.\n"
        "- **Queue-aware fills in the simulator.** Track the queue ahead of each quote (FIFO, with arrival "
        "and cancellation rates calibrated from LOBSTER message data) so that a quote fills only when traded "
        "volume exhausts it; built into the core's matching as a per-path queue state next to the inventory, "
        "so the env and the synthetic backtest share the fill rule that replays of real tapes use, and AS's "
        "spread is then judged against fills it would really get.\n"
        "- **Multi-level quoting.** Let the action be a ladder of depths and sizes on each side; the core's "
        "matching loops over levels, and the exact optimum extends to several levels through the same "
        "linear-system solution of the HJB.\n"
        "- **Order-flow-aware skew on the simulated markets.** The signal-aware quotes measured on real tapes in "
        "section VI (the imbalance's predicted drift in the reservation price, one-sided withdrawal) also "
        "belong on the informed-flow variants of section VIII, where the flow's information is known, to "
        "separate what a signal can recover from what it cannot (Cartea, Jaimungal & Ricci 2014)."
    )
    return "\n\n".join(blocks) + "\n"


def _share_of_optimum(model: dict | None) -> str:
    """' (here 95.5% of its mean P&L at a P&L std of 6.62 against 7.59)', or '' without the comparison."""
    if not model or not {"as", "optimal"} <= set(model) or model["optimal"]["mean_pnl"] <= 0:
        return ""
    a, o = model["as"], model["optimal"]
    return (
        f" (here {pct(a['mean_pnl'] / o['mean_pnl'])} of its mean P&L at a P&L std of {a['std_pnl']:.2f} "
        f"against {o['std_pnl']:.2f})"
    )


def _real_tape(name: str, d: dict, ex: dict, row: dict | None) -> str:
    """One tape: the exponential's A and k with SEs and its fit test, the law chosen out of sample, how far
    the exponential is off one tick past the touch, and where a risk-neutral dealer would quote under each."""
    p, se = ex["params"], ex.get("se", {})

    def pm(k: str) -> str:
        return f"{p[k]:.4g}" + (f" ± {se[k]:.2g}" if se.get(k) is not None else "")

    sel = d.get("selected_model")
    text = (
        f"{name}: the exponential fits A = {pm('A')}, k = {pm('k')}, but its shape fails the test "
        f"(χ² p = {ex.get('gof_pvalue', float('nan')):.2g}) and the held-out likelihood selects the {_law(sel)} law; "
        f"{(row or {}).get('label', 'at the touch')} the exponential puts the order rate at {_ratio(row)} the "
        "observed one"
    )
    rn = d.get("risk_neutral_depth", {})
    if "exponential" in rn and sel in rn:
        de, ds = rn["exponential"]["depth"], rn[sel]["depth"]
        if abs(de - ds) > 0.05 * max(abs(ds), 1e-12):
            text += (
                f", and a risk-neutral dealer would quote at depth {de:.4g} under the exponential against "
                f"{ds:.4g} under the {_law(sel)} law"
            )
        else:
            text += f"; both laws put a risk-neutral dealer's quote at depth {ds:.4g}"
    return text + "."


def sec_conclusions(rep: Report, cfg: dict) -> None:
    """X: what the evidence of this run says about when AS is the right tool, and what to build next."""
    rep.add(conclusions_markdown(rep.metrics))
