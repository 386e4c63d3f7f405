"""What every loader of :mod:`mmenv.data.loaders` shares: the errors that name file, line and column and say
what to do, the numeric and time checks (epoch units recognised from their magnitude), the validity rules of
a quote, and the merge of quotes and trades into a :class:`mmenv.data.tape.Tape` through the tape validator
(:func:`mmenv.data.tape_validation.build_tape`).

Line numbers in errors are 1-based and count the header: row ``i`` (0-based) of a table read after
``header_lines`` header lines is line ``i + 1 + header_lines``, unless the table knows the line of each row
(``lines``, from :func:`mmenv.data.files.read_csv_table`, which drops repeated headers and blank lines).
"""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from mmenv.data.grid import infer_lot, infer_tick
from mmenv.data.tape import Tape
from mmenv.data.tape_validation import MAX_GAP_S, Events, build_tape

__all__ = [
    "EPOCH_RANGES",
    "EPOCH_UNITS",
    "assemble_tape",
    "book_validity",
    "check_epoch",
    "check_epoch_ms",
    "check_sorted",
    "empty_side",
    "epoch_ns",
    "fail",
    "file_repairs",
    "infer_lot",
    "infer_tick",
    "line_of",
    "monotone_times",
    "no_valid_quote",
    "numeric_columns",
    "quote_rows",
    "top_changes",
]

#: Epoch milliseconds accepted as such: years 1973 .. 5138 (seconds or micro/nanoseconds fall outside).
EPOCH_MS_RANGE = (1e11, 1e14)
#: The range of epoch times accepted in each unit (years 1973 .. 5138), and the unit's name in errors.
EPOCH_RANGES = {
    "s": (1e8, 1e11, "seconds"),
    "ms": (1e11, 1e14, "milliseconds"),
    "us": (1e14, 1e17, "microseconds"),
    "ns": (1e17, 1e20, "nanoseconds"),
}
#: Epoch units recognised from the magnitude of a time: name -> (nanoseconds per unit, smallest, largest),
#: the range being the years 1990 to 2100 in that unit (the ranges do not overlap).
EPOCH_UNITS: dict[str, tuple[int, float, float]] = {
    "seconds": (1_000_000_000, 6.3e8, 4.11e9),
    "milliseconds": (1_000_000, 6.3e11, 4.11e12),
    "microseconds": (1_000, 6.3e14, 4.11e15),
    "nanoseconds": (1, 6.3e17, 4.11e18),
}
#: The unit a column's name promises (``trade_time_ms``): suffix -> unit.
_SUFFIX_UNITS = {"_s": "seconds", "_ms": "milliseconds", "_us": "microseconds", "_ns": "nanoseconds"}


def fail(path: Path, line: int, column: str, what: str, todo: str = "correct or remove that line") -> None:
    """Raise the ValueError of a structural problem: ``{path}: line {line}, column '{column}': {what}; {todo}``."""
    raise ValueError(f"{path}: line {line:,}, column '{column}': {what}; {todo}")


def line_of(i: int, header_lines: int, lines: np.ndarray | None) -> int:
    """The 1-based file line of row ``i``."""
    return int(lines[i]) if lines is not None else i + 1 + header_lines


def numeric_columns(
    df: pd.DataFrame,
    path: Path,
    columns: tuple[str, ...],
    header_lines: int,
    *,
    required: bool = True,
    lines: np.ndarray | None = None,
) -> dict[str, np.ndarray]:
    """The columns as float64 arrays; with ``required``, a blank, non-numeric or non-finite cell is an error
    naming file, line and column (without, a blank cell reads as NaN and a non-finite one is an error)."""
    out = {}
    for c in columns:
        raw = df[c]
        if raw.dtype.kind in "iuf":  # parsed as numbers by the reader: NaN is a blank field
            v = raw.to_numpy(dtype=np.float64)
            blank = np.isnan(v)
        else:
            v = pd.to_numeric(raw, errors="coerce").to_numpy(dtype=np.float64)
            blank = raw.isna().to_numpy() | (raw.astype(str).str.strip() == "").to_numpy()
        bad = (np.isnan(v) & ~blank) | np.isinf(v) | (blank & required)
        if bad.any():
            i = int(np.flatnonzero(bad)[0])
            cell = str(raw.iloc[i])
            what = (
                "blank field"
                if blank[i]
                else (f"not a finite number: {cell!r}" if np.isinf(v[i]) else f"not a number: {cell!r}")
            )
            fail(path, line_of(i, header_lines, lines), c, what)
        out[c] = v
    return out


def check_sorted(
    t: np.ndarray, path: Path, column: str, header_lines: int, lines: np.ndarray | None = None
) -> None:
    """Error at the first timestamp smaller than its predecessor (files must be sorted in time); a time that
    goes back to the first row's is named as a file appended to itself."""
    d = np.diff(t)
    if (d < 0).any():
        i = int(np.flatnonzero(d < 0)[0]) + 1
        again = t[i] <= t[0]
        fail(
            path,
            line_of(i, header_lines, lines),
            column,
            f"timestamps out of order: {t[i].item()!r} after {t[i - 1].item()!r}"
            + (" (back to the first line's time: the file appended to itself?)" if again else ""),
            "give the file sorted in time, once" if again else "sort the file by time",
        )


def epoch_ns(
    raw: pd.Series, path: Path, column: str, header_lines: int, lines: np.ndarray | None = None
) -> tuple[np.ndarray, str]:
    """Epoch times of a column in seconds, milliseconds, microseconds or nanoseconds, recognised from their
    magnitude (:data:`EPOCH_UNITS`), as int64 nanoseconds; and the unit's name.

    Integer text is read exactly (nanoseconds need all 64 bits; float64 keeps 53). Refused, naming the line:
    a time in none of the units' ranges (years 1990 to 2100), a file mixing units, a unit other than the one
    the column's name says (``trade_time_ms`` holding nanoseconds: columns swapped?).
    """
    num = pd.to_numeric(raw, errors="coerce")
    v = num.to_numpy(dtype=np.float64)
    bad = ~np.isfinite(v)
    if bad.any():
        i = int(np.flatnonzero(bad)[0])
        cell = raw.iloc[i]
        what = "blank field" if str(cell).strip() in ("", "nan") else f"not a number: {cell!r}"
        fail(path, line_of(i, header_lines, lines), column, what)
    unit_of = np.full(v.size, -1, np.int8)
    names = list(EPOCH_UNITS)
    for j, (_, lo, hi) in enumerate(EPOCH_UNITS.values()):
        unit_of[(v >= lo) & (v < hi)] = j
    if (unit_of < 0).any():
        i = int(np.flatnonzero(unit_of < 0)[0])
        fail(
            path,
            line_of(i, header_lines, lines),
            column,
            f"{raw.iloc[i]!r} is not an epoch time in seconds, milliseconds, microseconds or nanoseconds "
            "(years 1990 to 2100)",
            "give epoch times",
        )
    mixed = unit_of != unit_of[0]
    if mixed.any():
        i = int(np.flatnonzero(mixed)[0])
        fail(
            path,
            line_of(i, header_lines, lines),
            column,
            f"{raw.iloc[i]!r} is in {names[unit_of[i]]} while line {line_of(0, header_lines, lines):,} is in "
            f"{names[unit_of[0]]}",
            "give every time in one unit",
        )
    unit = names[int(unit_of[0])]
    said = next((u for sfx, u in _SUFFIX_UNITS.items() if column.lower().endswith(sfx)), None)
    if said is not None and said != unit:
        fail(
            path,
            line_of(0, header_lines, lines),
            column,
            f"{raw.iloc[0]!r} is not an epoch time in {said} as the column's name says (it looks like {unit}; "
            "columns swapped?)",
            f"give {said} in '{column}', or name the time column",
        )
    per = EPOCH_UNITS[unit][0]
    if num.dtype.kind in "iu":
        return num.to_numpy(dtype=np.int64) * per, unit
    return np.round(v * per).astype(np.int64), unit


def check_epoch_ms(
    t: np.ndarray, path: Path, column: str, header_lines: int, lines: np.ndarray | None = None
) -> None:
    """Error at the first time that is not an epoch time in milliseconds (:data:`EPOCH_UNITS`)."""
    _, lo, hi = EPOCH_UNITS["milliseconds"]
    bad = (t < lo) | (t >= hi)
    if bad.any():
        i = int(np.flatnonzero(bad)[0])
        unit = next((u for u, (_, a, b) in EPOCH_UNITS.items() if a <= t[i] < b), "no epoch unit")
        fail(
            path,
            line_of(i, header_lines, lines),
            column,
            f"{t[i].item()!r} is not an epoch time in milliseconds (looks like {unit})",
            "give epoch milliseconds",
        )


def check_epoch(
    t: np.ndarray, path: Path, column: str, header_lines: int, unit: str, lines: np.ndarray | None = None
) -> None:
    """Error at the first time that is not an epoch time in ``unit`` (a key of :data:`EPOCH_RANGES`: "s",
    "ms", "us", "ns"), naming the unit it looks like."""
    lo, hi, name = EPOCH_RANGES[unit]
    bad = (t < lo) | (t >= hi)
    if bad.any():
        i = int(np.flatnonzero(bad)[0])
        like = next((n for a, b, n in EPOCH_RANGES.values() if a <= t[i] < b), None)
        why = f"looks like {like}" if like else "in no epoch unit from seconds to nanoseconds"
        fail(
            path,
            line_of(i, header_lines, lines),
            column,
            f"{t[i].item()!r} is not an epoch time in {name} ({why})",
            f"give epoch {name} in '{column}'",
        )


def monotone_times(t: np.ndarray) -> tuple[np.ndarray, int]:
    """``t`` raised to its running maximum, and how many times were raised.

    For a file kept in its own (arrival) order on a clock that may step back (an exchange's stamps in a file
    ordered by receive time): an event stamped earlier than one before it is placed at that earlier event's
    time, so the events keep the file's order and the tape's time never decreases.
    """
    up = np.maximum.accumulate(t) if t.size else t
    return up, int(np.count_nonzero(up != t))


def top_changes(bid: np.ndarray, bq: np.ndarray, ask: np.ndarray, aq: np.ndarray) -> np.ndarray:
    """The mask of the rows whose top of book (both prices and sizes) differs from the row before (the first
    row counts as a change): the quote events of a book sampled more often than its top changes."""
    key = np.stack([bid, bq, ask, aq], axis=1)
    changed = np.ones(key.shape[0], dtype=bool)
    changed[1:] = (key[1:] != key[:-1]).any(axis=1)
    return changed


def book_validity(
    bid: np.ndarray, bq: np.ndarray, ask: np.ndarray, aq: np.ndarray
) -> tuple[np.ndarray, dict[str, int]]:
    """The mask of valid quotes (both sides present with positive prices and sizes, bid < ask) and the count
    of each exclusion reason (``excluded_quotes_empty_side``, ``_crossed``, ``_locked``)."""
    with np.errstate(invalid="ignore"):
        empty = ~(np.isfinite(bid) & np.isfinite(ask) & (bid > 0) & (ask > 0) & (bq > 0) & (aq > 0))
        crossed = ~empty & (bid > ask)
        locked = ~empty & (bid == ask)
    valid = ~(empty | crossed | locked)
    return valid, {
        "excluded_quotes_empty_side": int(empty.sum()),
        "excluded_quotes_crossed": int(crossed.sum()),
        "excluded_quotes_locked": int(locked.sum()),
    }


def empty_side(valid: np.ndarray, bid: np.ndarray, ask: np.ndarray) -> np.ndarray:
    """The quote rows :func:`book_validity` excluded as one-sided or empty (not crossed or locked)."""
    with np.errstate(invalid="ignore"):
        return ~valid & ~(bid >= ask)


def file_repairs(*tables: Any) -> dict[str, int]:
    """What the file reader dropped (:class:`mmenv.data.files.CsvTable` ``repairs``), summed over the files, as
    the loader's ``excluded_rows_<rule>`` counts (the validator reports them under their rule)."""
    out: dict[str, int] = {}
    for tb in tables:
        for k, v in tb.repairs.items():
            if not k.endswith("_first_line"):
                out[f"excluded_rows_{k}"] = out.get(f"excluded_rows_{k}", 0) + int(v)
    return out


def no_valid_quote(path: Path, n: int, counts: dict[str, int]) -> None:
    """Raise the error of a file whose book is never two-sided, with the counts of :func:`book_validity`."""
    why = ", ".join(f"{v} {k.removeprefix('excluded_quotes_').replace('_', ' ')}" for k, v in counts.items())
    raise ValueError(
        f"{path}: no valid quote in {n} rows ({why}): the book is never two-sided; check that the file holds "
        "the best bid and ask with their sizes"
    )


def quote_rows(
    bid: np.ndarray,
    bq: np.ndarray,
    ask: np.ndarray,
    aq: np.ndarray,
    path: Path,
    report: dict[str, Any],
    *,
    on_change: bool,
) -> np.ndarray:
    """The indices of the book rows that become quote events: the valid ones (:func:`book_validity`, its
    counts added to ``report``), and with ``on_change`` only those whose top differs from the valid row before
    (:func:`top_changes`; the others counted as ``book_top_unchanged``). A book never valid is an error."""
    valid, counts = book_validity(bid, bq, ask, aq)
    if not valid.any():
        no_valid_quote(path, bid.size, counts)
    report.update(counts)
    vi = np.flatnonzero(valid)
    if on_change:
        changed = top_changes(bid[vi], bq[vi], ask[vi], aq[vi])
        report["book_top_unchanged"] = int((~changed).sum())
        vi = vi[changed]
    return vi


def assemble_tape(
    qt: np.ndarray,
    bid: np.ndarray,
    bq: np.ndarray,
    ask: np.ndarray,
    aq: np.ndarray,
    tt: np.ndarray,
    tpx: np.ndarray,
    tqty: np.ndarray,
    tside: np.ndarray,
    *,
    tick: float | None,
    origin: str,
    source: str,
    report: dict[str, Any],
    max_gap_s: float = MAX_GAP_S,
    trades_first: bool = True,
    order: np.ndarray | None = None,
    lot: float | None = None,
    qline: np.ndarray | None = None,
    tline: np.ndarray | None = None,
    empty_t: np.ndarray | None = None,
    quote_file: str | Path | None = None,
    trade_file: str | Path | None = None,
    row_word: str = "line",
) -> Tape:
    """Validate the quotes and trades and merge them into a tape (:func:`mmenv.data.tape_validation.build_tape`:
    every rule, its counts in ``tape.validation`` and ``tape.report``).

    Args:
        qt, bid, bq, ask, aq: the valid quotes: time (ns), bid price and size, ask price and size.
        tt, tpx, tqty, tside: the trades: time (ns), price, size, aggressor side (+1 buy, -1 sell).
        tick, lot: the price tick and size step given (None: inferred). origin, source: the tape's time
            origin and description. report: the loader's counts (``excluded_*`` keys), completed here.
        max_gap_s: gaps longer than this (s) are reported and left out of rate estimates.
        trades_first: at equal times trades sort before quotes (the quote stamped with a trade's time may
            already show its effect): the one rule of the formats without a sequence of their own.
        order: the merged event order, given directly (an explicit sequence: LOBSTER's message order, a
            sequence column), a permutation of the quotes then the trades; otherwise events are sorted by
            time with ``trades_first``, quotes and trades each in file order.
        qline, tline: the 1-based file line of each quote and trade (for messages). empty_t: times of the
            quote rows excluded as one-sided (for the stretches). quote_file, trade_file: the files.
        row_word: what ``qline`` and ``tline`` count (``"line"`` of a text file, ``"record"`` of a DBN file,
            ``"row"`` of an event array).
    """
    nq, nt = qt.size, tt.size
    if order is None:
        time = np.concatenate([qt, tt])
        pri = np.concatenate([np.ones(nq, np.int8), np.zeros(nt, np.int8)]) if trades_first else None
        order = np.lexsort((np.arange(nq + nt), pri, time)) if pri is not None else np.lexsort((time,))
    rank = np.empty(nq + nt, np.int64)
    rank[order] = np.arange(nq + nt)
    qrank, trank = rank[:nq], rank[nq:]
    if (np.diff(qrank) < 0).any() or (np.diff(trank) < 0).any():
        raise ValueError("the event order must keep the quotes, and the trades, in their given order")
    name = source or "the tape"
    ev = Events(
        qt=np.asarray(qt, np.int64),
        bid=np.asarray(bid, np.float64),
        bq=np.asarray(bq, np.float64),
        ask=np.asarray(ask, np.float64),
        aq=np.asarray(aq, np.float64),
        tt=np.asarray(tt, np.int64),
        tpx=np.asarray(tpx, np.float64),
        tqty=np.asarray(tqty, np.float64),
        tside=np.asarray(tside, np.int8),
        qrank=qrank,
        trank=trank,
        qline=qline,
        tline=tline,
        empty_t=np.zeros(0, np.int64) if empty_t is None else np.asarray(empty_t, np.int64),
        quote_file=str(quote_file or name),
        trade_file=str(trade_file or quote_file or name),
        row_word=row_word,
    )
    if tick is not None and not (isinstance(tick, (int, float)) and math.isfinite(tick) and tick > 0):
        raise ValueError(f"tick must be a finite number > 0, got {tick!r}; give the price tick")
    return build_tape(
        ev, tick=tick, lot=lot, max_gap_s=max_gap_s, origin=origin, source=source, report=report
    )
