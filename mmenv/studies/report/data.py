"""Report section II: the bars and the tick synthesis on them, and what one-minute bars hide."""

from __future__ import annotations

from mmenv.data import BarReport
from mmenv.data.bars.validate import within_session_log_returns
from mmenv.studies.bar_limits import bar_limits_note
from mmenv.studies.report.document import Report
from mmenv.studies.report.inputs import run_bars, run_ticks
from mmenv.viz.style import pyplot, save_figure

__all__ = ["sec_bar_limits", "sec_data"]


def sec_data(rep: Report, cfg: dict) -> None:
    """II: the bars used and the tick synthesis on them."""
    bars = run_bars(cfg)
    ticks = run_ticks(cfg)
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
    note = bar_limits_note(days=max(2, cfg["days"] // 2), seed=cfg["seed"])
    rep.metrics["bar_limits"] = note.numbers
    rep.add(note.markdown)
