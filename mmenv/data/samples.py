"""The one catalogue of the real-data samples that the studies, the report, the tests and the benchmarks use.

The samples are not part of the package: they live in a folder beside the checkout (``../shared/data``; see
:func:`shared_data_dir` for where it is looked for). Each :class:`Sample` names its files relative to that
folder, the loader format that reads them and the instrument it is. Nothing else in mmenv lists them.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

from mmenv.instrument import KNOWN_INSTRUMENTS, Instrument

__all__ = ["SAMPLES", "Sample", "find_samples", "sample_paths", "shared_data_dir"]


@dataclass(frozen=True)
class Sample:
    """One real-data sample.

    Attributes:
        key: short name (``"lobster"``, ``"binance"``, ...), the value of the commands' sample flags.
        label: the name printed in tables and used as the key of its results in ``metrics.json``.
        title: a longer description (venue, instrument, date and span).
        format: the loader that reads it: ``"lobster"`` (message + orderbook files) or ``"binance"``
            (trades + best bid/offer files).
        files: the files, relative to the shared-data folder, in the loader's argument order.
        instrument: the instrument's symbol, a key of :data:`mmenv.instrument.KNOWN_INSTRUMENTS` (``"AMZN"``,
            ``"BTCUSDT"``, ``"BTCUSD_PERP"``, ``"ETHUSD_PERP"``): its tick, lot, contract size, currencies and fees.
    """

    key: str
    label: str
    title: str
    format: str
    files: tuple[str, ...]
    instrument: str

    @property
    def spec(self) -> Instrument:
        """The sample's :class:`mmenv.instrument.Instrument` (a COIN-M sample's is inverse, P&L in the coin)."""
        return KNOWN_INSTRUMENTS[self.instrument]


#: Every sample, by key, in the order the studies report them.
SAMPLES: dict[str, Sample] = {
    s.key: s
    for s in (
        Sample(
            "lobster",
            "LOBSTER AMZN 2012-06-21",
            "LOBSTER AMZN, 21 June 2012 (full trading day)",
            "lobster",
            (
                "lobster/AMZN_2012-06-21_34200000_57600000_message_1.csv",
                "lobster/AMZN_2012-06-21_34200000_57600000_orderbook_1.csv",
            ),
            "AMZN",
        ),
        Sample(
            "binance",
            "Binance BTCUSDT 2024-08-08",
            "Binance USD-M BTCUSDT, 8 August 2024 23:54-24:00",
            "binance",
            (
                "binance/usdm_btcusdt_2024-08-08T2354_to_2400_trades.csv",
                "binance/usdm_btcusdt_2024-08-08T2354_to_2400_bbo.csv",
            ),
            "BTCUSDT",
        ),
        Sample(
            "binance_cm_btcusd",
            "Binance BTCUSD_PERP 2024-08-08",
            "Binance COIN-M BTCUSD_PERP (inverse, 100 USD contracts), 8 August 2024 23:54-24:00",
            "binance",
            (
                "binance/cm_btcusd_perp_2024-08-08T2354_to_2400_trades.csv",
                "binance/cm_btcusd_perp_2024-08-08T2354_to_2400_bbo.csv",
            ),
            "BTCUSD_PERP",
        ),
        Sample(
            "binance_cm_ethusd",
            "Binance ETHUSD_PERP 2024-08-09",
            "Binance COIN-M ETHUSD_PERP (inverse, 10 USD contracts), 9 August 2024 00:00-00:05",
            "binance",
            (
                "binance/cm_ethusd_perp_2024-08-09T0000_to_0005_trades.csv",
                "binance/cm_ethusd_perp_2024-08-09T0000_to_0005_bbo.csv",
            ),
            "ETHUSD_PERP",
        ),
    )
}


def shared_data_dir(explicit: str | os.PathLike | None = None) -> Path | None:
    """The folder of the shared samples, or None if there is none.

    Looked for, in order: ``explicit`` (a command's ``--data`` or the report's ``shared_data``),
    ``$MMENV_SHARED_DATA``, ``shared/data`` beside the working directory's parent, and ``shared/data``
    one or two folders above the repository (or the site-packages folder) that holds mmenv.
    """
    root = Path(__file__).resolve().parents[2]  # the repository (or site-packages)
    candidates = [
        explicit,
        os.environ.get("MMENV_SHARED_DATA"),
        Path.cwd().parent / "shared" / "data",
        root.parent / "shared" / "data",
        root.parent.parent / "shared" / "data",
    ]
    for c in candidates:
        if c and Path(c).is_dir():
            return Path(c)
    return None


def sample_paths(key: str, root: str | os.PathLike | None = None) -> tuple[Path, ...]:
    """The files of sample ``key`` under ``root`` (default: :func:`shared_data_dir`).

    Raises:
        ValueError: an unknown key, no shared-data folder, or a missing file (named, with what to do).
    """
    if key not in SAMPLES:
        raise ValueError(f"unknown sample {key!r}; one of {', '.join(SAMPLES)}")
    folder = shared_data_dir(root)
    if folder is None:
        raise ValueError(
            f"sample {key!r} needs the shared-data folder; pass its path (--data DIR) or set MMENV_SHARED_DATA"
        )
    paths = tuple(folder / f for f in SAMPLES[key].files)
    for p in paths:
        if not p.is_file():
            raise ValueError(f"sample {key!r}: file {p} not found; check the shared-data folder (--data DIR)")
    return paths


def find_samples(root: str | os.PathLike | None = None) -> tuple[Path | None, dict[str, tuple[Path, ...]]]:
    """(folder, {key: files}) of the samples whose files are all present (folder: :func:`shared_data_dir`)."""
    folder = shared_data_dir(root)
    if folder is None:
        return None, {}
    found = {}
    for key, s in SAMPLES.items():
        paths = tuple(folder / f for f in s.files)
        if all(p.is_file() for p in paths):
            found[key] = paths
    return folder, found
