"""Loaders of real market data: one module per format, behind one table of formats, each into a
:class:`mmenv.data.tape.Tape` (the one representation of real top-of-book data).

:data:`FORMATS` is the table: a :class:`TapeFormat` per format name (its loader, the files it takes, what it
provides, its time unit and how it orders a trade and a quote stamped with the same time); :func:`load` reads
any of them by name. The formats: :mod:`~mmenv.data.loaders.lobster` (LOBSTER message + order book),
:mod:`~mmenv.data.loaders.binance` (trades + best bid/ask), :mod:`~mmenv.data.loaders.tardis` (tardis.dev
CSV files), :mod:`~mmenv.data.loaders.databento` (Databento DBN files), :mod:`~mmenv.data.loaders.hftbacktest`
(hftbacktest's event files, which :func:`save_hftbacktest` writes) and :mod:`~mmenv.data.loaders.generic`
(the generic tape schema, which :func:`save_tape` writes). Their shared helpers are
:mod:`~mmenv.data.loaders.common`. A new format is a module with its loader plus one row in :data:`FORMATS`.

Rules shared by every loader (what a user can rely on):

* *Files*: what a file holds is read from its content (:mod:`mmenv.data.files`): gzip and zip archives are
  read through; Parquet, UTF-16 or binary data named as CSV, an empty file, text that is not UTF-8, a
  truncated archive are errors naming the file. A header repeated inside a file, a last line cut short and
  blank lines at the end are dropped and counted.
* *Structural* problems are errors naming the file, the line (1-based, header included; in a binary file the
  record of a DBN file or the row of an event array) and the column or field, and
  saying what to do: a blank, unparseable or non-finite required field, an order book file whose column
  count is not 4 per level, files of different lengths, timestamps out of order (or going back to the first
  line's: a file appended to itself), a repeated trade id with other values, times in a unit the format does
  not use (each format's ``time_unit``), a file with no valid quote at all.
* *Every tape* then passes the tape validator (:mod:`mmenv.data.tape_validation`), whatever its format: the
  tick and lot grids, absurd quotes, bad prints, trades without a book, trades and quotes that do not
  overlap, gaps and stretches; its findings are ``tape.validation`` (printed by the commands, stored as
  ``tape_validation``), its counts also in ``tape.report`` (``excluded_*`` keys are rows dropped). A loader
  that assembles its tape with :func:`~mmenv.data.loaders.common.assemble_tape` runs it there (with file
  lines in its messages); :func:`load` runs it on any other.
* *Market-state* anomalies are excluded and counted: crossed quotes (``excluded_quotes_crossed``), locked
  quotes (``excluded_quotes_locked``), a missing side or a zero size (``excluded_quotes_empty_side``), and
  the validator's rules. An excluded quote leaves the previous valid book in force. Trades beyond the
  opposite side of the book they met (a buy below the bid, a sell above the ask) are kept and counted
  (``trades_outside_book``) unless they are bad prints.
* Gaps (no event for more than ``max_gap_s`` seconds) are counted (``gaps``, ``longest_gap_s``) and left out
  of the exposure time of every rate estimate; the replay continues across them.
* Trades and quotes at the same timestamp: a format with a sequence of its own keeps it (LOBSTER's message
  order, the generic schema's ``seq``); the others put trades before quotes, so each trade meets the last
  quote stamped strictly before it (the quote stamped with the trade's time may already show its effect);
  each format's ``ties`` says which.
* Each print is one trade row (LOBSTER: each execution message); calibration merges the prints of one
  market order (same time and direction) as :func:`mmenv.calibration.trades.aggregate_market_orders` does.
"""

from __future__ import annotations

import inspect
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from mmenv.data.loaders.binance import load_binance
from mmenv.data.loaders.common import infer_lot, infer_tick
from mmenv.data.loaders.databento import load_databento
from mmenv.data.loaders.generic import load_tape, save_tape
from mmenv.data.loaders.hftbacktest import load_hftbacktest, save_hftbacktest
from mmenv.data.loaders.lobster import load_lobster
from mmenv.data.loaders.tardis import load_tardis
from mmenv.data.tape import Tape
from mmenv.data.tape_validation import MAX_GAP_S, validate_tape

__all__ = [
    "FORMATS",
    "TapeFormat",
    "infer_lot",
    "infer_tick",
    "load",
    "load_binance",
    "load_databento",
    "load_hftbacktest",
    "load_lobster",
    "load_tape",
    "load_tardis",
    "save_hftbacktest",
    "save_tape",
]


@dataclass(frozen=True)
class TapeFormat:
    """One format of real data.

    Attributes:
        name: the format's name (the ``format`` of :class:`mmenv.data.samples.Sample`).
        loader: ``loader(*files, tick=None, max_gap_s=60.0, **options)`` returns the :class:`Tape` (and takes
            ``lot=None`` when it can).
        files: what each file argument is, in order.
        provides: the events the tape gets from it.
        time_unit: the time of the files and how it becomes the tape's nanoseconds.
        ties: the order of a trade and a quote stamped with the same time.
        optional_files: what each further, optional file argument is (after ``files``).
    """

    name: str
    loader: Callable[..., Tape]
    files: tuple[str, ...]
    provides: str
    time_unit: str
    ties: str
    optional_files: tuple[str, ...] = ()


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
            "day, exchange time); checked to lie within the day and the window of the file's name",
            "message order: an execution sorts before the book update of its own message row",
        ),
        TapeFormat(
            "binance",
            load_binance,
            ("trades file", "best bid/ask (bookTicker) file"),
            "best bid/ask updates and every trade, the aggressor from is_buyer_maker; trade ids checked "
            "for repeats",
            "epoch seconds, milliseconds, microseconds or nanoseconds on the exchange clock (trade_time_ms, "
            "transaction_time_ms), the unit recognised from the magnitude for each file, to ns",
            "trades before quotes stamped with the same millisecond",
        ),
        TapeFormat(
            "tardis",
            load_tardis,
            ("book file: quotes, book_ticker, book_snapshot_5/25 or incremental_book_L2", "trades file"),
            "best bid/ask of the book file (level 0 of a snapshot; an incremental L2 book rebuilt after each "
            "message, from its snapshots) and every trade, the aggressor from side (unknown sides excluded); "
            "the two files in either order, each file's data type read from its header, plain or .gz",
            "epoch microseconds x 1000 to ns; the exchange clock (timestamp) by default, or local_timestamp "
            "(clock='local')",
            "trades before quotes stamped with the same microsecond; each file in its own row order",
        ),
        TapeFormat(
            "databento",
            load_databento,
            ("DBN file: mbp-1 or tbbo (or trades, with an mbp-1 file)",),
            "the top of book (levels[0]) at the last record of each event and before each trade, and every "
            "trade signed by its aggressor side (side N excluded); prices in units of 1e-9",
            "epoch nanoseconds; ts_recv by default (DBN's index), or ts_event (clock='ts_event')",
            "file order (the book before a trade, the trade, the book after it); a trades file joined with an "
            "mbp-1 file: trades before quotes stamped with the same nanosecond",
            optional_files=("mbp-1 file (with a trades file)",),
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
            "integer nanoseconds, any origin (time_ns; or time_us, time_ms, time_s)",
            "the seq column when given; else trades before quotes stamped with the same time, then file order",
        ),
    )
}


def load(
    name: str, *files: str | Path, tick: float | None = None, lot: float | None = None, **options: Any
) -> Tape:
    """Read ``files`` in the format ``name`` (a name of :data:`FORMATS`) into a validated :class:`Tape`.

    Args:
        name: a format of :data:`FORMATS` ("lobster", "binance", "tardis", "databento", "hftbacktest", "generic").
        files: the format's files, in the order of its ``files`` (then its ``optional_files``).
        tick, lot: the price tick and size step (None: inferred from the data).
        options: the loader's keyword arguments (``max_gap_s`` and the format's own).

    Returns:
        The tape, with ``tape.validation`` (:class:`mmenv.data.tape_validation.TapeValidation`): a loader that
        did not run the validator gets it here.

    Raises:
        ValueError: an unknown format or the wrong number of files; what the loader or the validator refuses.
    """
    if name not in FORMATS:
        raise ValueError(f"format must be one of {list(FORMATS)}, got {name!r}; choose one of them")
    f = FORMATS[name]
    if not len(f.files) <= len(files) <= len(f.files) + len(f.optional_files):
        extra = f" [+ {', '.join(f.optional_files)}]" if f.optional_files else ""
        raise ValueError(
            f"format {name!r} reads {len(f.files)} file(s) ({', '.join(f.files)}){extra}, got {len(files)}; give them"
        )
    params = inspect.signature(f.loader).parameters
    if lot is not None and "lot" in params:
        options["lot"] = lot
    tape = f.loader(*files, tick=tick, **options)
    if tape.validation is None:
        tape = validate_tape(
            tape, tick=tick, lot=lot, max_gap_s=options.get("max_gap_s", MAX_GAP_S), file=str(files[0])
        )
    return tape
