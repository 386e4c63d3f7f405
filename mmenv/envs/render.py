"""``render_mode="rgb_array"`` of the env: one matplotlib frame of the episode so far.

matplotlib is imported inside :func:`episode_frame` (first render), never at ``import mmenv``; the figure is
drawn on an Agg canvas without pyplot, so rendering changes no global backend state.
"""

from __future__ import annotations

import numpy as np

__all__ = ["episode_frame"]


def episode_frame(
    history: np.ndarray, T: float, size: tuple[float, float] = (6.4, 4.8), dpi: int = 80
) -> np.ndarray:
    """An (H, W, 3) uint8 image: mid and live quotes (top), inventory (bottom), against time.

    Args:
        history: (n, 5) rows (time after the step, mid, bid, ask, inventory); bid/ask NaN where the side
            was not quoted during the step (the first row is the reset: no quotes).
        T: horizon (time units), the x-axis range.
        size, dpi: figure size (inches) and resolution (default 512 x 384 pixels).
    """
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    h = np.asarray(history, dtype=float).reshape(-1, 5)
    t, mid, bid, ask, q = h.T
    fig = Figure(figsize=size, dpi=dpi)
    canvas = FigureCanvasAgg(fig)
    top, bottom = fig.subplots(2, 1, sharex=True, gridspec_kw={"height_ratios": [2, 1]})
    top.plot(t, mid, color="k", lw=1.0, label="mid")
    top.step(t, bid, where="pre", color="C2", lw=0.8, label="bid")
    top.step(t, ask, where="pre", color="C3", lw=0.8, label="ask")
    top.set_ylabel("price")
    top.legend(loc="upper left", fontsize=7)
    bottom.step(t, q, where="post", color="C0", lw=1.0)
    bottom.axhline(0.0, color="0.6", lw=0.5)
    bottom.set_ylabel("inventory q")
    bottom.set_xlabel("time t")
    bottom.set_xlim(0.0, T)
    fig.tight_layout()
    canvas.draw()
    return np.asarray(canvas.buffer_rgba())[..., :3].copy()
