"""Goodness of fit of the intensity law: Pearson's chi-square of observed against expected depth counts.

Bins: equal-probability bins of the fitted law, or tick levels; adjacent bins are merged until each expects
>= 5 orders; degrees of freedom = bins - 2 (two fitted parameters, the total count being matched by A).
"""

from __future__ import annotations

import warnings
from typing import TYPE_CHECKING

import numpy as np
from scipy import stats

if TYPE_CHECKING:
    pass

from mmenv.calibration.samples import DepthSample


def _merge_bins(obs: np.ndarray, exp: np.ndarray, min_expected: float = 5.0) -> tuple[np.ndarray, np.ndarray]:
    """Merge adjacent bins (left to right, then the last into its neighbour) until each expects >=
    5."""
    o_out, e_out = [], []
    o_acc = e_acc = 0.0
    for o, e in zip(obs, exp, strict=True):
        o_acc += o
        e_acc += e
        if e_acc >= min_expected:
            o_out.append(o_acc)
            e_out.append(e_acc)
            o_acc = e_acc = 0.0
    if e_acc > 0 or o_acc > 0:
        if e_out:
            o_out[-1] += o_acc
            e_out[-1] += e_acc
        else:
            o_out.append(o_acc)
            e_out.append(e_acc)
    return np.asarray(o_out), np.asarray(e_out)


def chi_square(sample: DepthSample, A: float, k: float) -> tuple[float | None, int | None, float | None]:
    """Pearson chi-square of depth-bin counts against sides*A*sum tau exp(-k max(b, c))
    differences."""
    c0 = float(sample.levels.min())
    if sample.tick is None:
        m = int(np.clip(sample.n // 25, 3, 40))
        q = np.arange(m) / m
        edges = c0 - np.log1p(-q) / k  # equal-probability bins of Exp(k) beyond c0
        idx = np.maximum(np.searchsorted(edges, sample.depths, side="right") - 1, 0)
    else:
        h = sample.tick
        top = int(min(np.ceil((sample.depths.max() - c0) / h) + 1, 10_000))
        edges = c0 + h * np.arange(top + 1)
        idx = np.floor((sample.depths - c0) / h + 0.5).astype(np.int64)  # nearest level
        idx = np.clip(idx, 0, edges.size - 1)
    obs = np.bincount(idx, minlength=edges.size)[: edges.size].astype(np.float64)
    tail = sample.expected_beyond(edges, A, k)
    exp = tail - np.append(tail[1:], 0.0)
    o, e = _merge_bins(obs, exp)
    df = o.size - 2
    if df < 1:
        warnings.warn(
            "the chi-square goodness-of-fit test needs >= 3 bins expecting >= 5 orders, "
            f"got {o.size}; gof_stat is None",
            stacklevel=3,
        )
        return None, None, None
    stat = float(((o - e) ** 2 / e).sum())
    return stat, int(df), float(stats.chi2.sf(stat, df))
