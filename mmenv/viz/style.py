"""One figure style for every mmenv figure: matplotlib setup, colours per strategy, labels, atomic saves.

Every figure of the package (``mmenv.viz.plots``, the studies, the calibration figure, the report, the PPO
learning curve) is drawn through :func:`pyplot` and written by :func:`save_figure`, so fonts, grid, colours
and resolution agree across the report. Strategies keep one colour everywhere (:func:`strategy_color`).
:func:`label_points` places point labels so that they neither overlap each other nor leave the axes.
matplotlib is imported lazily (``import mmenv`` stays light) with the non-interactive Agg backend.
"""

from __future__ import annotations

import io
import os
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from mmenv.outdir import atomic_write_bytes

__all__ = ["RC", "label_points", "pyplot", "save_figure", "strategy_color", "twin_lines"]

#: matplotlib rcParams applied to every figure.
RC: dict[str, Any] = {
    "figure.dpi": 100,
    "savefig.dpi": 120,
    "font.size": 9.5,
    "axes.titlesize": 10.5,
    "axes.labelsize": 9.5,
    "legend.fontsize": 8.5,
    "legend.framealpha": 0.85,
    "xtick.labelsize": 8.5,
    "ytick.labelsize": 8.5,
    "axes.grid": True,
    "grid.alpha": 0.3,
    "grid.linewidth": 0.6,
    "axes.spines.top": False,
    "axes.spines.right": False,
    "lines.linewidth": 1.4,
    "lines.markersize": 4.5,
    "errorbar.capsize": 3,
}

#: One colour per strategy (tab10), the same in every figure.
STRATEGY_COLORS: dict[str, str] = {
    "as": "tab:blue",
    "inventory": "tab:blue",
    "naive": "tab:orange",
    "symmetric": "tab:brown",
    "glft": "tab:green",
    "optimal": "tab:red",
    "passive": "tab:purple",
    "trend": "tab:olive",
    "ppo": "tab:pink",
}
_EXTRA = ("tab:cyan", "tab:gray", "black", "darkgoldenrod", "teal", "slateblue")


def pyplot():
    """matplotlib.pyplot on the Agg backend with :data:`RC` applied."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    plt.rcParams.update(RC)
    return plt


def strategy_color(name: str) -> str:
    """The colour of strategy ``name`` (its prefix before ``_`` / ``=`` decides: ``as_gamma=0.1`` is AS)."""
    key = str(name).lower()
    if key in STRATEGY_COLORS:
        return STRATEGY_COLORS[key]
    for sep in ("_", "=", " "):
        head = key.split(sep)[0]
        if head in STRATEGY_COLORS:
            return STRATEGY_COLORS[head]
    return _EXTRA[sum(map(ord, key)) % len(_EXTRA)]


def save_figure(fig: Any, path: str | os.PathLike, dpi: int | None = None) -> Path:
    """Write ``fig`` to ``path`` atomically (:func:`mmenv.outdir.atomic_write_bytes`) and close it.

    A crash never leaves a half-written image. ``dpi`` defaults to ``RC["savefig.dpi"]``.
    """
    path = Path(path)
    buf = io.BytesIO()
    try:
        fig.savefig(
            buf, dpi=dpi or RC["savefig.dpi"], bbox_inches="tight", format=path.suffix.lstrip(".") or "png"
        )
    finally:
        pyplot().close(fig)
    atomic_write_bytes(path, buf.getvalue())
    return path


def twin_lines(
    ax: Any,
    x: Sequence[float],
    left: tuple[Sequence[float], str, str],
    right: tuple[Sequence[float], str, str],
    logy: bool = False,
    legend_loc: str = "best",
) -> Any:
    """Two series of different units on one log-x axes: ``left`` on ``ax``, ``right`` on a twin axis.

    Each series is ``(values, label with its unit, colour)``; each y axis is labelled and coloured like its
    line, log axes show plain numbers, and one legend lists both. Returns the twin axis.
    """
    from matplotlib.ticker import FuncFormatter, NullFormatter

    twin = ax.twinx()
    twin.grid(False)
    twin.spines["right"].set_visible(True)
    for a, (y, label, color), marker in ((ax, left, "o-"), (twin, right, "s-")):
        a.plot(x, y, marker, color=color, label=label.split(" (")[0])
        a.set_xscale("log")
        if logy:
            a.set_yscale("log")
            a.yaxis.set_major_formatter(FuncFormatter(lambda v, _: f"{v:g}"))
            a.yaxis.set_minor_formatter(NullFormatter())
        a.set_ylabel(label, color=color)
    h1, l1 = ax.get_legend_handles_labels()
    h2, l2 = twin.get_legend_handles_labels()
    ax.legend(h1 + h2, l1 + l2, loc=legend_loc)
    return twin


#: Candidate label offsets in points, tried in order (right, up, left, down, then the diagonals, further out).
_OFFSETS: tuple[tuple[int, int], ...] = tuple(
    (dx * r, dy * r)
    for r in (6, 14, 24)
    for dx, dy in ((1, 0), (0, 1), (-1, 0), (0, -1), (1, 1), (-1, 1), (1, -1), (-1, -1))
)


def label_points(
    ax: Any, xs: Sequence[float], ys: Sequence[float], labels: Sequence[str], **text_kw: Any
) -> list[Any]:
    """Annotate points with labels that do not overlap each other, the points or the axes' edges.

    Greedy placement: for each point, the first offset of a fixed list (right, up, left, down, diagonals,
    at growing distances) whose text box stays inside the axes and clear of the boxes placed so far and
    of every marker; if none is free, the one with the least overlap. Draw the data (and set the limits)
    before calling: the boxes are measured in display space.
    """
    fig = ax.figure
    fig.canvas.draw()
    renderer = fig.canvas.get_renderer()
    box_ax = ax.get_window_extent(renderer)
    disp = ax.transData.transform(list(zip(xs, ys, strict=True))) if len(xs) else []
    marker_r = 4.0 * fig.dpi / 72.0
    placed: list[Any] = []
    texts = []
    for (px, py), lab in zip(disp, labels, strict=True):
        best, best_cost = None, None
        for dx, dy in _OFFSETS:
            ha = "left" if dx > 0 else ("right" if dx < 0 else "center")
            va = "bottom" if dy > 0 else ("top" if dy < 0 else "center")
            t = ax.annotate(
                lab,
                ax.transData.inverted().transform((px, py)),
                xytext=(dx, dy),
                textcoords="offset points",
                ha=ha,
                va=va,
                **text_kw,
            )
            bb = t.get_window_extent(renderer).expanded(1.05, 1.1)
            cost = sum(_overlap(bb, o) for o in placed)
            cost += sum(_overlap_point(bb, q, marker_r) for q in disp)
            outside = (
                max(box_ax.x0 - bb.x0, 0)
                + max(bb.x1 - box_ax.x1, 0)
                + max(box_ax.y0 - bb.y0, 0)
                + max(bb.y1 - box_ax.y1, 0)
            )
            cost += 1e3 * outside
            if best_cost is None or cost < best_cost:
                if best is not None:
                    best[0].remove()
                best, best_cost = (t, bb), cost
            else:
                t.remove()
            if cost == 0:
                break
        placed.append(best[1])
        texts.append(best[0])
    return texts


def _overlap(a: Any, b: Any) -> float:
    w = min(a.x1, b.x1) - max(a.x0, b.x0)
    h = min(a.y1, b.y1) - max(a.y0, b.y0)
    return w * h if w > 0 and h > 0 else 0.0


def _overlap_point(bb: Any, p: Sequence[float], r: float) -> float:
    w = min(bb.x1, p[0] + r) - max(bb.x0, p[0] - r)
    h = min(bb.y1, p[1] + r) - max(bb.y0, p[1] - r)
    return w * h if w > 0 and h > 0 else 0.0
