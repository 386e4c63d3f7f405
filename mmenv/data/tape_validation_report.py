"""The tape validator's rules and report: the thresholds, the table of rules (:data:`RULES`) and what a
validation found and did (:class:`TapeValidation`, its one-line-per-finding summary).

The checks that apply the rules are :mod:`mmenv.data.tape_validation` (whose docstring states every rule in
order); the measurements behind them are :mod:`mmenv.data.tape_rules`.
"""

from __future__ import annotations

import dataclasses
import math
from dataclasses import dataclass, field
from typing import Any

__all__ = [
    "MAX_GAP_S",
    "RULES",
    "TapeValidation",
    "TapeValidationError",
    "rule_text",
    "rule_words",
]

#: Default gap threshold (s): longer intervals without any event are excluded from rate estimates.
MAX_GAP_S = 60.0
#: Refused above this average rate of events per second (over more than MIN_RATE_EVENTS events).
MAX_EVENT_RATE = 1e6
MIN_RATE_EVENTS = 1_000
#: Horizon of the moves of the mid whose robust sd scales the thresholds (ns).
SCALE_HORIZON_NS = 1_000_000_000
#: Absurd quotes: floors and multiples of the threshold S.
ABSURD_TICKS, ABSURD_SIGMAS, ABSURD_SPREADS = 50.0, 20.0, 10.0
#: S never exceeds this share of the price level (the median trade price; the median mid without trades).
ABSURD_MAX_SHARE = 0.2
#: Refused when the median trade price and the median mid differ by more than this factor.
MAX_LEVEL_RATIO = 1.25
#: Half-width of the window of the reference mid of an absurd level (ns).
LEVEL_HALF_NS = 30_000_000_000
#: Bad prints: floor in ticks and multiple of sigma_1s; half-width of the book's envelope (ns).
BAD_PRINT_TICKS, BAD_PRINT_SIGMAS = 20.0, 10.0
ENVELOPE_HALF_NS = 1_000_000_000
#: Refused above this share of trades on the wrong side of the book.
MAX_WRONG_SIDE = 0.10
#: Refused above this share of the quotes, or of the trades, dropped.
MAX_DROP_SHARE = 0.5
#: Stretches reported: at least this long (ns); frozen ones with at least this many trades.
STRETCH_NS = 10_000_000_000
FROZEN_MIN_TRADES = 5

#: Every rule: name -> (rows, what is done, the rule with its threshold).
RULES: dict[str, tuple[str, str, str]] = {
    "time_unit": ("file", "refused", f"more than {MAX_EVENT_RATE:.0e} events per second on average"),
    "time_overlap": ("file", "refused", "trades and quotes whose times do not overlap"),
    "tick": ("file", "refused", "a given tick making more than 10^6 levels, or 0.1% of prices off its grid"),
    "quotes_off_grid": ("quotes", "dropped", "a bid or ask off the tick grid (99.9% of prices lie on it)"),
    "prices_snapped": ("prices", "repaired", "within 0.001 tick of the grid: put exactly on it"),
    "trades_off_grid": ("trades", "kept", "a trade price off the tick grid (e.g. a midpoint execution)"),
    "sizes_off_lot": ("sizes", "kept", "a size off the lot grid (99.9% of sizes lie on it)"),
    "quotes_absurd_spread": (
        "quotes",
        "dropped",
        "spread > S = max(50 ticks, 20 sigma_1s, 10 median spreads), at most 20% of the price",
    ),
    "quotes_absurd_level": ("quotes", "dropped", "mid further than S from the median mid within 30 s"),
    "price_overlap": (
        "file",
        "refused",
        "trade prices (1% to 99%) outside the quotes' range, or medians more than a factor 1.25 apart",
    ),
    "trades_before_first_quote": ("trades", "dropped", "before the first valid quote"),
    "trades_after_last_quote": ("trades", "dropped", "more than max_gap_s after the last valid quote"),
    "trades_zero_size": ("trades", "dropped", "size <= 0"),
    "trades_bad_print": (
        "trades",
        "dropped",
        "more than max(20 ticks, 10 sigma_1s) outside the book within 1 s",
    ),
    "wrong_side": ("file", "refused", "more than 10% of trades on the wrong side of the book"),
    "trades_outside_book": ("trades", "kept", "a buy below the bid or a sell above the ask"),
    "share_invalid": ("file", "refused", "more than half of the quotes, or of the trades, dropped"),
    "gaps": ("time", "excluded", "no event for more than max_gap_s (60 s): left out of every rate"),
    "one_sided_stretches": ("time", "kept", "a one-sided or empty book for 10 s or more"),
    "frozen_stretches": ("time", "kept", "no book change for 10 s or more while 5 or more trades printed"),
}


class TapeValidationError(ValueError):
    """A tape refused by the validator (the message names the file and says what to do)."""


@dataclass(frozen=True)
class TapeValidation:
    """What the validator found in a tape and what it did (the ``tape_validation`` of the JSON outputs).

    Attributes:
        source: the tape's description.
        quotes_in, quotes_out, trades_in, trades_out: rows before and after (quotes_in counts the quote rows
            the loader excluded too).
        dropped: rows dropped, by rule (names of :data:`RULES` and the loaders' ``excluded_*`` counts).
        repaired: values repaired, by rule.
        kept: anomalies counted and kept (and the gaps, excluded from rates), by rule.
        first: where the first row of each rule is (``"trades.csv line 1,234"``), when known.
        tick, lot: the grids used; tick_given, lot_given: whether they were given (else inferred).
        thresholds: the numbers the rules used (sigma_1s, S, P, max_gap_s, ...).
    """

    source: str
    quotes_in: int
    quotes_out: int
    trades_in: int
    trades_out: int
    dropped: dict[str, int] = field(default_factory=dict)
    repaired: dict[str, int] = field(default_factory=dict)
    kept: dict[str, float] = field(default_factory=dict)
    first: dict[str, str] = field(default_factory=dict)
    tick: float = math.nan
    tick_given: bool = False
    lot: float | None = None
    lot_given: bool = False
    thresholds: dict[str, float | None] = field(default_factory=dict)

    @property
    def clean(self) -> bool:
        """Nothing dropped or repaired."""
        return not any(self.dropped.values()) and not any(self.repaired.values())

    def summary(self) -> str:
        """One line per finding (printed by the commands, ``"; "``-joined)."""
        lot = "unknown" if self.lot is None else f"{self.lot:g}"
        lines = [
            f"{self.quotes_in:,} quotes in, {self.quotes_out:,} kept; {self.trades_in:,} trades in, "
            f"{self.trades_out:,} kept; tick {self.tick:g} ({'given' if self.tick_given else 'inferred'}), "
            f"lot {lot} ({'given' if self.lot_given else 'inferred'})"
        ]

        def where(rule: str) -> str:
            return f", first at {self.first[rule]}" if rule in self.first else ""

        for rule, n in self.dropped.items():
            if n:
                lines.append(
                    f"dropped {n:,} {rule_words(rule)} ({rule_text(rule, self.thresholds)}{where(rule)})"
                )
        for rule, n in self.repaired.items():
            if n:
                lines.append(f"repaired {n:,} {rule_words(rule)}")
        k = self.kept
        if k.get("gaps"):
            lines.append(
                f"{k['gaps']:,} gaps longer than {self.thresholds.get('max_gap_s', MAX_GAP_S):g} s "
                f"({k.get('gap_time_s', 0.0):,.1f} s in all, longest {k.get('longest_gap_s', 0.0):,.1f} s): "
                "left out of every rate estimate"
            )
        for rule in ("trades_off_grid", "sizes_off_lot", "trades_outside_book"):
            if k.get(rule):
                lines.append(f"{k[rule]:,} {rule_words(rule)} kept{where(rule)}")
        for rule in ("one_sided_stretches", "frozen_stretches"):
            if k.get(rule):
                lines.append(
                    f"{k[rule]:,} {rule_words(rule)} of 10 s or more (longest "
                    f"{k.get('longest_' + rule.removesuffix('es'), 0):,.1f} s)"
                )
        return "\n".join(lines)

    def as_dict(self) -> dict[str, Any]:
        """The report as a JSON-ready dict."""
        return dataclasses.asdict(self)

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> TapeValidation:
        """The report from :meth:`as_dict`'s output."""
        names = {f.name for f in dataclasses.fields(cls)}
        return cls(**{k: v for k, v in d.items() if k in names})


def rule_words(rule: str) -> str:
    """A rule's name in words (``"trades_bad_print"`` -> ``"trades bad print"``)."""
    return rule.replace("_", " ")


def rule_text(rule: str, th: dict[str, float | None]) -> str:
    """The rule with the threshold a tape used (``th``: :attr:`TapeValidation.thresholds`), else its
    :data:`RULES` text."""
    if rule == "trades_bad_print" and th.get("bad_print") is not None:
        return f"more than {th['bad_print']:.4g} outside the book within 1 s"
    if rule in ("quotes_absurd_spread", "quotes_absurd_level") and th.get("absurd") is not None:
        what = (
            "spread above" if rule.endswith("spread") else "mid further from the median mid within 30 s than"
        )
        return f"{what} {th['absurd']:.4g}"
    return RULES.get(rule, ("", "", rule.removeprefix("excluded_").replace("_", " ")))[2]
