"""Loaders of real market data: one module per format, behind one table of formats, each into a
:class:`mmenv.data.tape.Tape` (the one representation of real top-of-book data).

:data:`FORMATS` is the table: a :class:`TapeFormat` per format name (its loader, the files it takes, what it
provides, its time unit and how it orders a trade and a quote stamped with the same time); :func:`load` reads
any of them by name. The formats: :mod:`~mmenv.data.loaders.lobster` (LOBSTER message + order book),
:mod:`~mmenv.data.loaders.binance` (trades + best bid/ask), :mod:`~mmenv.data.loaders.generic` (the
generic tape schema, which :func:`save_tape` writes) and :mod:`~mmenv.data.loaders.hftbacktest`
(hftbacktest's event files, which :func:`save_hftbacktest` writes). Their shared helpers are
:mod:`~mmenv.data.loaders.common`. A new format is a module with its loader plus one row in :data:`FORMATS`.

Rules shared by every loader (what a user can rely on):

* *Structural* problems are errors naming the file, the line (1-based, header included) and the column: a
  blank or unparseable required field, an order book file whose column count is not 4 per level, files of
  different lengths, timestamps out of order, a repeated trade id (a file appended to itself), timestamps
  in the wrong unit (seconds where milliseconds are expected), a file with no valid quote at all.
* *Market-state* anomalies are excluded and counted in ``Tape.report`` (printed by the CLI, written to
  ``metrics.json``; never only a warning): crossed quotes (``excluded_quotes_crossed``), locked quotes
  (``excluded_quotes_locked``), a missing side or a zero size (``excluded_quotes_empty_side``), trades of
  zero size (``excluded_trades_zero_size``), trades before the first valid quote
  (``excluded_trades_before_first_quote``). An excluded quote leaves the
  previous valid book in force. Trades beyond the opposite side of the book they met (a buy below the bid,
  a sell above the ask: off-book prints or a stale book) are kept and counted (``trades_outside_book``):
  they can never fill a quote of ours (a buy below the bid is below any ask we may rest) and calibration
  excludes them as orders below their touch.
* Gaps (no event for more than ``max_gap_s`` seconds) are counted (``gaps``, ``longest_gap_s``); the
  replay continues across them.
* Trades and quotes at the same timestamp: each trade meets the last quote stamped strictly before it (the
  quote stamped with the trade's time may already show its effect); each format's ``ties`` says how.
* Each print is one trade row (LOBSTER: each execution message); calibration merges the prints of one
  market order (same time and direction) as :func:`mmenv.calibration.trades.aggregate_market_orders` does.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from mmenv.data.loaders.binance import load_binance
from mmenv.data.loaders.common import infer_lot, infer_tick
from mmenv.data.loaders.generic import load_tape, save_tape
from mmenv.data.loaders.hftbacktest import load_hftbacktest, save_hftbacktest
from mmenv.data.loaders.lobster import load_lobster
from mmenv.data.tape import Tape

__all__ = [
    "FORMATS",
    "TapeFormat",
    "infer_lot",
    "infer_tick",
    "load",
    "load_binance",
    "load_hftbacktest",
    "load_lobster",
    "load_tape",
    "save_hftbacktest",
    "save_tape",
]


@dataclass(frozen=True)
class TapeFormat:
    """One format of real data.

    Attributes:
        name: the format's name (the ``format`` of :class:`mmenv.data.samples.Sample`).
        loader: ``loader(*files, tick=None, max_gap_s=60.0, **options)`` returns the :class:`Tape`.
        files: what each file argument is, in order.
        provides: the events the tape gets from it.
        time_unit: the time of the files and how it becomes the tape's nanoseconds.
        ties: the order of a trade and a quote stamped with the same time.
    """

    name: str
    loader: Callable[..., Tape]
    files: tuple[str, ...]
    provides: str
    time_unit: str
    ties: str


#: Every format of real data, by name.
FORMATS: dict[str, TapeFormat] = {
    f.name: f
    for f in (
        TapeFormat(
            "lobster",
            load_lobster,
            ("message file", "order book file"),
            "level-1 quotes (every change of the valid best bid/ask) and every execution, visible (type 4) "
            "and hidden (type 5), one trade row each; halts counted",
            "seconds after midnight with nanosecond resolution, rounded to integer ns (origin: the file's "
            "day, exchange time)",
            "message order: an execution sorts before the book update of its own message row",
        ),
        TapeFormat(
            "binance",
            load_binance,
            ("trades file", "best bid/ask (bookTicker) file"),
            "best bid/ask updates and every trade, the aggressor from is_buyer_maker; trade ids checked "
            "for repeats",
            "epoch milliseconds on the exchange clock (trade_time_ms, transaction_time_ms), x 1e6 to ns",
            "trades before quotes stamped with the same millisecond",
        ),
        TapeFormat(
            "hftbacktest",
            load_hftbacktest,
            ("event file (.npz of hftbacktest's event_dtype)",),
            "the book rebuilt from its depth, snapshot, clear and BBO events and reduced to its top (a quote "
            "row when a run of depth events leaves it changed), and every trade; other events counted",
            "integer nanoseconds on the exchange clock (exch_ts), any origin",
            "file order (the rows hftbacktest's exchange reads)",
        ),
        TapeFormat(
            "generic",
            load_tape,
            ("tape file (CSV, or Parquet by its .parquet name)",),
            "the quote and trade rows as written, e.g. by save_tape",
            "integer nanoseconds, any origin (time_ns)",
            "row order of the file",
        ),
    )
}


def load(name: str, *files: str | Path, **options: Any) -> Tape:
    """Read ``files`` in the format ``name`` (a name of :data:`FORMATS`) into a :class:`Tape`.

    Args:
        name: "lobster", "binance", "hftbacktest" or "generic".
        files: the format's files, in the order of its ``files``.
        options: the loader's keyword arguments (``tick``, ``max_gap_s``, and the format's own).

    Raises:
        ValueError: an unknown format or the wrong number of files.
    """
    if name not in FORMATS:
        raise ValueError(f"format must be one of {list(FORMATS)}, got {name!r}")
    f = FORMATS[name]
    if len(files) != len(f.files):
        raise ValueError(
            f"format {name!r} reads {len(f.files)} file(s) ({', '.join(f.files)}), got {len(files)}"
        )
    return f.loader(*files, **options)
