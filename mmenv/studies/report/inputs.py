"""What several parts of the report compute from: the model market, this run's bars, ticks and real tapes, and
one risk aversion.

Recomputed by each part that needs them (the same seed gives the same values), so that every part runs on its
own and a failing part cannot leave another without its inputs.
"""

from __future__ import annotations

from pathlib import Path

from mmenv import data
from mmenv.data.ticks import synthesize_ticks
from mmenv.studies import sources
from mmenv.studies.simulation import MODEL_MARKET, market_info

__all__ = ["RISK", "model_info", "real_tapes", "replay_tapes", "run_bars", "run_ticks"]

#: Dimensionless risk aversion gamma k sigma^2 T of every AS / GLFT / optimum in the report (0.6 is gamma =
#: 0.1 in the AS paper's market).
RISK = 0.6


def model_info() -> dict[str, float]:
    """A, k, sigma, s0, T, dt, q_max of the model market (:func:`mmenv.studies.simulation.market_info`)."""
    return market_info(MODEL_MARKET)


def run_bars(cfg: dict):
    """The run's 1-minute bars: ``cfg["bars"]`` (``--ticker`` / ``--bars-csv``), else ``cfg["days"]`` sessions of
    synthetic bars of seed ``cfg["seed"]``."""
    return cfg["bars"] if cfg["bars"] is not None else data.synthetic_bars(days=cfg["days"], seed=cfg["seed"])


def run_ticks(cfg: dict):
    """The synthetic ticks of the run's bars (:func:`mmenv.data.ticks.synthesize_ticks`, seed ``cfg["seed"] + 1``)."""
    return synthesize_ticks(run_bars(cfg), seed=cfg["seed"] + 1)


def real_tapes(cfg: dict) -> tuple[Path | None, list[sources.TapeSource]]:
    """(shared-data folder, tapes) of the run: the study samples found under ``cfg["shared_data"]`` (or the
    default folder, :func:`mmenv.studies.sources.study_samples`), then the tapes given to the report
    (``cfg["tapes"]``, keyed by their label)."""
    folder, found = sources.study_samples(cfg.get("shared_data"))
    return folder, [*found, *cfg.get("tapes", [])]


def replay_tapes(cfg: dict) -> list[sources.TapeSource]:
    """The tapes the report replays (section VI): the shared samples of
    :data:`mmenv.studies.sources.REPLAY_SAMPLES` found (:data:`~mmenv.studies.sources.QUICK_REPLAY_SAMPLES`
    in a quick run: one COIN-M capture), then the tapes given to the report (``cfg["tapes"]``)."""
    keys = sources.QUICK_REPLAY_SAMPLES if cfg.get("quick") else sources.REPLAY_SAMPLES
    _, found = sources.study_samples(cfg.get("shared_data"), keys)
    return [*found, *cfg.get("tapes", [])]
