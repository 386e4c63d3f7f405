"""Market sources for the simulation core: they move the mid and say how far the order flow reached.

A market source simulates N paths (struct of arrays). Each decision interval it returns, per path, the depth
from the mid (at quote time) reached by the most aggressive seller (``reach_bid``) and buyer
(``reach_ask``); :mod:`mmenv.sim.fills` fills a quote iff the reach on its side is at least its depth.

The Avellaneda-Stoikov model market (AS 2008, section 4): market orders reaching depth d arrive as a Poisson
process of intensity lambda(d) = A exp(-k d) on each side (AS eq. 2.10-2.12). The reach R of the deepest order
in an interval dt therefore satisfies

    P(R >= d) = 1 - exp(-A exp(-k d) dt)                       ("exponential" fill model),

i.e. R = (ln(A dt) - ln E) / k with E ~ Exp(1) (a Gumbel variable). The paper's approximation
P(fill) = lambda(d) dt ("linear" fill model, clipped at 1) is R = (ln(A dt) + E) / k, since then
P(R >= d) = min(1, A dt e^{-k d}). One Exp(1) draw per side and step serves both.
"""

from __future__ import annotations

import math
from typing import Protocol, runtime_checkable

import numpy as np

from mmenv.config import MarketParams
from mmenv.counter_rng import det_log, key_words, new_key
from mmenv.sim import market_kernels as mk
from mmenv.sim.shard_choice import ShardChoice
from mmenv.sim.shards import run_shards, shard_bounds

__all__ = ["Market", "ModelMarket"]


@runtime_checkable
class Market(Protocol):
    """The interface the core needs from a market source (arrays have shape (num_paths,)).

    Attributes:
        num_paths: N. dt: decision interval (market time unit). n_steps: decision steps per episode.
        mid: current mid (price units). sigma: volatility known or estimated now (price / sqrt(time unit)).
        s0: mid at the start of each path's episode.
    """

    num_paths: int
    dt: float
    n_steps: int
    mid: np.ndarray
    sigma: np.ndarray
    s0: np.ndarray

    def reset(self, rng: np.random.Generator, mask: np.ndarray | None = None) -> None:
        """(Re)start the paths in ``mask`` (all if None)."""

    def advance(self, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
        """Move every path one interval; return (reach_bid, reach_ask) relative to the mid before the move."""


class ModelMarket:
    """The Avellaneda-Stoikov market: arithmetic Brownian (or binomial) mid and Poisson order flow.

    Mid step (AS 2008 section 4): ``s += mu dt + sigma sqrt(dt) Z`` with Z ~ N(0, 1) ("brownian") or
    Z = +-1 with probability 1/2 ("binomial", the paper's tree). Reach: see the module docstring.

    Random numbers: counter-based (:mod:`mmenv.counter_rng`), every draw addressed by (key, path, episode,
    step, purpose); the key is drawn from the generator passed to :meth:`reset` at every full reset, and a
    partial reset (``mask``) starts the next episode of those paths. A path's numbers therefore depend on the
    seed, its index and its episode only: not on N, not on the other paths, not on the thread count.
    The per-path arithmetic is :mod:`mmenv.sim.market_kernels`.

    Args:
        params: the market parameters (``params.event_order``: "fill_then_move" or "move_then_fill", see
            :mod:`mmenv.sim.market_kernels`). num_paths: N >= 1.
        crn_groups: G >= 1 dividing N: the paths form G blocks of N / G that see the same draws (common
            random numbers), so G strategies run side by side in one simulation. Block j is path for path
            the market a separate simulation of N / G paths with the same seed would see.
    """

    #: The kind code of its kernel in :mod:`mmenv.sim.market_kernels` (each variant sets its own).
    kernel_kind = mk.MODEL

    def __init__(self, params: MarketParams, num_paths: int = 1, crn_groups: int = 1) -> None:
        if int(num_paths) < 1:
            raise ValueError(f"num_paths must be >= 1, got {num_paths!r}")
        if int(crn_groups) < 1 or int(num_paths) % int(crn_groups):
            raise ValueError(
                f"crn_groups must be >= 1 and divide num_paths ({num_paths}), got {crn_groups!r}"
            )
        self.params = params
        self.num_paths = int(num_paths)
        self.crn_groups = int(crn_groups)
        self.dt = float(params.dt)
        self.n_steps = params.n_steps
        n = self.num_paths
        self.s0 = np.full(n, float(params.s0))
        self.mid = self.s0.copy()
        self.sigma = np.full(n, float(params.sigma))
        self._linear = params.fill_model == "linear"
        log_adt = det_log(float(params.A) * self.dt)
        #: Depth below which the linear fill probability A dt e^{-k d} exceeds 1 (None: no clipping).
        self.clip_depth: float | None = log_adt / float(params.k) if self._linear else None
        p = np.zeros(mk.P_SIZE)
        p[mk.LOG_ADT] = log_adt
        p[mk.INV_K] = 1.0 / float(params.k)
        p[mk.LINEAR] = float(self._linear)
        p[mk.DRIFT] = float(params.mu) * self.dt
        p[mk.VOL] = float(params.sigma) * math.sqrt(self.dt)
        p[mk.BINOMIAL] = float(params.mid_model == "binomial")
        p[mk.EVENT] = float(mk.EVENT_ORDERS[params.event_order])
        p[mk.DT] = self.dt
        p[mk.SIGMA] = float(params.sigma)
        p[mk.MU] = float(params.mu)
        #: Kernel parameters (slots of :mod:`mmenv.sim.market_kernels`) and per-path state (N, S).
        self.kernel_params = p
        self.kernel_state = np.zeros((n, self._state_width()))
        #: Per path: its random stream (the path index within its CRN block), episode and step counters.
        self.stream = np.tile(np.arange(n // self.crn_groups, dtype=np.int64), self.crn_groups)
        self.episode = np.zeros(n, dtype=np.int64)
        self.t = np.zeros(n, dtype=np.int64)
        self.k0, self.k1 = key_words(0)
        self._all = np.ones(n, dtype=bool)
        #: One thread or shards for :meth:`advance` at large N, chosen by measurement (same numbers either way).
        self.shard_choice = ShardChoice()

    def _state_width(self) -> int:
        """Columns of the per-path kernel state (at least one)."""
        return 1

    @property
    def key(self) -> int:
        """The 64-bit key of the current draws (set from the generator at every full reset)."""
        return int(self.k0) | (int(self.k1) << 32)

    def kernel_args(self) -> tuple:
        """(kind, p, st, k0, k1): the market's part of the arguments of the kernels."""
        return self.kernel_kind, self.kernel_params, self.kernel_state, self.k0, self.k1

    def reset(self, rng: np.random.Generator | None, mask: np.ndarray | None = None) -> None:
        """Start new episodes: every path with a fresh key from ``rng`` (``mask=None``), else the next
        episode of the paths in ``mask`` (no draw from ``rng``)."""
        if mask is None:
            if rng is None:
                raise ValueError("rng must be a numpy Generator for a full reset, got None")
            self.k0, self.k1 = key_words(new_key(rng))
            self.episode[:] = -1
            mask = self._all
        mask = np.ascontiguousarray(mask, dtype=bool).reshape(self.num_paths)
        kind, p, st, k0, k1 = self.kernel_args()
        mk.reset_paths(
            kind, p, st, k0, k1, self.stream, self.episode, self.t, self.mid, self.s0, self.sigma, mask
        )

    def advance(self, rng: np.random.Generator | None = None) -> tuple[np.ndarray, np.ndarray]:
        """Return the order-flow reach of this interval (relative to the mid at quote time), move the mid.

        ``rng`` is not used (the draws are addressed by the key set at reset); kept for the protocol.
        """
        n = self.num_paths
        rb, ra = np.empty(n), np.empty(n)
        kind, p, st, k0, k1 = self.kernel_args()
        arrays = (st, self.stream, self.episode, self.t, self.mid, self.sigma, rb, ra)
        bounds = shard_bounds(n)
        if len(bounds) == 1:
            mk.advance_paths(kind, p, st, k0, k1, *arrays[1:])
        else:

            def work(_: int, lo: int, hi: int) -> None:
                s = [x[lo:hi] for x in arrays]
                mk.advance_paths(kind, p, s[0], k0, k1, *s[1:])

            self.shard_choice.run(
                lambda: mk.advance_paths(kind, p, st, k0, k1, *arrays[1:]),
                lambda: run_shards(work, bounds),
                helpers=len(bounds) - 1,
            )
        return rb, ra
