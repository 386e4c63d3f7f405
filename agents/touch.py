"""Fixed offset from the touch: a bid ``offset_ticks`` below the best bid and an ask as far above the best ask.

The first strategy to run on a real tape to see its raw fill economics (how often the touch fills, and what
the fills are worth a few seconds later), and the strategy of the cross-check against hftbacktest. It reads
the top of the book from the replay's policy state (:class:`mmenv.policy.TopOfBook`), so it runs on real
tapes only (:func:`mmenv.replay.engine.replay`, ``mmenv backtest --strategy touch``).
"""

from __future__ import annotations

import numpy as np

from agents.base import BasePolicy, QuoteState
from mmenv.replay.config import TouchRule
from mmenv.replay.kernel import touch_depths

__all__ = ["TouchAgent"]


class TouchAgent(BasePolicy):
    """Quotes ``best bid - offset_ticks * tick`` and ``best ask + offset_ticks * tick``, whatever its inventory.

    Depths from the mid: ``mid - (bid - offset tick)`` and ``ask + offset tick - mid``
    (:func:`mmenv.replay.kernel.touch_depths`, the formula the compiled loop runs).

    Args:
        offset_ticks: ticks behind the best on each side, an integer >= 0 (0: join the touch, 1: one tick
            behind).
    """

    def __init__(self, offset_ticks: int = 0, s0: float = 100.0) -> None:
        super().__init__(s0)
        self._rule = TouchRule(offset_ticks)  # validates
        self.offset_ticks = int(offset_ticks)
        self.name = self._rule.name

    def touch_rule(self) -> TouchRule | None:
        """The equivalent compiled :class:`mmenv.replay.config.TouchRule` (None for a subclass)."""
        return self._rule if type(self) is TouchAgent else None

    def quote(self, state: QuoteState) -> tuple[np.ndarray, np.ndarray]:
        """Depths from the book in ``state.book``.

        Raises:
            ValueError: a state without the book (the model market and the tick backtest have none).
        """
        b = state.book
        if b is None:
            raise ValueError(
                "the touch strategy needs the top of the book: run it on a real tape (mmenv.replay.replay, "
                "mmenv backtest with a tape)"
            )
        mid = float(np.asarray(state.mid, dtype=np.float64).reshape(-1)[0])
        db, da = touch_depths.py_func(float(self.offset_ticks), b.tick, b.bid, b.ask, mid)
        return np.array([db]), np.array([da])
