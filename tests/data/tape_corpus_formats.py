"""The corpus of corrupted real tapes in the formats of vendors and tools: tardis.dev CSV files, Databento DBN
files and hftbacktest event files, each written from a (corrupted) slice of the shared samples.

The slices and the corruptions of the sample files are :mod:`tests.data.tape_corpus`'s; here each
corrupted slice is written in another format, the way that vendor or tool writes it (tardis.dev's trades
and ``book_ticker`` layouts, from the Binance USD-M slice; a Databento ``mbp-1`` file, from the LOBSTER
slice, encoded by the ``databento`` package as ``tests/data/test_databento.py`` does; an hftbacktest
``.npz`` of best bid/ask and trade events, from the Binance USD-M slice), and some corruptions are of the
format itself (its time unit, an empty, truncated or out-of-order file, its own header). Nothing is edited by
hand.

``tests/data/test_tape_corpus_formats.py`` runs them as :mod:`tests.data.test_tape_corpus` runs the CSV
cases: a refused case gives one error line naming the file (and the line or record) and saying what to do;
a repaired case reports what it did and gives A, k and sigma close to the clean slice's in the same format.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import numpy as np
import pandas as pd

from tests.data import tape_corpus as tc
from tests.data.fixtures import make_fixtures as mk
from tests.data.tape_corpus import Case, Files

#: The tardis.dev exchange and symbol of the Binance USD-M slice.
EXCHANGE, SYMBOL = "binance-futures", "BTCUSDT"


# ------------------------------------------------------------------------------------------ conversions
def as_tardis(src: Files, out: Path) -> Files:
    """A Binance slice (trades, bbo) as tardis.dev's gzip'd ``trades`` and ``book_ticker`` files."""
    tr, bbo = (pd.read_csv(f) for f in src[1])
    out.mkdir(parents=True, exist_ok=True)
    book = out / f"{EXCHANGE}_book_ticker_2024-08-08_{SYMBOL}.csv.gz"
    trades = out / f"{EXCHANGE}_trades_2024-08-08_{SYMBOL}.csv.gz"
    book.write_bytes(mk.csv_bytes(mk.tardis_book_ticker(bbo, EXCHANGE, SYMBOL), gz=True, level=1))
    trades.write_bytes(mk.csv_bytes(mk.tardis_trades(tr, EXCHANGE, SYMBOL), gz=True, level=1))
    return "tardis", (book, trades), dict(src[2])


def as_databento(src: Files, out: Path) -> Files:
    """A LOBSTER slice (message, order book) as a Databento ``mbp-1`` DBN file (uncompressed)."""
    msg, book = mk.read_lobster(*src[1])
    out.mkdir(parents=True, exist_ok=True)
    p = out / "xnas-itch-amzn.mbp-1.dbn"
    p.write_bytes(mk.dbn_bytes(mk.dbn_records(msg, book, "mbp-1"), "mbp-1", level=None))
    return "databento", (p,), dict(src[2])


def as_hftbacktest(src: Files, out: Path, unit_ns: int = 1) -> Files:
    """A Binance slice as an hftbacktest event file: a best-bid and a best-ask ``DEPTH_BBO_EVENT`` per quote
    row and a ``TRADE_EVENT`` per trade (the events of hftbacktest's ``bookTicker`` conversion), in time order
    with trades first at equal times, exchange times in nanoseconds (divided by ``unit_ns``: another unit)."""
    from mmenv.data.loaders.hftbacktest import (
        BUY_EVENT,
        DEPTH_BBO_EVENT,
        EVENT_DTYPE,
        EXCH_EVENT,
        LOCAL_EVENT,
        SELL_EVENT,
        TRADE_EVENT,
    )

    tr, bbo = (pd.read_csv(f) for f in src[1])
    qt = bbo["transaction_time_ms"].to_numpy(np.int64) * 1_000_000
    tt = tr["trade_time_ms"].to_numpy(np.int64) * 1_000_000
    nq, nt = qt.size, tt.size
    flags = EXCH_EVENT | LOCAL_EVENT
    ev = np.zeros(2 * nq + nt, EVENT_DTYPE)
    ev["ev"][:nq] = DEPTH_BBO_EVENT | BUY_EVENT | flags
    ev["ev"][nq : 2 * nq] = DEPTH_BBO_EVENT | SELL_EVENT | flags
    side = np.where(tr["is_buyer_maker"].to_numpy() == 1, SELL_EVENT, BUY_EVENT)
    ev["ev"][2 * nq :] = (TRADE_EVENT | flags) | side
    ev["exch_ts"] = np.concatenate([qt, qt, tt])
    ev["px"] = np.concatenate([bbo["bid_px"], bbo["ask_px"], tr["price"]])
    ev["qty"] = np.concatenate([bbo["bid_qty"], bbo["ask_qty"], tr["qty"]])
    ev["ival"] = np.concatenate([np.arange(nq), np.arange(nq), nq + np.arange(nt)]) + 1  # a message each
    pri = np.concatenate([np.ones(2 * nq), np.zeros(nt)])  # trades before quotes at equal times
    row = np.concatenate([2 * np.arange(nq), 2 * np.arange(nq) + 1, np.arange(nt)])  # bid, ask of each row
    ev = ev[np.lexsort((row, pri, ev["exch_ts"]))]
    ev["exch_ts"] //= unit_ns
    ev["local_ts"] = ev["exch_ts"]
    out.mkdir(parents=True, exist_ok=True)
    p = out / "btcusdt.npz"
    np.savez_compressed(p, data=ev)
    return "hftbacktest", (p,), dict(src[2])


CONVERT: dict[str, tuple[str, Callable[[Files, Path], Files]]] = {
    "tardis": ("usdm", as_tardis),
    "databento": ("lobster", as_databento),
    "hftbacktest": ("usdm", as_hftbacktest),
}


def clean_files(root: Path, fmt: str, out: Path) -> Files:
    """The clean slice of ``fmt`` written under ``out``."""
    key, convert = CONVERT[fmt]
    return convert(tc.clean_files(root, key), out)


def converted(
    fmt: str,
    corrupt: Callable[[Files, Path], Files] | None = None,
    after: Callable[[Files], Files] | None = None,
) -> Callable[[Files, Path], Files]:
    """The writer of a case: the sample slice corrupted by ``corrupt`` (a corruption of
    :mod:`tests.data.tape_corpus`; None: clean), written in ``fmt``, then ``after`` applied to those files (a
    corruption of the format itself)."""
    convert = CONVERT[fmt][1]

    def write(clean: Files, out: Path) -> Files:
        src = corrupt(clean, out / "src") if corrupt is not None else clean
        files = convert(src, out / fmt)
        return after(files) if after is not None else files

    write.__doc__ = f"{corrupt.__name__ if corrupt else 'the clean slice'} as {fmt}"
    return write


# ----------------------------------------------------------------------------- corruptions of the formats
def _bytes(fn: Callable[[bytes], bytes], which: int = 0) -> Callable[[Files], Files]:
    """Rewrite the bytes of file ``which``."""

    def after(files: Files) -> Files:
        f = files[1][which]
        f.write_bytes(fn(f.read_bytes()))
        return files

    return after


def _tardis_text(fn: Callable[[list[str]], list[str]], which: int) -> Callable[[Files], Files]:
    """Rewrite the lines of the tardis.dev file ``which`` (0: book, 1: trades), gzip'd again."""
    import gzip

    def edit(data: bytes) -> bytes:
        lines = gzip.decompress(data).decode().splitlines(keepends=True)
        return gzip.compress("".join(fn(lines)).encode(), mtime=0)

    return _bytes(edit, which)


def _tardis_column(which: int, col: str, fn: Callable[[pd.Series], pd.Series]) -> Callable[[Files], Files]:
    def after(files: Files) -> Files:
        f = files[1][which]
        df = pd.read_csv(f, dtype=str, keep_default_na=False)
        df[col] = fn(df[col])
        f.write_bytes(mk.csv_bytes(df, gz=True, level=1))
        return files

    return after


def _ms(s: pd.Series) -> pd.Series:
    return (s.astype(np.int64) // 1000).astype(str)


def _swap_two(lines: list[str]) -> list[str]:
    """Two data lines past the middle swapped where their local times differ."""
    i = len(lines) // 2
    while lines[i].split(",")[3] == lines[i + 1].split(",")[3]:
        i += 1
    lines[i], lines[i + 1] = lines[i + 1], lines[i]
    return lines


def _repeat_header(lines: list[str]) -> list[str]:
    k = len(lines) // 2
    return [*lines[:k], lines[0], *lines[k:]]


def _cut_last_line(lines: list[str]) -> list[str]:
    return [*lines[:-1], lines[-1].rstrip("\n")[:-12]]


def _dbn_cut(data: bytes) -> bytes:
    return data[: len(data) - 37]  # an incomplete last record


def _dbn_records_swapped(files: Files) -> Files:
    """Two records past the middle swapped where their times differ (the file out of ts_recv order)."""
    import databento_dbn as dbn

    p = files[1][0]
    data = p.read_bytes()
    dec = dbn.DBNDecoder()
    dec.write(data)
    recs = dec.decode()
    meta, records = recs[0], recs[1:]
    i = len(records) // 2
    while records[i].ts_recv == records[i + 1].ts_recv:
        i += 1
    records[i], records[i + 1] = records[i + 1], records[i]
    p.write_bytes(bytes(meta.encode()) + b"".join(bytes(r) for r in records))
    return files


def _npz_events(fn: Callable[[np.ndarray], np.ndarray]) -> Callable[[Files], Files]:
    def after(files: Files) -> Files:
        p = files[1][0]
        with np.load(p) as z:
            ev = z["data"].copy()
        np.savez_compressed(p, data=fn(ev))
        return files

    return after


def _npz_step_back(ev: np.ndarray) -> np.ndarray:
    i = ev.size // 2
    ev["exch_ts"][i] = ev["exch_ts"][i - 1] - 1_000_000
    return ev


def _microseconds(clean: Files, out: Path) -> Files:
    return as_hftbacktest(clean, out / "hftbacktest", unit_ns=1000)


def _empty(files: Files) -> Files:
    files[1][0].write_bytes(b"")
    return files


T, D, H = "tardis", "databento", "hftbacktest"
#: The cases (``Case.key`` is the format; the slice is :data:`CONVERT`'s).
CASES: tuple[Case, ...] = (
    # --- the validator's rules, through each format's loader: (name, corruption, rule, tol) x format
    *(
        Case(
            f"{fmt} {name}",
            fmt,
            converted(fmt, corrupt),
            rule,
            counts={rule: 1 if rule != "trades_bad_print" else 5},
            tol=tol,
        )
        for name, corrupt, rule, tol in (
            ("bad prints", tc.bad_prints, "trades_bad_print", 0.5),
            ("off-grid quote", tc.off_grid_quote, "quotes_off_grid", 0.05),
            ("clock jump", tc.clock_jump, "gaps", 1.0),
        )
        for fmt in (T, D, H)
    ),
    Case(
        "tardis eth trades with btc quotes",
        T,
        converted(T, tc.other_instrument("eth")),
        "price_overlap",
        refused="do not overlap in price",
    ),
    Case(
        "hftbacktest eth trades with btc quotes",
        H,
        converted(H, tc.other_instrument("eth")),
        "price_overlap",
        refused="do not overlap in price",
    ),
    Case(
        "databento book in dollars",
        D,
        converted(D, tc.lobster_book_in_dollars),
        "price_overlap",
        refused="do not overlap in price",
    ),
    # --- the format's own corruptions
    Case(
        "tardis times in ms",
        T,
        converted(T, after=_tardis_column(1, "timestamp", _ms)),
        "time unit",
        refused="is not an epoch time in microseconds (looks like milliseconds)",
    ),
    Case(
        "hftbacktest times in us",
        H,
        _microseconds,
        "time unit",
        refused="look like epoch microseconds",
    ),
    Case(
        "tardis out of order",
        T,
        converted(T, after=_tardis_text(_swap_two, 0)),
        "sorted",
        refused="timestamps out of order",
    ),
    Case(
        "databento out of order",
        D,
        converted(D, after=_dbn_records_swapped),
        "sorted",
        refused="records out of order",
    ),
    Case(
        "hftbacktest out of order",
        H,
        converted(H, after=_npz_events(_npz_step_back)),
        "sorted",
        refused="exchange time going backwards",
    ),
    Case("tardis empty file", T, converted(T, after=_empty), "files", refused="the file is empty"),
    Case("databento empty file", D, converted(D, after=_empty), "files", refused="the file is empty"),
    Case("hftbacktest empty file", H, converted(H, after=_empty), "files", refused="the file is empty"),
    Case(
        "tardis truncated last line",
        T,
        converted(T, after=_tardis_text(_cut_last_line, 1)),
        "truncated",
        counts={"rows_truncated_last_line": 1},
        tol=0.05,
    ),
    Case(
        "tardis repeated header",
        T,
        converted(T, after=_tardis_text(_repeat_header, 0)),
        "header",
        counts={"rows_repeated_header_rows": 1},
    ),
    Case(
        "databento truncated",
        D,
        converted(D, after=_bytes(_dbn_cut)),
        "truncated",
        refused="the file is truncated",
    ),
    Case(
        "hftbacktest truncated",
        H,
        converted(H, after=_bytes(lambda b: b[: len(b) // 2])),
        "truncated",
        refused="cannot be read as an hftbacktest event file",
    ),
    Case(
        "tardis text in price",
        T,
        converted(T, after=_tardis_column(1, "price", lambda s: s.where(s.index != 100, "abc"))),
        "fields",
        refused="line 102, column 'price': not a number: 'abc'",
    ),
)
