"""Report section VI (end): do order-book signals cut adverse selection on the real tapes?

Runs :func:`mmenv.studies.signal_study.run_signal_study` on every shared tape found (3 walk-forward windows
in quick mode, 6 otherwise), prints its tables and sentences computed from them, and stores the results under
``rep.metrics["signals"]`` (read by the executive summary, :mod:`mmenv.studies.report.summary`).
"""

from __future__ import annotations

from typing import Any

from mmenv.studies.common import fmt_value
from mmenv.studies.report.document import Report
from mmenv.studies.signal_study import BASELINE, format_study, run_signal_study, signal_samples

__all__ = ["best_signal", "power_markdown", "sec_signals", "signals_markdown"]


def best_signal(r: dict[str, Any]) -> tuple[str, dict[str, float]] | None:
    """(strategy, paired markout difference vs AS) of the signal-aware strategy whose walk-forward markout
    improves most on AS's in one tape's results (None without windows)."""
    paired = {n: p["markout_total"] for n, p in r["paired_vs_as"].items() if n != "glft"}
    paired = {n: d for n, d in paired.items() if d["n_windows"] > 0 and d["mean_diff"] == d["mean_diff"]}
    if not paired:
        return None
    name = max(paired, key=lambda n: paired[n]["mean_diff"])
    return name, paired[name]


def _sentences(results: dict[str, Any]) -> list[str]:
    out = []
    for label, r in results.items():
        b = best_signal(r)
        if b is None:
            continue
        name, d = b
        se = d["se"]
        sig = se == se and abs(d["mean_diff"]) > 2.0 * se
        pnl = r["paired_vs_as"][name]["pnl_net"]
        per = r["paired_vs_as"][name]["markout_per_fill"]
        fills = r["paired_vs_as"][name]["n_fills"]
        single = r["single_split"]
        makers = [n for n, s in single.items() if n != "_window" and s["pnl_net"] > 0]
        out.append(
            f"On {label}, `{name}` cuts adverse selection most: its 1 s markout minus AS's, paired by "
            f"walk-forward window, is {fmt_value(d['mean_diff'])} ± {fmt_value(se)} {r['unit']} per window "
            f"({'more than' if sig else 'within'} two standard errors of zero; per fill "
            f"{fmt_value(per['mean_diff'])} ± {fmt_value(per['se'])}), with "
            f"{fmt_value(fills['mean_diff'])} fills and a P&L net of the {r['maker_fee_bps']:g} bps maker fee "
            f"{fmt_value(pnl['mean_diff'])} ± {fmt_value(pnl['se'])} per window against AS; out of sample on "
            "the second half, "
            + (
                f"{', '.join(f'`{n}`' for n in makers)} make money net of fees."
                if makers
                else "no strategy (AS, GLFT or signal-aware) makes money net of fees (AS: "
                f"{fmt_value(single[BASELINE]['pnl_net'])})."
            )
        )
    return out


def signals_markdown(results: dict[str, Any]) -> str:
    """The subsection's markdown: what is compared, the tables, the sentences computed from them."""
    if not results:
        return (
            "No shared real-data sample was found; `mmenv signal-study --shared-data FOLDER` runs this study."
        )
    return (
        "AS and GLFT beside their signal-aware versions (`mmenv signal-study`): `as-micro` and `glft-micro` "
        "quote around the micro-price of Stoikov (2018), its adjustment table fitted in sample, instead of the "
        "mid; `imbalance` skews the AS quotes by the drift the touch imbalance predicts over 1 s (slope fitted "
        "in sample) and withdraws the side it predicts to be picked off when that drift exceeds the in-sample "
        "median half-spread (Cartea, Donnelly and Jaimungal 2018). Every parameter is fitted on the data before "
        "the window scored: the first half for the single split, the previous window for the walk-forward. "
        "Markout: `side x size x (mid 1 s later - mid at the fill)`, negative when the fill was adversely "
        "selected.\n\n"
        + "\n".join(f"- {s}" for s in _sentences(results))
        + "\n\n"
        + format_study(results)
        + "\n"
        + power_markdown(results)
    )


def power_markdown(results: dict[str, Any]) -> str:
    """Each signal's out-of-sample R^2 (the in-sample line's, against the in-sample mean) of the next mid move
    over the study's horizon, per tape, with its in-sample R^2."""
    tapes = list(results)
    names = list(next(iter(results.values()))["signal_power"])
    h = next(iter(results.values()))["horizon_s"]
    out = [
        f"Predictive power of each signal for the mid move over the next {h:g} s: R² of the line fitted on "
        "the first half, in sample / out of sample (second half; below zero: worse than the in-sample mean).\n",
        "| signal | " + " | ".join(tapes) + " |",
        "|---|" + "---:|" * len(tapes),
    ]
    for n in names:
        cells = []
        for t in tapes:
            p = results[t]["signal_power"].get(n, {})
            cells.append(
                f"{fmt_value(p.get('r2_in'))} / {fmt_value(p.get('r2_out'))}" if "r2_in" in p else ""
            )
        out.append(f"| `{n}` | " + " | ".join(cells) + " |")
    return "\n".join(out) + "\n"


def sec_signals(rep: Report, cfg: dict[str, Any]) -> None:
    """VI (end): the signal study on every shared tape."""
    srcs = signal_samples(cfg.get("shared_data"))
    results = run_signal_study(srcs, windows=3 if cfg.get("quick") else 6)
    rep.add("### Order-book signals against adverse selection\n\n" + signals_markdown(results))
    rep.metrics["signals"] = results
