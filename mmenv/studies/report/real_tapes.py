"""Report section VI (continued): the real-tape backtest on the shared samples and the tapes given to the report.

Each tape the report replays (:func:`mmenv.studies.report.inputs.replay_tapes`: the shared samples, the
Binance COIN-M inverse perpetuals among them, and the tapes given to the report) is split in two: the
strategies are calibrated on the first half and replayed on the second by the queue-aware engine
(:func:`mmenv.studies.tape_backtest.run_study`, the quick settings in quick mode), every amount in the
instrument's settlement currency (coins for an inverse contract, also shown in the quote currency at the
last mid); the part prints the calibration, every strategy's out-of-sample scores, the fill-model x latency
table and sentences computed from them, and stores the metrics under ``rep.metrics["real_data"]`` by the
tape's label.
"""

from __future__ import annotations

from typing import Any

from mmenv.studies.common import fmt_number, fmt_value
from mmenv.studies.report.document import Report
from mmenv.studies.report.inputs import replay_tapes
from mmenv.studies.tape_backtest import default_args, run_study

__all__ = ["real_tapes_markdown", "sec_real_tapes"]


def sec_real_tapes(rep: Report, cfg: dict[str, Any]) -> None:
    """VI (end): the real-tape backtest on each real tape of the run."""
    samples: dict[str, dict[str, Any]] = {}
    args = default_args(bool(cfg.get("quick")))
    for src in replay_tapes(cfg):
        tape = src.load()
        m = run_study(tape, args, instrument=src.instrument_of(tape))
        m.pop("_results")
        samples[src.label] = m
    rep.add(
        "### Real data: replay of trades and quotes with queue-aware fills\n\n"
        "The strategies calibrated on the first half of each real sample (A, k, sigma by maximum likelihood) and "
        "replayed on the second half by the queue-aware engine (`mmenv backtest --lobster` / `--trades --quotes`; "
        "fill models and assumptions in the README): their P&L, its attribution, the 1 s markout of their fills, "
        "fill ratio and time at the inventory limit, then the same runs with `trade_through` and `queue` fills "
        "at each entry latency. Amounts are in the instrument's settlement currency: the quote currency of a "
        "linear contract, the coin of an inverse one (Binance COIN-M: contracts of a fixed USD face value, "
        "P&L n c (1/P0 - 1/P1) coins), whose P&L is also given in USD at the last mid.\n\n"
        + real_tapes_markdown(samples)
    )
    rep.metrics["real_data"] = samples


def _money(v: float) -> str:
    """An amount of money to 4 significant digits with thousands separators, or "undefined"."""
    return fmt_number(v, ",.4g")


def real_tapes_markdown(samples: dict[str, dict[str, Any]]) -> str:
    """Markdown of the real-data section: for each tape (name -> :func:`mmenv.studies.tape_backtest.run_study`
    metrics), the calibration
    with standard errors, every strategy's out-of-sample scores, the fill-model x latency table and sentences
    computed from them."""
    if not samples:
        return (
            "No real-data sample was found (the LOBSTER AMZN, Binance BTCUSDT and COIN-M samples of "
            "`../shared/data`); `mmenv backtest --lobster MSG BOOK` or `--trades T --quotes Q` runs this study."
        )
    parts = []
    for name, m in samples.items():
        c, oos, strat = m["calibration"], m["out_of_sample"], m["strategies"]
        rep = m["tape_report"]
        excl = {
            k: v
            for k, v in rep.items()
            if (k.startswith("excluded") or k in ("trades_outside_book", "gaps")) and v
        }
        cur = m.get("currency", "")
        inst = m.get("instrument") or {}
        size = (
            f"contracts of {inst['contract_size']:g} {inst['quote_currency']}"
            if inst.get("inverse")
            else "units"
        )
        parts.append(f"### {name}\n")
        parts.append(
            f"{m['source']}, tick {m['tick']:g}: {m['n_events']:,} events ({m['n_quotes']:,} quotes, {m['n_trades']:,} "
            f"trades); loader exclusions and anomalies: "
            + (", ".join(f"{k.replace('_', ' ')} {v}" for k, v in excl.items()) or "none")
            + f". Calibrated on the first {m['in_sample']['fraction']:g} of the time "
            f"({m['in_sample']['n_events']:,} events): A = {c['A_per_s']:.4g} ± {c['A_se']:.2g} /s, "
            f"k = {c['k_per_price']:.4g} ± {c['k_se']:.2g} /price, sigma = {c['sigma_per_sqrt_s']:.4g} ± "
            f"{c['sigma_se']:.2g} price/√s. Out of sample: {oos['n_events']:,} events over {oos['duration_s']:,.1f} s, "
            f"one lot = {m['lot']:g} {size}, limit {m['replay']['q_max'] / m['lot']:g} lots. Settings: {m['header']}."
            + (f" Amounts in {cur}." if cur else "")
            + "\n"
        )
        h = next(iter(next(iter(strat.values()))["markouts_per_unit"]), "1s")
        parts.append(
            f"| strategy | P&L | P&L liquidated | spread | inventory | fees | markout {h} | fills | fill ratio | time at limit |"
        )
        parts.append("|---|---|---|---|---|---|---|---|---|---|")
        for s, v in strat.items():
            parts.append(
                f"| {s} | {_money(v['total_pnl'])} | {_money(v['pnl_liquidated'])} | {_money(v['spread_pnl'])} | "
                f"{_money(v['inventory_pnl'])} | {_money(v['fees'])} | {_money(v['adverse_selection_pnl'])} | "
                f"{int(v['n_fills']):,} | {fmt_value(v['fill_ratio'])} | {fmt_value(v['time_at_limit'])} |"
            )
        if inst.get("inverse"):
            parts.append(
                f"\nP&L in {inst['quote_currency']} at the last mid: "
                + ", ".join(f"{s} {_money(v['total_pnl_quote'])}" for s, v in strat.items())
                + "."
            )
        table = m["fill_latency_table"]
        cols = [(mod, lat) for mod, rows in table.items() for lat in rows]
        if cols:
            parts.append("\nTotal P&L out of sample (fills) by fill model and entry latency:\n")
            parts.append("| strategy | " + " | ".join(f"{mod} {lat}" for mod, lat in cols) + " |")
            parts.append("|---|" + "---|" * len(cols))
            for s in strat:
                parts.append(
                    f"| {s} | "
                    + " | ".join(
                        f"{_money(table[mod][lat][s]['total_pnl'])} ({int(table[mod][lat][s]['n_fills']):,})"
                        for mod, lat in cols
                    )
                    + " |"
                )
        parts.append("\n" + " ".join(_sentences(m)) + "\n")
    return "\n".join(parts)


def _sentences(m: dict[str, Any]) -> list[str]:
    strat = m["strategies"]
    cur = m.get("currency")

    def money(v: float) -> str:
        return _money(v) + (f" {cur}" if cur else "")

    pnl = {s: v["total_pnl"] for s, v in strat.items()}
    best = max(pnl, key=pnl.get)
    winners = [s for s, v in pnl.items() if v > 0]
    out = [
        f"{len(winners)} of {len(pnl)} strategies made money out of sample"
        + (f" ({', '.join(winners)})" if winners else "")
        + f"; the best was {best} with {money(pnl[best])}."
    ]
    if "as" in strat:
        v = strat["as"]
        if v["spread_pnl"] > 0:
            share = -v["adverse_selection_pnl"] / v["spread_pnl"]
            out.append(
                f"AS earned {money(v['spread_pnl'])} of spread over {int(v['n_fills']):,} fills and the "
                f"markout of its fills was {money(v['adverse_selection_pnl'])}, {share:.0%} of that spread"
                + (" (adverse selection exceeded the spread)." if share > 1 else ".")
            )
        else:
            out.append(
                f"AS's {int(v['n_fills']):,} fills earned no spread ({money(v['spread_pnl'])}: at its fills "
                "the mid was on average already beyond its quote, which the market went through) and "
                f"their markout was {money(v['adverse_selection_pnl'])}."
            )
    table = m["fill_latency_table"]
    q = table.get("queue", {})
    t = table.get("trade_through", {})
    lats = list(q)
    if "as" in strat and len(lats) >= 2:
        a, b = q[lats[0]]["as"], q[lats[-1]]["as"]
        out.append(
            f"With the queue model, from {lats[0]} to {lats[-1]} of entry latency AS's fills go from "
            f"{int(a['n_fills']):,} to {int(b['n_fills']):,} and its P&L from {money(a['total_pnl'])} to "
            f"{money(b['total_pnl'])}"
            + (": the fills latency removes were losing ones." if b["total_pnl"] > a["total_pnl"] else ".")
        )
    if "as" in strat and lats and lats[0] in t:
        a, b = t[lats[0]]["as"], q[lats[0]]["as"]
        out.append(
            f"At {lats[0]}, trade_through gives AS {int(a['n_fills']):,} fills and {money(a['total_pnl'])}, "
            f"the queue model {int(b['n_fills']):,} fills and {money(b['total_pnl'])}."
        )
    return out
