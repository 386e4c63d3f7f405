"""Every data source of the commands: its flags, parsed here and nowhere else, and the loader behind each.

Tapes (trades and the top of the book, :class:`mmenv.data.tape.Tape`): the same flags in every command that
reads them (``calibrate``, ``backtest``, ``train``, ``rl-study``, ``vol-forecast``, ``report``):

* ``--lobster MESSAGE ORDERBOOK``: LOBSTER files (:func:`mmenv.data.loaders.load_lobster`);
* ``--trades TRADES --quotes BBO``: a Binance trades CSV and its best bid/offer CSV
  (:func:`mmenv.data.loaders.load_binance`; ``--binance TRADES BBO`` is kept as a hidden old spelling);
* ``--tardis BOOK TRADES``: tardis.dev CSV files (.csv or .csv.gz, either order; each file's data type read
  from its header: a book file, ``quotes``, ``book_ticker``, ``book_snapshot_5/25`` or
  ``incremental_book_L2``, and a ``trades`` file; :func:`mmenv.data.loaders.load_tardis`), on the exchange
  clock or ``--tardis-clock local``;
* ``--databento FILE [FILE]``: a Databento DBN file, ``mbp-1`` or ``tbbo``, or a ``trades`` file with an
  ``mbp-1`` file (:func:`mmenv.data.loaders.load_databento`), on ``ts_recv`` or ``--databento-clock
  ts_event``; ``--databento-symbol`` picks one instrument of a file of several;
* ``--tape FILE``: a tape in the generic schema, CSV or .parquet (:func:`mmenv.data.loaders.load_tape`);
* ``--tick TICK``: the price tick of a tape (default: inferred from its prices; a given tick is checked
  against them);
* ``--max-gap-s S``: intervals without events longer than this are gaps, left out of every rate (60 s).

Every tape is validated when read (:mod:`mmenv.data.tape_validation`): :meth:`TapeSource.load` prints the
validation summary; the commands store it as ``tape_validation`` in their JSON (:func:`tape_validation`).

The shared real-data samples (the one catalogue :mod:`mmenv.data.samples`) are found under ``--data DIR``
or the default shared-data folder; :data:`STUDY_SAMPLES` are the ones the studies run on. One-minute bars:
``--ticker T`` (yfinance, cached), ``--bars-csv F`` and ``--offline``. Each source becomes a
:class:`TapeSource`, which reads it as a tape or as the calibration's trades and quotes.
"""

from __future__ import annotations

import argparse
import errno
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

from mmenv import data
from mmenv.data import BarReport, loaders
from mmenv.data.samples import SAMPLES, find_samples, sample_paths
from mmenv.data.tape import Tape

__all__ = [
    "STUDY_SAMPLES",
    "TAPE_FLAGS",
    "TapeSource",
    "add_bars_arguments",
    "add_data_argument",
    "add_tape_arguments",
    "bars_validation",
    "load_bars",
    "load_tape",
    "one_tape_source",
    "read_bars",
    "sample_source",
    "study_samples",
    "tape_requested",
    "tape_sources",
    "tape_validation",
]

#: The shared samples the studies run on (keys of :data:`mmenv.data.samples.SAMPLES`, in reporting order).
STUDY_SAMPLES = ("lobster", "binance")
#: How to give a tape, as the errors name it.
TAPE_FLAGS = (
    "--lobster MESSAGE ORDERBOOK, --trades TRADES --quotes BBO, --tardis BOOK TRADES, --databento FILE [FILE] "
    "or --tape FILE"
)
#: The flags of each format's own options: flag -> (the format's flag, the loader's keyword).
_FORMAT_OPTIONS = {
    "tardis_clock": ("--tardis", "clock"),
    "databento_clock": ("--databento", "clock"),
    "databento_symbol": ("--databento", "symbol"),
}


@dataclass(frozen=True)
class TapeSource:
    """One tape to read: where it is, in which format, and the names the outputs give it.

    Attributes:
        key: the key of its results: the sample's key (``"lobster"``, ``"binance"``) for a shared sample,
            the format for a tape given by flags.
        label: the name in tables and the key of its results in the report's ``metrics.json``.
        title: a longer description (venue, instrument, date).
        format: a format of :data:`mmenv.data.loaders.FORMATS`: ``"lobster"`` (message + orderbook),
            ``"binance"`` (trades + best bid/offer), ``"tardis"`` (tardis.dev book + trades),
            ``"databento"`` (DBN) or ``"generic"`` (the generic tape schema).
        paths: the files, in the loader's argument order.
        tick: the price tick (None: inferred by the loader).
        options: the loader's own keyword arguments, as (name, value) pairs (e.g. ``(("clock", "local"),)``).
        max_gap_s: the gap threshold of the validator (s).
    """

    key: str
    label: str
    title: str
    format: str
    paths: tuple[Path, ...]
    tick: float | None = None
    options: tuple[tuple[str, Any], ...] = ()
    max_gap_s: float = 60.0

    def check(self) -> None:
        """FileNotFoundError naming the first of its files that is missing (before anything runs)."""
        for p in self.paths:
            if not p.is_file():
                raise FileNotFoundError(errno.ENOENT, "no such file", str(p))

    def load(self) -> Tape:
        """The validated tape (:mod:`mmenv.data.loaders`), its validation summary printed."""
        tape = loaders.load(
            self.format, *self.paths, tick=self.tick, max_gap_s=self.max_gap_s, **dict(self.options)
        )
        if tape.validation is not None:
            print(f"tape {self.label}: " + tape.validation.summary().replace("\n", "; "))
        return tape

    def load_trades_and_quotes(self) -> Any:
        """The tape as the calibration reads it (:class:`mmenv.calibration.trades.TradesAndQuotes`, in market
        time), its validation summary printed and its exclusions announced in a warning."""
        from mmenv.calibration import trades  # scipy: loaded only by the commands that fit

        tq = trades.TradesAndQuotes.from_tape(self.load())
        trades.warn_excluded(tq.report)
        return tq


def add_tape_arguments(parser: argparse.ArgumentParser | Any, what: str = "a tape to read") -> None:
    """``--lobster``, ``--trades``/``--quotes``, ``--tardis`` (``--tardis-clock``), ``--databento``
    (``--databento-clock``, ``--databento-symbol``), ``--tape``, ``--tick`` (and the hidden ``--binance``) on
    ``parser``: in a group of their own on a parser, or in the argument group given; ``what`` says what the
    command does with the tape."""
    if isinstance(parser, argparse.ArgumentParser):
        parser = parser.add_argument_group("real data (a tape of trades and top-of-book quotes)")
    parser.add_argument(
        "--lobster",
        nargs=2,
        type=Path,
        metavar=("MESSAGE", "ORDERBOOK"),
        help=f"LOBSTER message and orderbook files: {what}",
    )
    parser.add_argument("--trades", type=Path, help=f"Binance trades CSV (with --quotes): {what}")
    parser.add_argument("--quotes", type=Path, help="Binance best bid/ask (bookTicker) CSV (with --trades)")
    parser.add_argument("--binance", nargs=2, type=Path, help=argparse.SUPPRESS)  # old: --trades T --quotes Q
    parser.add_argument(
        "--tardis",
        nargs=2,
        type=Path,
        metavar=("BOOK", "TRADES"),
        help=f"tardis.dev CSV files (.csv or .csv.gz, either order, recognised by their header): a book file "
        f"(quotes, book_ticker, book_snapshot_5/25 or incremental_book_L2) and a trades file: {what}",
    )
    parser.add_argument(
        "--tardis-clock",
        choices=("exchange", "local"),
        default=None,
        help="the tape's clock for --tardis: exchange (the timestamp column, default) or local (local_timestamp, "
        "when tardis.dev received the message)",
    )
    parser.add_argument(
        "--databento",
        nargs="+",
        type=Path,
        metavar="DBN",
        help=f"Databento DBN file (.dbn or .dbn.zst): mbp-1 or tbbo, or a trades file with an mbp-1 file: {what}",
    )
    parser.add_argument(
        "--databento-clock",
        choices=("ts_recv", "ts_event"),
        default=None,
        help="the tape's clock for --databento: ts_recv (Databento's receive time, its files' order, default) "
        "or ts_event (the matching engine's time)",
    )
    parser.add_argument(
        "--databento-symbol",
        default=None,
        metavar="SYMBOL",
        help="with --databento: the instrument (raw symbol) to read from a file of several",
    )
    parser.add_argument("--tape", type=Path, help=f"a tape in the generic schema (CSV or .parquet): {what}")
    parser.add_argument("--tick", type=float, default=None, help="price tick of the tape (default: inferred)")
    parser.add_argument(
        "--max-gap-s",
        type=float,
        default=60.0,
        help="seconds without any event that make a gap of the tape, left out of every rate estimate",
    )


def tape_requested(args: argparse.Namespace) -> bool:
    """Whether any tape flag was given."""
    return any(
        getattr(args, a, None) is not None
        for a in ("lobster", "trades", "quotes", "binance", "tardis", "databento", "tape")
    )


def tape_sources(args: argparse.Namespace) -> list[TapeSource]:
    """Every tape given by flags, in the order lobster, Binance, tardis.dev, Databento, generic; ValueError for
    an incomplete pair, a wrong number of DBN files or a format's option without its format."""
    tick = getattr(args, "tick", None)
    gap = getattr(args, "max_gap_s", 60.0)
    trades, quotes = getattr(args, "trades", None), getattr(args, "quotes", None)
    old = getattr(args, "binance", None)
    if old is not None:
        if trades is not None or quotes is not None:
            raise ValueError(
                "--binance TRADES BBO is the old spelling of --trades TRADES --quotes BBO: give one"
            )
        trades, quotes = old
    if (trades is None) != (quotes is None):
        raise ValueError("--trades and --quotes must be given together")
    out = []
    if getattr(args, "lobster", None) is not None:
        out.append(_flag_source("lobster", tuple(args.lobster), tick))
    if trades is not None:
        out.append(_flag_source("binance", (trades, quotes), tick))
    for dest, (flag, _) in _FORMAT_OPTIONS.items():
        if getattr(args, dest, None) is not None and getattr(args, flag[2:], None) is None:
            raise ValueError(
                f"{'--' + dest.replace('_', '-')} applies to {flag} files: give {flag} or leave it out"
            )
    if getattr(args, "tardis", None) is not None:
        out.append(_flag_source("tardis", tuple(args.tardis), tick, _options(args, "--tardis")))
    dbn = getattr(args, "databento", None)
    if dbn is not None:
        if not 1 <= len(dbn) <= 2:
            raise ValueError(
                f"--databento takes one DBN file (mbp-1 or tbbo) or two (trades and mbp-1), got {len(dbn)}"
            )
        out.append(_flag_source("databento", tuple(dbn), tick, _options(args, "--databento")))
    if getattr(args, "tape", None) is not None:
        out.append(_flag_source("generic", (args.tape,), tick))
    return [replace(s, max_gap_s=gap) for s in out]


def one_tape_source(args: argparse.Namespace) -> TapeSource:
    """The one tape given by flags; ValueError when there is none or more than one."""
    given = tape_sources(args)
    if len(given) != 1:
        what = "none" if not given else ", ".join(s.label for s in given)
        raise ValueError(f"give one tape ({TAPE_FLAGS}), got {what}")
    return given[0]


def load_tape(args: argparse.Namespace) -> Tape:
    """The :class:`mmenv.data.tape.Tape` of the one tape given by flags (:func:`one_tape_source`)."""
    return one_tape_source(args).load()


def _options(args: argparse.Namespace, flag: str) -> tuple[tuple[str, Any], ...]:
    """The loader keywords given by the options of the format of ``flag`` (:data:`_FORMAT_OPTIONS`)."""
    return tuple(
        (kw, getattr(args, dest))
        for dest, (f, kw) in _FORMAT_OPTIONS.items()
        if f == flag and getattr(args, dest, None) is not None
    )


def _flag_source(
    fmt: str, paths: tuple[Path, ...], tick: float | None, options: tuple[tuple[str, Any], ...] = ()
) -> TapeSource:
    """The source of files given by flags: named as the catalogue names them when they are a shared sample,
    else from the file names (``LOBSTER <ticker> <date>``, ``Binance <SYMBOL> <date>``, ``tardis.dev
    <exchange> <SYMBOL> <date>`` for the names tardis.dev's client gives, ``Databento <file>``, ``tape
    <file>``)."""
    paths = tuple(Path(p) for p in paths)
    for s in SAMPLES.values():
        if s.format == fmt and all(p.as_posix().endswith(f) for p, f in zip(paths, s.files, strict=False)):
            return TapeSource(fmt, s.label, s.title, fmt, paths, tick, options)
    if fmt == "lobster":
        parts = paths[0].name.split("_")
        label = f"LOBSTER {parts[0]} {parts[1]}" if len(parts) > 1 else f"LOBSTER {paths[0].name}"
    elif fmt == "binance":
        parts = paths[0].stem.split("_")
        label = (
            f"Binance {parts[1].upper()} {parts[2][:10]}" if len(parts) > 2 else f"Binance {paths[0].name}"
        )
    elif (
        fmt == "tardis"
    ):  # <exchange>_<data type>_<YYYY-MM-DD>_<SYMBOL>.csv.gz (tardis.dev's client), else a name
        named = [p.name.split(".")[0].split("_") for p in paths]
        parts = next((n for n in named if len(n) >= 4), None)
        label = f"tardis.dev {parts[0]} {parts[-1]} {parts[-2]}" if parts else f"tardis.dev {paths[0].name}"
    elif fmt == "databento":
        label = f"Databento {paths[0].name}"
    else:
        label = f"tape {paths[0].name}"
    return TapeSource(fmt, label, f"{label} ({', '.join(p.name for p in paths)})", fmt, paths, tick, options)


def add_data_argument(parser: argparse.ArgumentParser) -> None:
    """``--data DIR``: the folder of the shared samples (:func:`mmenv.data.samples.shared_data_dir`)."""
    parser.add_argument(
        "--data",
        type=Path,
        default=None,
        help="folder of the shared real-data samples (lobster/, binance/; default: ../shared/data when "
        "present, or $MMENV_SHARED_DATA)",
    )


def sample_source(key: str, root: str | Path | None = None) -> TapeSource:
    """The shared sample ``key`` in the folder ``root`` (``--data``; None: the default shared-data folder,
    :func:`mmenv.data.samples.shared_data_dir`); ValueError naming the missing folder or file."""
    if root is not None and not Path(root).is_dir():
        raise ValueError(f"sample {key!r}: the shared-data folder {root} (--data DIR) does not exist")
    paths = sample_paths(key, root)  # raises for an unknown key, no folder or a missing file
    s = SAMPLES[key]
    return TapeSource(key, s.label, s.title, s.format, paths)


def study_samples(
    root: str | Path | None = None, keys: tuple[str, ...] = STUDY_SAMPLES
) -> tuple[Path | None, list[TapeSource]]:
    """(folder, sources) of the samples ``keys`` (default :data:`STUDY_SAMPLES`) whose files are all present
    in the folder ``root`` (None: the default shared-data folder; a given folder is used as given), in
    reporting order."""
    if root is not None and not Path(root).is_dir():
        return Path(root), []
    folder, found = find_samples(root)
    out = []
    for key in keys:
        if key in found:
            s = SAMPLES[key]
            out.append(TapeSource(key, s.label, s.title, s.format, found[key]))
    return folder, out


def tape_validation(tape: Tape) -> dict[str, Any] | None:
    """The validation of a tape read from files (:class:`mmenv.data.tape_validation.TapeValidation`) as the
    commands store it in their JSON (``tape_validation``); None for a tape that was not validated."""
    v = getattr(tape, "validation", None)
    return None if v is None else v.as_dict()


def add_bars_arguments(parser: argparse.ArgumentParser, use: str, ticker_default: str | None = None) -> None:
    """``--ticker`` / ``--bars-csv`` (one or the other) and ``--offline``; ``use`` says what the command does
    with the bars."""
    g = parser.add_mutually_exclusive_group()
    g.add_argument(
        "--ticker",
        default=ticker_default,
        help=f"1-minute bars of this ticker from yfinance (the data extra), cached: {use}",
    )
    g.add_argument("--bars-csv", type=Path, default=None, help=f"1-minute bars from this CSV: {use}")
    parser.add_argument(
        "--offline", action="store_true", help="with --ticker: read the bars from the cache only"
    )


def read_bars(*, ticker: str | None = None, bars_csv: Path | None = None, offline: bool = False):
    """Validated 1-minute bars of ``ticker`` (:func:`mmenv.data.load_bars`) or of the CSV ``bars_csv``
    (:func:`mmenv.data.read_bars_csv`); None when neither is given."""
    if ticker:
        return data.load_bars(ticker, offline=offline)
    if bars_csv:
        return data.read_bars_csv(bars_csv)
    return None


def load_bars(args: argparse.Namespace):
    """The bars of ``--ticker`` or ``--bars-csv`` (None when neither is given), their validation printed."""
    ticker, bars_csv = getattr(args, "ticker", None), getattr(args, "bars_csv", None)
    bars = read_bars(ticker=ticker, bars_csv=bars_csv, offline=getattr(args, "offline", False))
    if bars is not None:
        bars_validation(bars, ticker or str(bars_csv))  # printed; stored by the callers
    return bars


def bars_validation(bars: Any, what: str) -> dict[str, Any] | None:
    """Print the validation summary of bars read from a file or downloaded (:func:`mmenv.data.validate_bars`)
    and return it for the JSON outputs; None for bars that were not validated (the synthetic market)."""
    d = getattr(bars, "attrs", {}).get("validation")
    if d is None:
        return None
    print(f"bars of {what}: " + BarReport.from_dict(d).summary().replace("\n", "; "))
    return d
