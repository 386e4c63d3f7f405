"""The micro-price of Stoikov 2018, its adjustment table fitted on the in-sample part of a tape.

Stoikov, "The micro-price: a high-frequency estimator of future prices", Quantitative Finance 18(12), 2018.
The state of the book is ``x = (I, S)``: the imbalance ``I = Q_b / (Q_b + Q_a)`` in ``n_imbalance`` equal
buckets of [0, 1] and the spread ``S`` in ticks (1 .. ``n_spread``, wider spreads in the last column). The
micro-price is ``P_micro = M + G*(x)`` (eq. 8) with

    G*(x) = sum_{k >= 0} B^k G^1(x)                                    (Stoikov 2018, eqs. 12-14)

where ``G^1(x) = E[M_{tau_1} - M_t | x_t = x]`` is the expected next mid change (``tau_1`` the time of the
next change of the mid) and ``B(x, y) = P(x_{tau_1} = y | x_t = x)`` the transition of the state across that
change. Estimation here, stated:

* samples: every quote event of the tape (a change of the top of book) after which the mid changes again
  within the tape; ``M_{tau_1} - M_t`` in ticks and ``x_{tau_1}`` the state at the event that moved it;
* symmetrised as in the paper (sec. 3.1): each sample is also counted mirrored, ``I -> 1 - I`` (bucket
  ``b -> n - 1 - b``) and ``dM -> -dM``, so that ``G*`` is odd in the imbalance;
* ``G^1`` and ``B`` are the empirical means and transition frequencies per state; a state without a sample
  has ``G^1 = 0`` and no transition (counted in ``empty_cells``);
* the series is truncated after ``iterations`` terms: ``G^{k+1} = G^1 + B G^k``; ``last_step_ticks`` is the
  largest change of the last term (how far from converged). ``iterations=1`` is the first-order version
  ``G^1``.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import numpy as np

from mmenv.data.tape import QUOTE, Tape

__all__ = ["MicroPriceTable", "check_fields", "fit_microprice", "state_index"]

_INT_FIELDS = ("n_imbalance", "n_spread", "iterations", "n_samples", "empty_cells")
_TABLE_FIELDS = ("g_ticks", "g1_ticks", "counts")


@dataclass(frozen=True, eq=False)
class MicroPriceTable:
    """A fitted micro-price adjustment (module docstring).

    Attributes:
        g_ticks: (n_imbalance, n_spread) ``G*(I bucket, spread)`` in ticks (spread column s-1 for s ticks).
        g1_ticks: the first-order table ``G^1`` (same shape).
        counts: samples per state before symmetrisation (same shape, int64).
        n_imbalance: imbalance buckets of [0, 1] (>= 2). n_spread: spread columns (>= 1).
        iterations: terms of the series summed. last_step_ticks: max |G^{k} - G^{k-1}| of the last term.
        n_samples: samples used (before symmetrisation). empty_cells: states without a sample.
    """

    g_ticks: np.ndarray
    g1_ticks: np.ndarray
    counts: np.ndarray
    n_imbalance: int
    n_spread: int
    iterations: int
    last_step_ticks: float
    n_samples: int
    empty_cells: int

    def to_dict(self) -> dict[str, Any]:
        """The table as plain lists and numbers (metrics.json; a saved agent's ``signals.json``): JSON-ready,
        and :meth:`from_dict` of it gives the same table, every float bit for bit (JSON writes the shortest
        repr of a float64, which reads back to the same value)."""
        return {
            "g_ticks": self.g_ticks.tolist(),
            "g1_ticks": self.g1_ticks.tolist(),
            "counts": self.counts.tolist(),
            "n_imbalance": self.n_imbalance,
            "n_spread": self.n_spread,
            "iterations": self.iterations,
            "last_step_ticks": self.last_step_ticks,
            "n_samples": self.n_samples,
            "empty_cells": self.empty_cells,
        }

    @classmethod
    def from_dict(cls, d: Any, where: str = "micro") -> MicroPriceTable:
        """The table of :meth:`to_dict`'s ``d``, validated: every field present and no other, integers
        ``n_imbalance >= 2``, ``n_spread >= 1``, ``iterations >= 1``, ``n_samples >= 0``, ``0 <= empty_cells
        <= n_imbalance * n_spread``, ``last_step_ticks`` a finite number >= 0, ``g_ticks`` and ``g1_ticks``
        (n_imbalance, n_spread) finite numbers, ``counts`` (n_imbalance, n_spread) integers >= 0.

        Raises:
            ValueError: naming the field (``where.<field>``) and its value.
        """
        check_fields(d, (*_TABLE_FIELDS, *_INT_FIELDS, "last_step_ticks"), where, "the micro-price table")
        ints = {k: _integer(d[k], f"{where}.{k}") for k in _INT_FIELDS}
        for k, lo in (("n_imbalance", 2), ("n_spread", 1), ("iterations", 1), ("n_samples", 0)):
            if ints[k] < lo:
                raise ValueError(f"{where}.{k} must be >= {lo}, got {ints[k]}")
        shape = (ints["n_imbalance"], ints["n_spread"])
        if not 0 <= ints["empty_cells"] <= shape[0] * shape[1]:
            raise ValueError(
                f"{where}.empty_cells must lie in [0, {shape[0] * shape[1]}], got {ints['empty_cells']}"
            )
        step = d["last_step_ticks"]
        if not (_is_number(step) and math.isfinite(step) and step >= 0):
            raise ValueError(f"{where}.last_step_ticks must be a finite number >= 0, got {step!r}")
        tables = {k: _matrix(d[k], shape, f"{where}.{k}", k == "counts") for k in _TABLE_FIELDS}
        return cls(**tables, **ints, last_step_ticks=float(step))


def check_fields(d: Any, fields: tuple[str, ...], where: str, what: str) -> None:
    """Check that ``d`` is a dict holding exactly ``fields`` (``what``: the object's name, ``where``: the
    prefix of the field names in the errors).

    Raises:
        ValueError: not a dict, a missing field or an unknown one, named ``where.<field>``.
    """
    if not isinstance(d, dict):
        raise ValueError(f"{where} must be an object of {what}'s fields, got {d!r:.80}")
    for k in fields:
        if k not in d:
            raise ValueError(f"{where}.{k} is missing")
    for k in d:
        if k not in fields:
            raise ValueError(f"{where}.{k}: unknown field (expected {', '.join(fields)})")


def _is_number(v: Any) -> bool:
    return isinstance(v, (int, float)) and not isinstance(v, bool)


def _integer(v: Any, name: str) -> int:
    if isinstance(v, bool) or not isinstance(v, int):
        raise ValueError(f"{name} must be an integer, got {v!r:.80}")
    return v


def _matrix(v: Any, shape: tuple[int, int], name: str, counts: bool) -> np.ndarray:
    """``v`` as a float64 (int64 for ``counts``) matrix of ``shape``, every entry checked."""
    what = "integers >= 0" if counts else "finite numbers"
    if not (
        isinstance(v, list)
        and len(v) == shape[0]
        and all(isinstance(r, list) and len(r) == shape[1] for r in v)
    ):
        raise ValueError(f"{name} must be a {shape[0]} x {shape[1]} list of lists of {what}, got {v!r:.80}")
    for i, row in enumerate(v):
        for j, x in enumerate(row):
            ok = (isinstance(x, int) and x >= 0) if counts else (_is_number(x) and math.isfinite(x))
            if isinstance(x, bool) or not ok:
                raise ValueError(f"{name}[{i}][{j}] must be one of {what}, got {x!r:.80}")
    return np.array(v, dtype=np.int64 if counts else np.float64)


def state_index(bid_qty, ask_qty, spread_ticks, n_imbalance: int, n_spread: int) -> np.ndarray:
    """The state ``b * n_spread + (s - 1)`` of each row: imbalance bucket b of ``Q_b / (Q_b + Q_a)`` and the
    spread s in ticks clipped to ``[1, n_spread]``."""
    imb = np.asarray(bid_qty, np.float64) / (
        np.asarray(bid_qty, np.float64) + np.asarray(ask_qty, np.float64)
    )
    b = np.minimum((imb * n_imbalance).astype(np.int64), n_imbalance - 1)
    s = np.clip(np.asarray(spread_ticks, np.int64), 1, n_spread)
    return b * n_spread + (s - 1)


def fit_microprice(
    tape: Tape, n_imbalance: int = 10, n_spread: int = 2, iterations: int = 6
) -> MicroPriceTable:
    """Fit the micro-price adjustment on ``tape`` (the in-sample part; module docstring for the estimator).

    Raises:
        ValueError: a bad setting (naming it), or a tape without a quote event followed by a mid change.
    """
    for name, v, lo in (
        ("n_imbalance", n_imbalance, 2),
        ("n_spread", n_spread, 1),
        ("iterations", iterations, 1),
    ):
        if isinstance(v, bool) or not isinstance(v, (int, np.integer)) or v < lo:
            raise ValueError(f"{name} must be an integer >= {lo}, got {v!r}")
    mid = tape.mid
    spread = np.rint((tape.ask_px - tape.bid_px) / tape.tick).astype(np.int64)
    state = state_index(tape.bid_qty, tape.ask_qty, spread, n_imbalance, n_spread)
    change = np.flatnonzero(np.diff(mid) != 0) + 1  # events that moved the mid
    rows = np.flatnonzero(tape.kind == QUOTE)
    nxt = np.searchsorted(change, rows, side="right")
    keep = nxt < change.size
    rows, j = rows[keep], change[nxt[keep]]
    if rows.size == 0:
        raise ValueError("the tape has no quote event followed by a change of the mid: no micro-price to fit")
    dm = (mid[j] - mid[rows]) / tape.tick
    x, y = state[rows], state[j]
    n_s = n_imbalance * n_spread

    def mirror(s: np.ndarray) -> np.ndarray:
        b, c = np.divmod(s, n_spread)
        return (n_imbalance - 1 - b) * n_spread + c

    xs, ys, ds = np.concatenate([x, mirror(x)]), np.concatenate([y, mirror(y)]), np.concatenate([dm, -dm])
    cnt = np.bincount(xs, minlength=n_s).astype(np.float64)
    g1 = np.divide(np.bincount(xs, weights=ds, minlength=n_s), cnt, out=np.zeros(n_s), where=cnt > 0)
    trans = np.zeros((n_s, n_s))
    np.add.at(trans, (xs, ys), 1.0)
    trans = np.divide(trans, cnt[:, None], out=np.zeros_like(trans), where=cnt[:, None] > 0)
    g = g1.copy()
    step = math.nan
    for _ in range(iterations - 1):
        new = g1 + trans @ g
        step = float(np.max(np.abs(new - g)))
        g = new
    counts = np.bincount(x, minlength=n_s).reshape(n_imbalance, n_spread).astype(np.int64)
    return MicroPriceTable(
        g_ticks=g.reshape(n_imbalance, n_spread),
        g1_ticks=g1.reshape(n_imbalance, n_spread),
        counts=counts,
        n_imbalance=int(n_imbalance),
        n_spread=int(n_spread),
        iterations=int(iterations),
        last_step_ticks=0.0 if iterations == 1 else step,
        n_samples=int(rows.size),
        empty_cells=int(np.count_nonzero(cnt == 0)),
    )
