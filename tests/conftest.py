"""Shared test settings and fixtures: no network, headless plotting, Ray kept local and quiet, and the shared
real-data samples (``../shared/data``, catalogued by :mod:`mmenv.data.samples`).

A test that reads a sample either takes a fixture (``lobster_sample``, ``binance_sample``: the sample's files,
the test skipped with the reason when the sample is absent) or, where the files are needed at import time,
imports the marker and the files from here (``from tests.conftest import BINANCE, needs_binance``). A fresh
clone has no ``../shared``: those tests skip, they do not fail.
"""

import os
from pathlib import Path

import pytest

from mmenv.data.samples import find_samples

os.environ.setdefault("MPLBACKEND", "Agg")
os.environ.setdefault("RAY_USAGE_STATS_ENABLED", "0")
os.environ.setdefault("RAY_AUTH_MODE", "disabled")

#: The shared-data folder (None when there is none) and the files of every sample found in it, by key.
SHARED_DATA, SAMPLE_FILES = find_samples()
#: The files of the LOBSTER AMZN sample (message, orderbook) and of the Binance BTCUSDT sample (trades,
#: best bid/ask), or None when absent.
LOBSTER: tuple[Path, ...] | None = SAMPLE_FILES.get("lobster")
BINANCE: tuple[Path, ...] | None = SAMPLE_FILES.get("binance")


def _absent(key: str) -> str:
    where = "no shared-data folder was found" if SHARED_DATA is None else f"not under {SHARED_DATA}"
    return f"the shared sample {key!r} is absent ({where}; set MMENV_SHARED_DATA to the folder)"


def needs_sample(key: str) -> pytest.MarkDecorator:
    """Skip marker of a test that reads the shared sample ``key`` (a key of :data:`mmenv.data.samples.SAMPLES`)."""
    return pytest.mark.skipif(key not in SAMPLE_FILES, reason=_absent(key))


needs_lobster = needs_sample("lobster")
needs_binance = needs_sample("binance")
needs_shared_data = pytest.mark.skipif(SHARED_DATA is None, reason=_absent("any"))


def _sample(key: str) -> tuple[Path, ...]:
    if key not in SAMPLE_FILES:
        pytest.skip(_absent(key))
    return SAMPLE_FILES[key]


@pytest.fixture
def lobster_sample() -> tuple[Path, ...]:
    """The LOBSTER AMZN sample's (message, orderbook) files; skips the test when absent."""
    return _sample("lobster")


@pytest.fixture
def binance_sample() -> tuple[Path, ...]:
    """The Binance USD-M BTCUSDT sample's (trades, best bid/ask) files; skips the test when absent."""
    return _sample("binance")
