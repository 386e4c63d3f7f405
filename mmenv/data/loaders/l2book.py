"""The top of book rebuilt from price-level (L2) updates: the compiled book of the incremental formats.

An L2 feed sends, per message, the new displayed amount at some price levels of the book: the amount is the
level's new total (not a delta) and an amount of 0 removes the level; a snapshot replaces the whole book.
:func:`top_of_book` replays such rows in file order and returns the best bid and ask (price and amount)
after each message: the book is read only when a message is complete, never between two rows of one message.

Prices are mapped to integer level indices once (``np.unique``), so the compiled loop holds two arrays of
amounts (bids, asks) and the index of the best level on each side; removing the best level scans to the
next non-empty level. Cost: O(rows) plus the scans, memory O(distinct prices).
"""

from __future__ import annotations

import numpy as np

from mmenv.jit import njit

__all__ = ["top_of_book"]


@njit(cache=True)
def _replay(level, is_bid, amount, reset, emit, n_levels):  # pragma: no cover - compiled
    """The best (bid index, bid amount, ask index, ask amount) after each row with ``emit``; -1 index: none."""
    bids = np.zeros(n_levels)
    asks = np.zeros(n_levels)
    best_bid, best_ask = -1, n_levels
    n_out = 0
    for i in range(emit.size):
        n_out += emit[i]
    out_bid = np.empty(n_out, np.int64)
    out_ask = np.empty(n_out, np.int64)
    out_bq = np.empty(n_out)
    out_aq = np.empty(n_out)
    j = 0
    for i in range(level.size):
        if reset[i]:
            bids[:] = 0.0
            asks[:] = 0.0
            best_bid, best_ask = -1, n_levels
        k = level[i]
        a = amount[i]
        if is_bid[i]:
            bids[k] = a
            if a > 0.0:
                if k > best_bid:
                    best_bid = k
            elif k == best_bid:
                best_bid = k - 1
                while best_bid >= 0 and bids[best_bid] <= 0.0:
                    best_bid -= 1
        else:
            asks[k] = a
            if a > 0.0:
                if k < best_ask:
                    best_ask = k
            elif k == best_ask:
                best_ask = k + 1
                while best_ask < n_levels and asks[best_ask] <= 0.0:
                    best_ask += 1
        if emit[i]:
            out_bid[j] = best_bid
            out_bq[j] = bids[best_bid] if best_bid >= 0 else 0.0
            out_ask[j] = best_ask if best_ask < n_levels else -1
            out_aq[j] = asks[best_ask] if best_ask < n_levels else 0.0
            j += 1
    return out_bid, out_bq, out_ask, out_aq


def top_of_book(
    price: np.ndarray, amount: np.ndarray, is_bid: np.ndarray, reset: np.ndarray, emit: np.ndarray
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Replay L2 level updates in file order; the top of book after every row flagged ``emit``.

    Args:
        price: (n,) the level's price (price units, finite).
        amount: (n,) the level's new displayed amount (>= 0; 0 removes the level).
        is_bid: (n,) True for a bid level, False for an ask level.
        reset: (n,) True where the book is cleared before the row is applied (the first row of a snapshot).
        emit: (n,) True at the last row of each message: the book is read after it.

    Returns:
        (bid_px, bid_qty, ask_px, ask_qty), one entry per ``emit`` row: the best bid (highest price with a
        positive amount) and best ask (lowest), NaN price and 0 amount for an empty side. A crossed or locked
        result is returned as it is (the caller's validity rules count it).
    """
    price = np.ascontiguousarray(price, dtype=np.float64)
    levels, level = np.unique(price, return_inverse=True)
    bid_i, bq, ask_i, aq = _replay(
        level.astype(np.int64).reshape(-1),
        np.ascontiguousarray(is_bid, dtype=np.bool_),
        np.ascontiguousarray(amount, dtype=np.float64),
        np.ascontiguousarray(reset, dtype=np.bool_),
        np.ascontiguousarray(emit, dtype=np.bool_),
        int(levels.size),
    )
    bid = (
        np.where(bid_i >= 0, levels[np.maximum(bid_i, 0)], np.nan)
        if levels.size
        else np.full(bq.size, np.nan)
    )
    ask = (
        np.where(ask_i >= 0, levels[np.maximum(ask_i, 0)], np.nan)
        if levels.size
        else np.full(aq.size, np.nan)
    )
    return bid, bq, ask, aq
