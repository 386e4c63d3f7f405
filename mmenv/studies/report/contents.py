"""The report's table of contents: its sections in reading order and the parts that write each.

To add a section: write ``part(rep, cfg)`` functions (:data:`mmenv.studies.report.document.Part`) in the module
of their theme, or in a module of their own, and list them here; to add a subsection, append a part to an
existing section; a summary sentence goes in :data:`mmenv.studies.report.summary.SUMMARY`.
"""

from __future__ import annotations

from mmenv.studies.report import (
    backtest,
    calibration,
    comparison,
    data,
    engine,
    intensity,
    optimality,
    real_tapes,
    risk,
    saved_studies,
    sensitivity,
    signals,
    summary,
    theory,
)
from mmenv.studies.report.document import Section

__all__ = ["SECTIONS"]

#: The report's sections in reading order.
SECTIONS: tuple[Section, ...] = (
    Section("I", "The dealer's dilemma: the Avellaneda-Stoikov framework", (theory.sec_theory,), ("IV",)),
    Section("II", "Data and tick synthesis", (data.sec_data, data.sec_bar_limits)),
    Section(
        "III",
        "Calibration of the order-arrival intensity",
        (calibration.sec_calibration, intensity.sec_intensity_models),
    ),
    Section(
        "IV",
        "Risk aversion and volatility: from aggressive to defensive quoting",
        (sensitivity.sec_sensitivity, saved_studies.sec_vol_forecast),
    ),
    Section("V", "The engine and the AS 2008 replication", (engine.sec_engine, engine.sec_replication)),
    Section(
        "VI",
        "The event-driven backtest and latency",
        (backtest.sec_backtest, real_tapes.sec_real_tapes, signals.sec_signals),
    ),
    Section("VII", "Attribution and risk", (risk.sec_attribution,), ("IX",)),
    Section("VIII", "The model's weaknesses, measured", (risk.sec_weaknesses,)),
    Section(
        "IX",
        "Strategy comparison",
        (comparison.sec_compare, optimality.sec_rl, optimality.sec_exact_optimum, saved_studies.sec_rl_study),
    ),
    Section(
        "X",
        "Conclusions: when Avellaneda-Stoikov is the right tool",
        (summary.sec_conclusions,),
        ("III", "IV", "VI", "VIII", "IX"),
    ),
)
