"""Reading data files as real exports come: what a file really holds, and a CSV table whose rows know their
line.

:func:`sniff` looks at a file's first bytes, not its name: gzip and zip archives are read through (a
``.csv.gz`` or a Binance ``.zip`` of one CSV, or gzip data named ``.csv``), while Parquet, UTF-16 text and
other binary data named as CSV are refused with what they are and what to do. :func:`read_csv_table` reads
each column as numbers when every field of it is one (pandas' C parser: fast, integers exact) and as text
otherwise (the loaders then name the line and column of the bad field), and repairs what exports commonly
get wrong, counting each repair:

* a UTF-8 byte-order mark and CRLF line ends (read as they are);
* the header repeated inside the file (files concatenated with their headers): those rows are dropped and
  counted (``repeated_header_rows``);
* a last line cut short (a capture stopped mid-write): dropped and counted (``truncated_last_line``);
* blank lines at the end: dropped and counted (``blank_lines``).

Every error names the file and, where there is one, the 1-based line (header included) and what to do:
an empty file, text that is not UTF-8 (line and column of the first bad byte), a line with more fields than
the header, a truncated or corrupt gzip stream.
"""

from __future__ import annotations

import errno
import gzip
import re
import zipfile
import zlib
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd

__all__ = ["CsvTable", "not_utf8", "read_csv_header", "read_csv_table", "sniff"]

_GZIP = b"\x1f\x8b"
_ZIP = b"PK\x03\x04"
_PARQUET = b"PAR1"


def sniff(path: str | Path) -> str:
    """What ``path`` holds, from its first bytes: ``"gzip"``, ``"zip"``, ``"parquet"`` or ``"text"``.

    Raises:
        FileNotFoundError: no such file; IsADirectoryError: a folder.
        ValueError: an empty file, UTF-16/32 text or other binary data (a NUL byte in the first 4 KiB),
            with the file's name and what to do.
    """
    p = Path(path)
    if not p.exists():
        raise FileNotFoundError(errno.ENOENT, "no such file", str(p))
    if p.is_dir():
        raise IsADirectoryError(errno.EISDIR, "is a directory", str(p))
    with p.open("rb") as fh:
        head = fh.read(4096)
    if not head:
        raise ValueError(f"{p}: the file is empty (0 bytes); give the file with its data")
    if head.startswith(_GZIP):
        return "gzip"
    if head.startswith(_ZIP):
        return "zip"
    if head.startswith(_PARQUET):
        return "parquet"
    if head.startswith((b"\xff\xfe", b"\xfe\xff")) or (
        b"\x00" in head and head[1::2].count(0) > len(head) // 4
    ):
        raise ValueError(f"{p}: the text is UTF-16 (or UTF-32), not UTF-8; save the file as UTF-8 CSV")
    if b"\x00" in head:
        raise ValueError(f"{p}: the file holds binary data, not CSV text; give the CSV export")
    return "text"


def not_utf8(path: str | Path) -> ValueError:
    """The error of a text file that is not UTF-8: the line, the column and the first bad byte (1-based)."""
    p = Path(path)
    opener = gzip.open if sniff(p) == "gzip" else open
    with opener(p, "rb") as fh:
        for n, line in enumerate(fh, start=1):
            try:
                line.decode("utf-8")
            except UnicodeDecodeError as exc:
                return ValueError(
                    f"{p}: line {n}, column {exc.start + 1}: byte 0x{line[exc.start]:02x} is not UTF-8 (the "
                    "file looks latin-1 or Windows-1252 encoded); save it as UTF-8"
                )
    return ValueError(
        f"{p}: the text is not UTF-8; save it as UTF-8"
    )  # pragma: no cover - after a decode error


@dataclass
class CsvTable:
    """A CSV file read as text.

    Attributes:
        path: the file.
        frame: one row per data line; a column of numbers as int64 or float64 (a blank field: NaN), any other
            column as text.
        line: (n,) int64, the 1-based line of each row in the file (header included).
        header: the header's field names, or None for a file read without one.
        repairs: what was dropped while reading, by rule (``repeated_header_rows``, ``truncated_last_line``,
            ``blank_lines``), with the line of the first of each under ``<rule>_first_line``.
    """

    path: Path
    frame: pd.DataFrame
    line: np.ndarray
    header: list[str] | None
    repairs: dict[str, int] = field(default_factory=dict)

    def __len__(self) -> int:
        return len(self.frame)

    def keep(self, mask: np.ndarray) -> None:
        """Keep the rows of ``mask`` (a boolean array of the table's length)."""
        self.frame = self.frame.loc[mask].reset_index(drop=True)
        self.line = self.line[mask]


def _csv_kind(p: Path) -> str:
    """:func:`sniff`, with a Parquet file refused (a CSV was expected)."""
    kind = sniff(p)
    if kind == "parquet":
        raise ValueError(
            f"{p}: this is a Parquet file, not CSV; give it a .parquet name and read it with --tape"
        )
    return kind


def read_csv_header(path: str | Path) -> list[str]:
    """The field names of a CSV export's first line (read through gzip and zip archives, a byte-order mark
    and CRLF removed), for a loader that recognises a layout from its header.

    Raises:
        ValueError: what :func:`sniff` refuses, a Parquet file, a first line that is blank or not UTF-8, a
            truncated archive; each names the file and says what to do.
    """
    p = Path(path)
    kind = _csv_kind(p)
    try:
        with _open(p, kind) as fh:
            first = fh.readline(1 << 20)
    except (EOFError, zlib.error, gzip.BadGzipFile, zipfile.BadZipFile, OSError) as exc:
        raise ValueError(
            f"{p}: the {kind} archive is truncated or corrupt ({type(exc).__name__}: {exc}); download the file "
            "again"
        ) from None
    if not first:
        raise ValueError(
            f"{p}: the file is empty (its {kind} archive holds no text); give the file with its data"
        )
    try:
        line = first.decode("utf-8-sig").rstrip("\r\n")
    except UnicodeDecodeError:
        raise not_utf8(p) from None
    if not line.strip():
        raise ValueError(f"{p}: line 1 is blank, expected the header; give the file with its header line")
    return [c.strip() for c in line.split(",")]


def read_csv_table(
    path: str | Path,
    *,
    header: bool = True,
    names: list[str] | None = None,
    usecols: list[str] | None = None,
    categories: tuple[str, ...] = (),
) -> CsvTable:
    """Read a CSV export as text, repairing and counting what exports get wrong (see the module docstring).

    Args:
        path: a CSV file, or a gzip/zip archive of one (recognised by content, whatever its name).
        header: the first line is a header (else every line is data; ``names`` name the columns).
        names: column names of a file without a header (the first ``len`` columns).
        usecols: with a header, read only these columns (every line is still checked for its fields).
        categories: columns read as pandas categories (text repeated on every row: a symbol, a side).

    Raises:
        ValueError: what :func:`sniff` refuses, a Parquet file, text that is not UTF-8, a line with more
            fields than the first, a truncated or corrupt archive; each names the file and says what to do.
    """
    p = Path(path)
    kind = _csv_kind(p)
    compression = {"gzip": "gzip", "zip": "zip"}.get(kind)
    try:
        raw = pd.read_csv(
            p,
            header=0 if header else None,
            keep_default_na=False,
            na_values=[""],
            skip_blank_lines=False,
            encoding="utf-8-sig",
            compression=compression,
            low_memory=False,
            usecols=usecols if header else None,
            dtype=dict.fromkeys(categories, "category") or None,
        )
    except UnicodeDecodeError:
        raise not_utf8(p) from None
    except pd.errors.EmptyDataError:
        raise ValueError(
            f"{p}: the file holds no text (an empty archive?); give the file with its data"
        ) from None
    except pd.errors.ParserError as exc:
        m = re.search(r"Expected (\d+) fields in line (\d+), saw (\d+)", str(exc))
        if m is not None:
            raise ValueError(
                f"{p}: line {int(m[2]):,} has {m[3]} fields, the first line {m[1]}; correct or remove that line"
            ) from None
        raise ValueError(f"{p}: {' '.join(str(exc).split())}; check that line of the file") from None
    except (EOFError, zlib.error, gzip.BadGzipFile, zipfile.BadZipFile, OSError) as exc:
        raise ValueError(
            f"{p}: the {kind} archive is truncated or corrupt ({type(exc).__name__}: {exc}); download the file "
            "again"
        ) from None
    except ValueError as exc:  # e.g. a zip archive of several files
        raise ValueError(f"{p}: {' '.join(str(exc).split())}; give one CSV file") from None
    _check_line_count(p, kind, len(raw) + (1 if header else 0))
    hdr = [str(c).strip() for c in raw.columns] if header else None
    if header:
        raw.columns = hdr
    elif names is not None:
        raw.columns = [*names[: raw.shape[1]], *range(len(names), raw.shape[1])]
    n = len(raw)
    line = np.arange(n, dtype=np.int64) + (2 if header else 1)
    table = CsvTable(p, raw, line, hdr)
    _drop_trailing(table, kind, len(read_csv_header(p)) if header and usecols is not None else raw.shape[1])
    if header and len(table):
        _drop_repeated_header(table)
    return table


def _open(path: Path, kind: str):
    if kind == "gzip":
        return gzip.open(path, "rb")
    if kind == "zip":
        z = zipfile.ZipFile(path)
        return z.open(z.namelist()[0])
    return path.open("rb")


def _check_line_count(path: Path, kind: str, rows: int) -> None:
    """The parser makes one row per line; a line with more fields than the first is split by it into two
    rows, so a count that differs means such a line: found (a second pass, only then) and refused by line."""
    n, last = 0, b"\n"
    with _open(path, kind) as fh:
        while chunk := fh.read(1 << 24):
            n += chunk.count(b"\n")
            last = chunk[-1:]
    n += last != b"\n"  # a last line without its end
    if n == rows:
        return
    with _open(path, kind) as fh:
        width = None
        for i, line in enumerate(fh, start=1):
            if i == 1:
                line = line.removeprefix(b"\xef\xbb\xbf")
            k = line.count(b",") + 1
            width = k if width is None else width
            if k > width:
                raise ValueError(
                    f"{path}: line {i:,} has {k} fields, the first line {width}; correct or remove that line"
                )
    raise ValueError(  # pragma: no cover - a quoted field spanning lines
        f"{path}: {rows:,} rows parsed from {n:,} lines (a quoted field over several lines?); give one row per line"
    )


def _drop_trailing(table: CsvTable, kind: str, width: int) -> None:
    """Blank lines at the end, then a last line with fewer fields than the first (``width``; cut short):
    dropped."""
    f = table.frame
    if not len(f):
        return
    tail = f.iloc[-1000:]  # blank lines at the end only: the last rows suffice
    empty = tail.isna().all(axis=1).to_numpy()
    k = len(f)
    while k > len(f) - len(tail) and empty[k - 1 - (len(f) - len(tail))]:
        k -= 1
    if k < len(f):
        table.repairs["blank_lines"] = len(f) - k
        table.keep(np.arange(len(f)) < k)
    f = table.frame
    if len(f) and width > 1 and _short_last_line(table.path, kind, f, width):
        table.repairs["truncated_last_line"] = 1
        table.repairs["truncated_last_line_first_line"] = int(table.line[-1])
        table.keep(np.arange(len(f)) < len(f) - 1)


def _short_last_line(path: Path, kind: str, f: pd.DataFrame, width: int) -> bool:
    """Whether the last data line has fewer fields than the table's columns: counted in the file's last
    bytes (text), or for an archive, a last row missing a field that no row before it misses."""
    if kind == "text":
        with path.open("rb") as fh:
            fh.seek(0, 2)
            fh.seek(max(0, fh.tell() - 65536))
            lines = [ln for ln in fh.read().splitlines() if ln.strip()]
        return bool(lines) and lines[-1].count(b",") + 1 < width
    before = f.iloc[-1001:-1]
    return bool((f.iloc[-1].isna().to_numpy() & before.notna().all(axis=0).to_numpy()).any())


def _drop_repeated_header(table: CsvTable) -> None:
    """Rows that repeat the header (files concatenated with their headers): dropped and counted."""
    f = table.frame
    first = table.header[0] if table.header else None
    if first is None or f.shape[1] == 0:
        return
    col = f.iloc[:, 0].astype(str).str.strip()
    cand = (col == first).to_numpy()
    if not cand.any():
        return
    same = np.ones(len(f), dtype=bool)
    for j, h in enumerate(table.header):
        same &= (f.iloc[:, j].astype(str).str.strip() == h).to_numpy()
    same &= cand
    if same.any():
        table.repairs["repeated_header_rows"] = int(same.sum())
        table.repairs["repeated_header_rows_first_line"] = int(table.line[np.flatnonzero(same)[0]])
        table.keep(~same)
