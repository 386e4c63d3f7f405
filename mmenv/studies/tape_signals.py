"""The order-book signals in the real-tape studies: the in-sample fit, the features of the part replayed, the
replay of a signal-aware strategy, and the markout of fills by the signal at fill time.

:class:`TapeSignals` holds, for one (in-sample, replayed) pair of a tape, the fit of
:func:`mmenv.signals.fit.fit_signals` on the in-sample part and the feature matrix of the replayed part
(computed on the whole tape, so each row sees the history before the part starts: causal, row i from
events 0..i; the micro-price column reads the in-sample table). :func:`replay_policy` replays any policy
of the tape studies, a signal-aware one with its feature rows. :func:`imbalance_breakdown` groups a
replay's fills by the signal seen from our side at fill time (:func:`mmenv.signals.predictive.markout_by_bucket`).
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass
from typing import Any

import numpy as np

from agents.signal_quotes import SignalQuotes
from mmenv.analytics.scores import markouts
from mmenv.data.tape import Tape
from mmenv.replay.engine import replay
from mmenv.signals import compute_features
from mmenv.signals.fit import SignalFit, fit_signals
from mmenv.signals.predictive import IMBALANCE_EDGES, future_mid_moves, markout_by_bucket, predictive_power
from mmenv.studies.common import fmt_value

__all__ = [
    "BUCKET_SIGNAL",
    "TapeSignals",
    "format_buckets",
    "imbalance_breakdown",
    "replay_policy",
    "start_index",
]

#: The signal of the markout breakdown (a column in [-1, 1]).
BUCKET_SIGNAL = "imbalance"


def start_index(tape: Tape, part: Tape) -> int:
    """The index in ``tape`` of the first event of ``part``, a view of it from :meth:`Tape.split` or
    :meth:`Tape.windows` (which start a part at the first event stamped at or after its edge)."""
    if len(part) == 0:
        return len(tape)
    return int(np.searchsorted(tape.time, part.time[0], side="left"))


@dataclass(frozen=True, eq=False)
class TapeSignals:
    """The signals of one in-sample / replayed pair (module docstring).

    Attributes:
        fit: the in-sample fit (None when built without one: no micro-price column). names: the feature columns. features: (len(part), n) rows of the replayed
        part. features_in: the rows of the in-sample part (for the predictive-power table).
    """

    fit: SignalFit | None
    names: list[str]
    features: np.ndarray
    features_in: np.ndarray

    @classmethod
    def build(cls, tape: Tape, ins: Tape, part: Tape, fit: bool = True) -> TapeSignals:
        """Fit on ``ins`` (``fit``; else the default spec, without the micro-price), compute the features of
        the whole ``tape`` and keep the rows of ``ins`` and ``part``.

        Raises:
            ValueError: the fit's (an in-sample part too short to fit), prefixed by what needed it.
        """
        try:
            sfit = fit_signals(ins) if fit else None
        except ValueError as exc:
            raise ValueError(f"the signal-aware strategies cannot be fitted in sample: {exc}") from exc
        names, m = compute_features(tape, None if sfit is None else sfit.spec)
        a, b = start_index(tape, ins), start_index(tape, part)
        return cls(
            fit=sfit,
            names=names,
            features=np.ascontiguousarray(m[b : b + len(part)]),
            features_in=np.ascontiguousarray(m[a : a + len(ins)]),
        )

    def predictive(self, ins: Tape, part: Tape, horizons_s: tuple[float, ...]) -> dict[str, Any]:
        """:func:`mmenv.signals.predictive.predictive_power` of every column, in sample vs ``part``; the moves
        of each part computed on that part alone (no in-sample move reaches into the replayed part)."""
        return predictive_power(
            self.names,
            self.features_in,
            future_mid_moves(ins, horizons_s),
            self.features,
            future_mid_moves(part, horizons_s),
            horizons_s,
        )


def replay_policy(policy: Any, part: Tape, cfg: Any) -> Any:
    """Replay ``policy`` on ``part`` (:func:`mmenv.replay.engine.replay`); a :class:`SignalQuotes` runs
    compiled in the loop with its ``features`` (the rows of ``part``)."""
    if isinstance(policy, SignalQuotes):
        return replay(policy, part, cfg, features=policy.features)
    return replay(policy, part, cfg)


def imbalance_breakdown(res: Any, features: np.ndarray, names: list[str], horizon_s: float) -> dict[str, Any]:
    """The fills of a replay grouped by the touch imbalance from our side at the fill's event
    (:data:`mmenv.signals.predictive.IMBALANCE_EDGES`), with their markout over ``horizon_s`` seconds."""
    fills = res.fills
    ev = np.asarray(fills["event"], dtype=np.int64)
    x = features[np.clip(ev, 0, features.shape[0] - 1), names.index(BUCKET_SIGNAL)]
    side = np.asarray(fills["side"], dtype=np.float64)
    mk = markouts(fills, res.states, (horizon_s,))[:, 0] if len(fills) else np.zeros(0)
    out = markout_by_bucket(side * x, mk, np.asarray(fills["size"], dtype=np.float64), IMBALANCE_EDGES)
    out["horizon_s"] = float(horizon_s)
    out["signal"] = BUCKET_SIGNAL
    return out


def format_buckets(strategies: dict[str, Any]) -> str:
    """Markout per unit by imbalance bucket at fill time (fills), one row per strategy that has it."""
    rows = {n: m["imbalance_buckets"] for n, m in strategies.items() if m.get("imbalance_buckets")}
    if not rows:
        return ""
    edges = next(iter(rows.values()))["edges"]
    heads = [f"[{a:+.1f},{b:+.1f})" for a, b in itertools.pairwise(edges)]
    line = f"{'strategy':<16}" + "".join(f" {h:>18}" for h in heads)
    out = [line, "-" * len(line)]
    for name, b in rows.items():
        cells = [f"{fmt_value(v)} ({n})" for v, n in zip(b["markout_per_unit"], b["n_fills"], strict=True)]
        out.append(f"{name:<16}" + "".join(f" {c:>18}" for c in cells))
    return "\n".join(out)
