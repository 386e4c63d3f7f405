"""A corpus of corrupted real tapes: small slices of the shared samples, and every corruption written here.

Nothing in the corpus is edited by hand: :func:`write_slices` cuts small clean slices of the shared samples
(LOBSTER AMZN: the first 8,000 messages, 44 minutes, 1,502 trades; Binance USD-M BTCUSDT and COIN-M
BTCUSD_PERP: the first 60 seconds, 2,501 and 290 trades; COIN-M ETHUSD_PERP: the first 60 seconds), and each
:class:`Case` writes its corrupted copy of a slice with a function of this module. The cases cover every rule
of the loaders and the tape validator (:mod:`mmenv.data.tape_validation`) and what real exports get wrong
(units, unit columns swapped, another instrument or day, bad prints, absurd quotes, clock jumps, a quote stream
that connected late or dropped early, ties, off-grid prices, duplicated rows, a file appended to itself,
repeated headers, truncated lines, CRLF, byte-order marks, archives, UTF-16, Parquet named as CSV, empty
files, non-finite fields, out-of-range timestamps). The same corruptions in tardis.dev, Databento and
hftbacktest files: :mod:`tests.data.tape_corpus_formats`.

``tests/data/test_tape_corpus.py`` runs them: a refused case must give exit status 2 and the one error line
of :attr:`Case.refused`; a repaired case must report what it did (:attr:`Case.counts`) and give A, k and sigma
within :attr:`Case.tol` of the clean slice's.

Run ``python -m tests.data.tape_corpus OUT`` to write the slices and every corrupted case into ``OUT`` for a
look.
"""

from __future__ import annotations

import gzip
import io
import shutil
import sys
import zipfile
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd

#: The shared samples the slices are cut from (paths under the shared-data folder).
LOBSTER_NAME = "AMZN_2012-06-21_34200000_57600000_{}_1.csv"
SOURCES = {
    "lobster": ("lobster/" + LOBSTER_NAME.format("message"), "lobster/" + LOBSTER_NAME.format("orderbook")),
    "usdm": (
        "binance/usdm_btcusdt_2024-08-08T2354_to_2400_trades.csv",
        "binance/usdm_btcusdt_2024-08-08T2354_to_2400_bbo.csv",
    ),
    "cm": (
        "binance/cm_btcusd_perp_2024-08-08T2354_to_2400_trades.csv",
        "binance/cm_btcusd_perp_2024-08-08T2354_to_2400_bbo.csv",
    ),
    "eth": (
        "binance/cm_ethusd_perp_2024-08-09T0000_to_0005_trades.csv",
        "binance/cm_ethusd_perp_2024-08-09T0000_to_0005_bbo.csv",
    ),
}
#: Messages of the LOBSTER slice; seconds of the Binance slices.
LOBSTER_ROWS, BINANCE_SECONDS = 8000, 60

#: (format, files, loader options) of a tape on disk.
Files = tuple[str, tuple[Path, ...], dict]


def _read(path: Path, header: bool = True) -> pd.DataFrame:
    """A CSV as text, every field as written."""
    return pd.read_csv(path, dtype=str, keep_default_na=False, header=0 if header else None)


def _write(df: pd.DataFrame, path: Path, header: bool = True) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    df.to_csv(path, index=False, header=header, lineterminator="\n")
    return path


def write_slices(root: Path, data: Path) -> None:
    """The clean slices of the shared samples under ``root`` (``lobster/``, ``usdm/``, ``cm/``, ``eth/``)."""
    m, b = (data / p for p in SOURCES["lobster"])
    for src, name in ((m, "message"), (b, "orderbook")):
        lines = src.read_text().splitlines(keepends=True)[:LOBSTER_ROWS]
        (root / "lobster").mkdir(parents=True, exist_ok=True)
        (root / "lobster" / LOBSTER_NAME.format(name)).write_text("".join(lines))
    for key in ("usdm", "cm", "eth"):
        t, q = (data / p for p in SOURCES[key])
        tr, qu = _read(t), _read(q)
        t0 = int(qu["transaction_time_ms"].iloc[0])
        end = t0 + 1000 * BINANCE_SECONDS
        _write(tr[tr["trade_time_ms"].astype(np.int64) < end], root / key / "trades.csv")
        _write(qu[qu["transaction_time_ms"].astype(np.int64) < end], root / key / "bbo.csv")


def clean_files(root: Path, key: str) -> Files:
    """The clean slice ``key`` as (format, files, options)."""
    if key == "lobster":
        d = root / "lobster"
        return "lobster", (d / LOBSTER_NAME.format("message"), d / LOBSTER_NAME.format("orderbook")), {}
    return "binance", (root / key / "trades.csv", root / key / "bbo.csv"), {}


# ----------------------------------------------------------------------------------------------- helpers
def _copy(clean: Files, out: Path) -> Files:
    """The clean files copied into ``out`` (same names)."""
    fmt, files, opts = clean
    out.mkdir(parents=True, exist_ok=True)
    return fmt, tuple(Path(shutil.copy(f, out / f.name)) for f in files), dict(opts)


def _rows(n: int, k: int, lo: float = 0.2, hi: float = 0.8) -> np.ndarray:
    """``k`` evenly spaced row indices between ``lo`` and ``hi`` of ``n`` rows."""
    return np.unique(np.linspace(lo * n, hi * n, k).astype(int))


def _lobster_exec_rows(msg: pd.DataFrame) -> np.ndarray:
    return np.flatnonzero(msg[1].isin(["4", "5"]).to_numpy())


def _edit(clean: Files, out: Path, which: int, fn: Callable[[pd.DataFrame], pd.DataFrame]) -> Files:
    """Copy, then rewrite file ``which`` with ``fn`` applied to its text table."""
    fmt, files, opts = _copy(clean, out)
    header = fmt != "lobster"
    f = files[which]
    _write(fn(_read(f, header)), f, header)
    return fmt, files, opts


def _scale_times(col: str | int, factor: float, integer: bool = True):
    def fn(df: pd.DataFrame) -> pd.DataFrame:
        v = df[col].astype(float) * factor
        df[col] = v.round().astype(np.int64).astype(str) if integer else v.map(repr)
        return df

    return fn


def _raw(clean: Files, out: Path, which: int, fn: Callable[[bytes], bytes], name: str | None = None) -> Files:
    """Copy, then rewrite the bytes of file ``which`` (optionally under another name)."""
    fmt, files, opts = _copy(clean, out)
    f = files[which]
    data = fn(f.read_bytes())
    if name is not None:
        f.unlink()
        f = f.with_name(name)
    f.write_bytes(data)
    files = tuple(f if i == which else g for i, g in enumerate(files))
    return fmt, files, opts


# ------------------------------------------------------------------------------------------- corruptions
def bad_prints(clean: Files, out: Path) -> Files:
    """Five trade prints at 10x or 1/10 of their price (a decimal shift in a vendor's feed)."""
    fmt = clean[0]
    if fmt == "lobster":

        def fn(msg: pd.DataFrame) -> pd.DataFrame:
            ex = _lobster_exec_rows(msg)
            for j, i in enumerate(ex[_rows(ex.size, 5)]):
                msg.iat[i, 4] = str(int(msg.iat[i, 4]) * 10 if j % 2 else int(msg.iat[i, 4]) // 10)
            return msg

        return _edit(clean, out, 0, fn)

    def fn(tr: pd.DataFrame) -> pd.DataFrame:
        for j, i in enumerate(_rows(len(tr), 5)):
            p = float(tr.at[i, "price"])
            tr.at[i, "price"] = f"{p * 10 if j % 2 else p / 10:.2f}"
        return tr

    return _edit(clean, out, 0, fn)


def absurd_ask(clean: Files, out: Path) -> Files:
    """A stretch of 40 quotes whose ask is a million times the mid (a corrupted field; LOBSTER: a thousand
    times, below the 9999999999 its files write on an empty level)."""
    col = 0 if clean[0] == "lobster" else "ask_px"
    factor = 1e3 if clean[0] == "lobster" else 1e6

    def fn(q: pd.DataFrame) -> pd.DataFrame:
        i0 = len(q) // 2
        q.loc[i0 : i0 + 39, col] = (q.loc[i0 : i0 + 39, col].astype(float) * factor).map(
            lambda v: str(int(v)) if clean[0] == "lobster" else f"{v:.2f}"
        )
        return q

    return _edit(clean, out, 1, fn)


def decimal_shift_quotes(clean: Files, out: Path) -> Files:
    """A stretch of 20 quotes with both sides x10 (a decimal shift of the whole book for a moment)."""
    cols = [0, 2] if clean[0] == "lobster" else ["bid_px", "ask_px"]

    def fn(q: pd.DataFrame) -> pd.DataFrame:
        i0 = len(q) // 3
        for c in cols:
            v = q.loc[i0 : i0 + 19, c].astype(float) * 10
            q.loc[i0 : i0 + 19, c] = v.map(lambda x: str(int(x)) if clean[0] == "lobster" else f"{x:.2f}")
        return q

    return _edit(clean, out, 1, fn)


def off_grid_quote(clean: Files, out: Path) -> Files:
    """One quote off the tick grid (an ask half a tick off), which must not change the tick."""

    def fn(q: pd.DataFrame) -> pd.DataFrame:
        i = len(q) // 2
        if clean[0] == "lobster":
            q.iat[i, 0] = str(int(q.iat[i, 0]) + 50)  # half a cent, in dollars x 10000
        else:
            q.at[i, "ask_px"] = f"{float(q.at[i, 'ask_px']) + 0.05:.2f}"
        return q

    return _edit(clean, out, 1, fn)


def clock_jump(clean: Files, out: Path) -> Files:
    """Every event after the middle of the slice two hours later (a clock jump inside the file)."""
    jump = 7200
    fmt, files, opts = _copy(clean, out)
    if fmt == "lobster":
        m = _read(files[0], False)
        t = m[0].astype(float)
        mid = t.iloc[len(t) // 2]
        m[0] = np.where(t > mid, t + jump, t)
        m[0] = m[0].map(lambda v: f"{v:.9f}")
        _write(m, files[0], False)
        return fmt, files, opts
    tr, qu = _read(files[0]), _read(files[1])
    mid = int(qu["transaction_time_ms"].iloc[len(qu) // 2])
    for df, col in ((tr, "trade_time_ms"), (qu, "transaction_time_ms")):
        v = df[col].astype(np.int64)
        df[col] = np.where(v > mid, v + jump * 1000, v).astype(str)
    _write(tr, files[0])
    _write(qu, files[1])
    return fmt, files, opts


def lobster_times_ms(clean: Files, out: Path) -> Files:
    """LOBSTER times in milliseconds after midnight instead of seconds."""
    return _edit(clean, out, 0, _scale_times(0, 1000.0, integer=False))


def lobster_times_hours(clean: Files, out: Path) -> Files:
    """LOBSTER times in hours after midnight (inside a day, outside the file name's window)."""
    return _edit(clean, out, 0, _scale_times(0, 1 / 3600, integer=False))


def lobster_book_in_dollars(clean: Files, out: Path) -> Files:
    """The order book's prices in dollars while the messages' are dollars x 10000."""

    def fn(b: pd.DataFrame) -> pd.DataFrame:
        for c in (0, 2):
            b[c] = (b[c].astype(float) / 1e4).map(lambda v: f"{v:.4f}")
        return b

    return _edit(clean, out, 1, fn)


def lobster_truncated_book(clean: Files, out: Path) -> Files:
    """The order book file's last line cut short (a copy stopped mid-write)."""
    return _raw(clean, out, 1, lambda b: b.rstrip(b"\n")[:-9])


def cell(which: int, row: float, col: str | int, text: str):
    """A corruption that writes ``text`` in one cell (row given as a fraction of the file)."""

    def corrupt(clean: Files, out: Path) -> Files:
        def fn(df: pd.DataFrame) -> pd.DataFrame:
            df.at[int(row * len(df)) if row < 1 else int(row), col] = text
            return df

        return _edit(clean, out, which, fn)

    corrupt.__doc__ = f"{text!r} written in column {col!r} of file {which} at row {row}"
    return corrupt


def swap_rows(which: int, col: str | int):
    """Two consecutive rows of file ``which`` swapped where their times differ (out of order)."""

    def corrupt(clean: Files, out: Path) -> Files:
        def fn(df: pd.DataFrame) -> pd.DataFrame:
            t = df[col].astype(float).to_numpy()
            i = int(np.flatnonzero(np.diff(t[len(t) // 2 :]) > 0)[0]) + len(t) // 2
            a, b = df.iloc[i].copy(), df.iloc[i + 1].copy()
            df.iloc[i], df.iloc[i + 1] = b, a
            return df

        return _edit(clean, out, which, fn)

    return corrupt


def extra_field(clean: Files, out: Path) -> Files:
    """One line of the quotes file with a field too many (line 10,001)."""

    def fn(data: bytes) -> bytes:
        lines = data.splitlines(keepends=True)
        lines[10_000] = lines[10_000].rstrip(b"\n") + b",99\n"
        return b"".join(lines)

    return _raw(clean, out, 1, fn)


def generic_overlong_time(clean: Files, out: Path) -> Files:
    """A generic tape with a 26-digit time on one row (beyond 64-bit nanoseconds)."""
    from mmenv.data.loaders import load

    df = load(clean[0], *clean[1], **clean[2]).to_frame().astype({"time_ns": object})
    df.loc[len(df) // 2, "time_ns"] = "17231612560000000000000000"
    out.mkdir(parents=True, exist_ok=True)
    p = out / "tape.csv"
    df.to_csv(p, index=False)
    return "generic", (p,), {}


def swap_files(clean: Files, out: Path) -> Files:
    """The two files given in the wrong order."""
    fmt, files, opts = _copy(clean, out)
    return fmt, files[::-1], opts


def crlf_bom(clean: Files, out: Path) -> Files:
    """Both files with Windows line ends and a UTF-8 byte-order mark (as Excel saves them)."""
    fmt, files, opts = _copy(clean, out)
    for f in files:
        f.write_bytes(b"\xef\xbb\xbf" + f.read_bytes().replace(b"\n", b"\r\n"))
    return fmt, files, opts


def gzip_named_csv(clean: Files, out: Path) -> Files:
    """The first file gzip-compressed, still named .csv."""
    return _raw(clean, out, 0, gzip.compress)


def zipped(clean: Files, out: Path) -> Files:
    """The first file in a .zip archive (as Binance's public data files come)."""

    def fn(data: bytes) -> bytes:
        buf = io.BytesIO()
        with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED) as z:
            z.writestr("trades.csv", data)
        return buf.getvalue()

    return _raw(clean, out, 0, fn, name="trades.zip")


def truncated_gzip(clean: Files, out: Path) -> Files:
    """The first file gzip-compressed and cut in the middle (a download stopped early)."""
    return _raw(clean, out, 0, lambda b: gzip.compress(b)[: len(gzip.compress(b)) // 2], name="trades.csv.gz")


def utf16(clean: Files, out: Path) -> Files:
    """The first file saved as UTF-16."""
    return _raw(clean, out, 0, lambda b: b.decode("utf-8").encode("utf-16"))


def parquet_named_csv(clean: Files, out: Path) -> Files:
    """The first file written as Parquet, still named .csv."""

    def fn(data: bytes) -> bytes:
        buf = io.BytesIO()
        pd.read_csv(io.BytesIO(data)).to_parquet(buf, index=False)
        return buf.getvalue()

    return _raw(clean, out, 0, fn)


def empty_file(clean: Files, out: Path) -> Files:
    """The first file empty (0 bytes)."""
    return _raw(clean, out, 0, lambda b: b"")


def truncated_last_line(clean: Files, out: Path) -> Files:
    """The trades file's last line cut short."""
    return _raw(clean, out, 0, lambda b: b.rstrip(b"\n")[:-12])


def repeated_header(clean: Files, out: Path) -> Files:
    """The quotes file as two halves concatenated with their headers (the header repeated mid-file)."""

    def fn(data: bytes) -> bytes:
        lines = data.splitlines(keepends=True)
        k = len(lines) // 2
        return b"".join([*lines[:k], lines[0], *lines[k:]])

    return _raw(clean, out, 1, fn)


def duplicated_trades(clean: Files, out: Path) -> Files:
    """Three trades repeated right after themselves (a capture that replayed messages on reconnect)."""

    def fn(tr: pd.DataFrame) -> pd.DataFrame:
        idx = np.arange(len(tr))
        extra = _rows(len(tr), 3)
        order = np.sort(np.concatenate([idx, extra]), kind="stable")
        return tr.iloc[order].reset_index(drop=True)

    return _edit(clean, out, 0, fn)


def appended_to_itself(clean: Files, out: Path) -> Files:
    """The trades file appended to itself (without its header a second time)."""
    return _raw(clean, out, 0, lambda b: b + b"".join(b.splitlines(keepends=True)[1:]))


def negative_sizes(clean: Files, out: Path) -> Files:
    """Three trades with a negative size (a sign convention of another vendor)."""

    def fn(tr: pd.DataFrame) -> pd.DataFrame:
        for i in _rows(len(tr), 3):
            tr.at[i, "qty"] = "-" + tr.at[i, "qty"]
        return tr

    return _edit(clean, out, 0, fn)


def inverted_side(clean: Files, out: Path) -> Files:
    """The aggressor flag inverted (is_buyer_maker read the other way)."""

    def fn(tr: pd.DataFrame) -> pd.DataFrame:
        tr["is_buyer_maker"] = tr["is_buyer_maker"].map({"0": "1", "1": "0"})
        return tr

    return _edit(clean, out, 0, fn)


def times_in_micros(clean: Files, out: Path) -> Files:
    """The trades' time column named ``time`` holding epoch microseconds (Binance's spot files from 2025)."""

    def fn(tr: pd.DataFrame) -> pd.DataFrame:
        tr["trade_time_ms"] = (tr["trade_time_ms"].astype(np.int64) * 1000).astype(str)
        return tr.rename(columns={"trade_time_ms": "time"}).drop(columns=["event_time_ms"])

    return _edit(clean, out, 0, fn)


def micros_named_ms(clean: Files, out: Path) -> Files:
    """Epoch microseconds in a column named ``trade_time_ms``."""
    return _edit(clean, out, 0, _scale_times("trade_time_ms", 1000.0))


def local_time_swapped(clean: Files, out: Path) -> Files:
    """The receive-time column (ns) and the exchange-time column (ms) swapped in the trades file."""

    def fn(tr: pd.DataFrame) -> pd.DataFrame:
        tr["local_ts_ns"], tr["trade_time_ms"] = tr["trade_time_ms"].copy(), tr["local_ts_ns"].copy()
        return tr

    return _edit(clean, out, 0, fn)


def another_day(clean: Files, out: Path) -> Files:
    """The trades of the next day with today's quotes."""
    return _edit(clean, out, 0, _shift("trade_time_ms", 86_400_000))


def _shift(col: str, by: int):
    def fn(df: pd.DataFrame) -> pd.DataFrame:
        df[col] = (df[col].astype(np.int64) + by).astype(str)
        return df

    return fn


def other_instrument(other: str):
    """The trades of the slice ``other`` with this slice's quotes (restamped to its times when they differ)."""

    def corrupt(clean: Files, out: Path) -> Files:
        fmt, files, opts = _copy(clean, out)
        src = clean[1][0].parent.parent / other / "trades.csv"  # the slices' folder
        tr, qu = _read(src), _read(files[1])
        shift = int(qu["transaction_time_ms"].iloc[0]) - int(
            _read(src.parent / "bbo.csv")["transaction_time_ms"].iloc[0]
        )
        tr = _shift("trade_time_ms", shift)(tr)
        _write(tr, files[0])
        return fmt, files, opts

    corrupt.__doc__ = f"the trades of {other} with these quotes"
    return corrupt


def quotes_start_late(clean: Files, out: Path) -> Files:
    """The quotes of the first second lost (the best bid/ask stream connected after the trades stream):
    the trades before the first quote have no book."""

    def fn(q: pd.DataFrame) -> pd.DataFrame:
        t = q["transaction_time_ms"].astype(np.int64)
        return q[t >= t.iloc[0] + 1_000].reset_index(drop=True)

    return _edit(clean, out, 1, fn)


def quotes_stop_early(clean: Files, out: Path) -> Files:
    """The quotes of the last 3 seconds lost (the best bid/ask stream disconnected, the trades stream
    went on), read with ``max_gap_s=1``: the trades more than 1 s after the last quote have no book."""

    def fn(q: pd.DataFrame) -> pd.DataFrame:
        t = q["transaction_time_ms"].astype(np.int64)
        return q[t < t.iloc[-1] - 3_000].reset_index(drop=True)

    fmt, files, opts = _edit(clean, out, 1, fn)
    return fmt, files, {**opts, "max_gap_s": 1.0}


def crossed_book(clean: Files, out: Path) -> Files:
    """Most quotes crossed (bid and ask swapped): more than half of the file invalid."""

    def fn(q: pd.DataFrame) -> pd.DataFrame:
        k = int(0.7 * len(q))
        q.loc[: k - 1, ["bid_px", "ask_px"]] = q.loc[: k - 1, ["ask_px", "bid_px"]].to_numpy()
        return q

    return _edit(clean, out, 1, fn)


def one_sided_stretch(clean: Files, out: Path) -> Files:
    """15 seconds of LOBSTER book rows with an empty bid (size 0): excluded, and the stretch reported."""

    def fn(b: pd.DataFrame) -> pd.DataFrame:
        t = _read(clean[1][0], False)[0].astype(float).to_numpy()
        a = t[len(t) // 2]
        b.loc[(t >= a) & (t < a + 15.0), 3] = "0"
        return b

    return _edit(clean, out, 1, fn)


def frozen_quotes(clean: Files, out: Path) -> Files:
    """The LOBSTER book frozen for 60 seconds (every row a copy of the one before) while executions go on."""

    def fn(b: pd.DataFrame) -> pd.DataFrame:
        t = _read(clean[1][0], False)[0].astype(float).to_numpy()
        i = len(t) // 2
        sel = (t > t[i]) & (t < t[i] + 60.0)
        b.loc[sel, :] = b.iloc[i].to_numpy()
        return b

    return _edit(clean, out, 1, fn)


def generic_quotes_first(clean: Files, out: Path) -> Files:
    """The slice as a generic tape whose rows put quotes before trades stamped with the same time (sorted by
    time, as the schema asks; no seq column)."""
    from mmenv.data.loaders import load

    tape = load(clean[0], *clean[1], **clean[2])
    df = tape.to_frame()
    is_trade = df["trade_px"].notna().to_numpy()
    order = np.lexsort((is_trade, df["time_ns"].to_numpy()))  # quotes first at equal times
    out.mkdir(parents=True, exist_ok=True)
    p = out / "tape.csv"
    df.iloc[order].to_csv(p, index=False)
    return "generic", (p,), {}


def generic_ms_as_ns(clean: Files, out: Path) -> Files:
    """A generic tape whose ``time_ns`` column holds epoch milliseconds."""
    from mmenv.data.loaders import load

    df = load(clean[0], *clean[1], **clean[2]).to_frame()
    df["time_ns"] = df["time_ns"] // 1_000_000
    out.mkdir(parents=True, exist_ok=True)
    p = out / "tape.csv"
    df.to_csv(p, index=False)
    return "generic", (p,), {}


def generic_parquet_named_csv(clean: Files, out: Path) -> Files:
    """A generic tape written as Parquet but named .csv (read by its content)."""
    from mmenv.data.loaders import load, save_tape

    out.mkdir(parents=True, exist_ok=True)
    p = save_tape(load(clean[0], *clean[1], **clean[2]), out / "tape.parquet")
    return "generic", (Path(shutil.move(p, out / "tape.csv")),), {}


def with_options(**options):
    """The clean slice read with loader options (a user's --tick)."""

    def corrupt(clean: Files, out: Path) -> Files:
        fmt, files, opts = _copy(clean, out)
        return fmt, files, {**opts, **options}

    corrupt.__doc__ = f"the clean slice with {options}"
    return corrupt


@dataclass(frozen=True)
class Case:
    """One corrupted tape and what must come of it.

    Attributes:
        id: the case's name. key: the slice it corrupts. write: ``write(clean, folder) -> files``.
        rule: the rule of the loaders or the validator it exercises.
        refused: a fragment of the one error line (None: the tape is read and repaired).
        counts: for a repaired case, ``{rule: n}`` that ``tape.validation`` must report (dropped, repaired
            or kept), exactly (``"a+b"``: the sum of two rules).
        tol: for a repaired case, how far A, k and sigma may lie from the clean slice's, in standard errors
            of the clean fit (0: identical).
        same_tick: the tick must be the clean slice's.
    """

    id: str
    key: str
    write: Callable[[Files, Path], Files]
    rule: str
    refused: str | None = None
    counts: dict[str, int] = field(default_factory=dict)
    tol: float = 0.0
    same_tick: bool = True


CASES: tuple[Case, ...] = (
    # --- bad prints, absurd quotes, off-grid prices: dropped, counted, numbers kept
    Case(
        "lobster bad prints",
        "lobster",
        bad_prints,
        "trades_bad_print",
        counts={"trades_bad_print": 5},
        tol=0.5,
    ),
    Case(
        "binance bad prints", "usdm", bad_prints, "trades_bad_print", counts={"trades_bad_print": 5}, tol=0.5
    ),
    Case("coin-m bad prints", "cm", bad_prints, "trades_bad_print", counts={"trades_bad_print": 5}, tol=0.5),
    Case(  # 39 quote events: one of the 40 book rows repeats the level 1 of the row before it
        "lobster absurd ask",
        "lobster",
        absurd_ask,
        "quotes_absurd_spread",
        counts={"quotes_absurd_spread": 39},
        tol=0.1,
    ),
    Case(
        "binance absurd ask",
        "usdm",
        absurd_ask,
        "quotes_absurd_spread",
        counts={"quotes_absurd_spread": 40},
        tol=0.1,
    ),
    Case(
        "lobster decimal shift",
        "lobster",
        decimal_shift_quotes,
        "quotes_absurd_level",
        counts={"quotes_absurd_level+quotes_absurd_spread": 20},
        tol=0.1,
    ),
    Case(
        "binance decimal shift",
        "usdm",
        decimal_shift_quotes,
        "quotes_absurd_level",
        counts={"quotes_absurd_level+quotes_absurd_spread": 20},
        tol=0.1,
    ),
    Case(
        "lobster off-grid quote",
        "lobster",
        off_grid_quote,
        "quotes_off_grid",
        counts={"quotes_off_grid": 1},
        tol=0.05,
    ),
    Case(
        "binance off-grid quote",
        "usdm",
        off_grid_quote,
        "quotes_off_grid",
        counts={"quotes_off_grid": 1},
        tol=0.05,
    ),
    # --- time
    # the gap is left out of the exposure; sigma loses the one 1-second increment across it (of 60: tol 1)
    Case("lobster clock jump", "lobster", clock_jump, "gaps", counts={"gaps": 1}, tol=1.0),
    Case("binance clock jump", "usdm", clock_jump, "gaps", counts={"gaps": 1}, tol=1.0),
    Case(
        "lobster times in ms",
        "lobster",
        lobster_times_ms,
        "time unit",
        refused="is not seconds after midnight",
    ),
    Case(
        "lobster times in hours",
        "lobster",
        lobster_times_hours,
        "time unit",
        refused="outside the window 34200",
    ),
    Case("binance microseconds in a time column", "usdm", times_in_micros, "time unit", tol=0.0),
    Case(
        "binance microseconds named ms",
        "usdm",
        micros_named_ms,
        "time unit",
        refused="looks like microseconds",
    ),
    Case(
        "binance local time swapped",
        "usdm",
        local_time_swapped,
        "time unit",
        refused="looks like nanoseconds",
    ),
    Case("binance another day", "usdm", another_day, "time_overlap", refused="do not overlap in time"),
    Case("generic ms as ns", "usdm", generic_ms_as_ns, "time_unit", refused="per second): the times are not"),
    Case(
        "binance out of order",
        "usdm",
        swap_rows(1, "transaction_time_ms"),
        "sorted",
        refused="timestamps out of order",
    ),
    Case("lobster out of order", "lobster", swap_rows(0, 0), "sorted", refused="timestamps out of order"),
    Case(
        "binance overlong timestamp",
        "usdm",
        cell(0, 0.5, "trade_time_ms", "1723161316000000000000000"),
        "time unit",
        refused="is not an epoch time",
    ),
    # --- ties
    Case("generic quotes before trades", "usdm", generic_quotes_first, "ties", tol=0.0),
    # --- consistency of the inputs
    Case(
        "usd-m trades with coin-m quotes",
        "cm",
        other_instrument("usdm"),
        "wrong_side",
        refused="wrong side of the book",
    ),
    Case(
        "coin-m trades with usd-m quotes",
        "usdm",
        other_instrument("cm"),
        "wrong_side",
        refused="wrong side of the book",
    ),
    Case(
        "eth trades with btc quotes",
        "usdm",
        other_instrument("eth"),
        "price_overlap",
        refused="do not overlap in price",
    ),
    Case(
        "lobster book in dollars",
        "lobster",
        lobster_book_in_dollars,
        "price_overlap",
        refused="do not overlap in price",
    ),
    Case(
        "binance aggressor inverted",
        "usdm",
        inverted_side,
        "wrong_side",
        refused="aggressor side is inverted",
    ),
    Case("lobster files swapped", "lobster", swap_files, "columns", refused="has 6 columns, got 4"),
    # --- tick and lot
    Case(
        "tick far below the grid", "usdm", with_options(tick=1e-9), "tick", refused="the data's grid is 0.1"
    ),
    Case("tick coarser than the grid", "usdm", with_options(tick=1.0), "tick", refused="lie off its grid"),
    # --- rows
    Case(
        "binance duplicated trades",
        "usdm",
        duplicated_trades,
        "duplicates",
        counts={"rows_duplicate_trades": 3},
    ),
    Case(
        "binance appended to itself",
        "usdm",
        appended_to_itself,
        "duplicates",
        refused="the file appended to itself",
    ),
    Case(
        "binance repeated header", "usdm", repeated_header, "header", counts={"rows_repeated_header_rows": 1}
    ),
    Case(
        "binance truncated last line",
        "usdm",
        truncated_last_line,
        "truncated",
        counts={"rows_truncated_last_line": 1},
        tol=0.05,
    ),
    Case(
        "lobster truncated book line",
        "lobster",
        lobster_truncated_book,
        "truncated",
        counts={"rows_truncated_last_line": 1},
        tol=0.05,
    ),
    Case(
        "binance negative sizes",
        "usdm",
        negative_sizes,
        "trades_zero_size",
        counts={"trades_zero_size": 3},
        tol=0.5,
    ),
    Case(
        "binance zero price",
        "usdm",
        cell(0, 0.5, "price", "0"),
        "trades_bad_print",
        counts={"trades_bad_print": 1},
        tol=0.5,
    ),
    Case(  # the first second of the slice is a burst: 41 of 2,501 trades, m / sqrt(n) = 0.8
        "binance quotes start late",
        "usdm",
        quotes_start_late,
        "trades_before_first_quote",
        counts={"trades_before_first_quote": 41},
        tol=1.0,
    ),
    Case(  # 51 of 2,501 trades: m / sqrt(n) = 1.0
        "binance quotes stop early",
        "usdm",
        quotes_stop_early,
        "trades_after_last_quote",
        counts={"trades_after_last_quote": 51},
        tol=1.5,
    ),
    Case("binance crossed book", "usdm", crossed_book, "share_invalid", refused="more than 50%"),
    Case(
        "lobster one-sided stretch",
        "lobster",
        one_sided_stretch,
        "one_sided_stretches",
        counts={"one_sided_stretches": 1},
        tol=0.5,
    ),
    Case(
        "lobster frozen book",
        "lobster",
        frozen_quotes,
        "frozen_stretches",
        counts={"frozen_stretches": 1},
        tol=1.0,
    ),
    # --- fields
    Case(
        "lobster text in size",
        "lobster",
        cell(0, 6000, 3, "abc"),
        "fields",
        refused="line 6,001, column 'size': not a number",
    ),
    Case(
        "lobster blank price",
        "lobster",
        cell(1, 0.5, 0, ""),
        "fields",
        refused="line 4,001, column 'ask_px': blank field",
    ),
    Case(
        "binance infinite price",
        "usdm",
        cell(1, 0.5, "bid_px", "inf"),
        "fields",
        refused="not a finite number: 'inf'",
    ),
    Case("binance nan price", "usdm", cell(0, 0.5, "price", "nan"), "fields", refused="column 'price'"),
    Case(
        "binance extra field",
        "usdm",
        extra_field,
        "fields",
        refused="line 10,001 has 9 fields, the first line 8",
    ),
    Case(
        "generic overlong time",
        "usdm",
        generic_overlong_time,
        "time unit",
        refused="out of the range of nanosecond",
    ),
    # --- files
    Case("binance crlf and bom", "usdm", crlf_bom, "files", tol=0.0),
    Case("lobster crlf and bom", "lobster", crlf_bom, "files", tol=0.0),
    Case("binance gzip named csv", "usdm", gzip_named_csv, "files", tol=0.0),
    Case("binance zip archive", "usdm", zipped, "files", tol=0.0),
    Case("generic parquet named csv", "usdm", generic_parquet_named_csv, "files", tol=0.0),
    Case(
        "binance truncated gzip", "usdm", truncated_gzip, "files", refused="archive is truncated or corrupt"
    ),
    Case("binance utf-16", "usdm", utf16, "files", refused="UTF-16"),
    Case(
        "binance parquet named csv",
        "usdm",
        parquet_named_csv,
        "files",
        refused="this is a Parquet file, not CSV",
    ),
    Case("lobster empty message file", "lobster", empty_file, "files", refused="the file is empty"),
)


def write_case(case: Case, root: Path, out: Path) -> Files:
    """The files of ``case`` written under ``out`` from the slices under ``root``."""
    return case.write(clean_files(root, case.key), out)


if __name__ == "__main__":  # python -m tests.data.tape_corpus OUT
    from mmenv.data.samples import shared_data_dir

    target = Path(sys.argv[1])
    shared = shared_data_dir()
    if shared is None:
        raise SystemExit("no shared-data folder: set MMENV_SHARED_DATA")
    write_slices(target / "slices", shared)
    for c in CASES:
        fmt, files, opts = write_case(c, target / "slices", target / c.id.replace(" ", "_"))
        print(f"{c.id}: {fmt} {[str(f) for f in files]} {opts or ''}")
