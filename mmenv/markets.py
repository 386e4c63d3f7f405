"""Market sources for the simulation core: they move the mid and say how far the order flow reached.

A market source simulates N paths (struct of arrays). Each decision interval it returns, per path, the depth
from the mid (at quote time) reached by the most aggressive seller (``reach_bid``) and buyer
(``reach_ask``); :mod:`mmenv.core` fills a quote iff the reach on its side is at least its depth.

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

import numba as nb
import numpy as np

from mmenv.config import MarketParams
from mmenv.shards import run_shards, shard_bounds

__all__ = ["Market", "ModelMarket"]


@nb.njit(cache=True, nogil=True)
def _transform(
    e: np.ndarray, z: np.ndarray, log_adt: float, inv_k: float, linear: bool, drift: float, vol: float
) -> None:
    """In place: Exp(1) draws to reach depths (module docstring), shocks to mid moves mu dt + sigma sqrt(dt) z.

    Elementwise and GIL-free, so shards of the arrays can be transformed in parallel threads.
    """
    for i in range(e.shape[0]):
        if linear:
            e[i] = (log_adt + e[i]) * inv_k
        else:
            e[i] = (log_adt - math.log(e[i])) * inv_k
    for i in range(z.shape[0]):
        z[i] = drift + vol * z[i]


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

    Random draws, per block of B steps: Exp(1) of shape (B, 2, N) (sell side, buy side), then the mid shocks
    (B, N); for large N per shard of paths, each with its own generator seeded from the env's (see
    ``_refill``). Same generator state, same path, bit for bit.

    Args:
        params: the market parameters. num_paths: N >= 1.
        crn_groups: G >= 1 dividing N: the paths form G blocks of N / G that see the same draws (common
            random numbers), so G strategies run side by side in one simulation. Block j is path for path
            the market a separate simulation of N / G paths with the same seed would see.
    """

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
        self._log_adt = float(np.log(params.A * params.dt))
        self._inv_k = 1.0 / float(params.k)
        self._linear = params.fill_model == "linear"
        self._drift = float(params.mu) * self.dt
        self._vol = float(params.sigma) * np.sqrt(self.dt)
        #: Depth below which the linear fill probability A dt e^{-k d} exceeds 1 (None: no clipping).
        self.clip_depth: float | None = self._log_adt * self._inv_k if self._linear else None
        base = n // self.crn_groups  # paths that draw their own shocks
        self._block = (
            max(1, min(65_536 // base, self.n_steps)) if base > 1 else max(1, min(4096, self.n_steps))
        )
        self._pos = self._block
        self._bounds = shard_bounds(base)
        self._children: list[np.random.Generator] | None = None

    def reset(self, rng: np.random.Generator, mask: np.ndarray | None = None) -> None:
        """Put the paths in ``mask`` (all if None) back at s0.

        A full reset (``mask=None``) also discards the pre-drawn block of shocks, so that the episode depends
        only on the generator's state at reset. The model draws nothing at reset.
        """
        if mask is None:
            self.mid = self.s0.copy()
            self._pos = self._block
            self._children = None
        else:
            self.mid = np.where(mask, self.s0, self.mid)

    def _draw(self, g: np.random.Generator, b: int, n: int) -> tuple[np.ndarray, np.ndarray]:
        """B steps of n paths from generator g: reach depths (B, 2, n) and mid moves (B, n)."""
        e = g.standard_exponential((b, 2, n))
        if self.params.mid_model == "binomial":
            shock = np.where(g.random((b, n)) < 0.5, -1.0, 1.0)
        else:
            shock = g.standard_normal((b, n))
        _transform(
            e.reshape(-1), shock.reshape(-1), self._log_adt, self._inv_k, self._linear, self._drift, self._vol
        )
        return e, shock

    def _refill(self, rng: np.random.Generator) -> None:
        """Draw the next block of B steps: Exp(1) (B, 2, N) for the reach, then the mid shocks (B, N).

        Large N is cut into shards (:mod:`mmenv.shards`), each drawn by its own generator seeded from ``rng``
        at the first refill after a full reset and transformed in its own thread: the numbers depend on
        the seed and N only, never on the thread schedule.
        """
        b, n = self._block, self.num_paths // self.crn_groups
        if len(self._bounds) == 1:
            self._reach, self._moves = self._draw(rng, b, n)
        else:
            if self._children is None:
                seeds = rng.integers(0, 2**63, size=len(self._bounds))
                self._children = [np.random.Generator(np.random.PCG64(int(x))) for x in seeds]
            parts: list = [None] * len(self._bounds)

            def work(j: int, lo: int, hi: int) -> None:
                parts[j] = self._draw(self._children[j], b, hi - lo)

            run_shards(work, self._bounds)
            self._reach = np.concatenate([p[0] for p in parts], axis=2)
            self._moves = np.concatenate([p[1] for p in parts], axis=1)
        if self.crn_groups > 1:
            self._reach = np.tile(self._reach, (1, 1, self.crn_groups))
            self._moves = np.tile(self._moves, (1, self.crn_groups))
        self._pos = 0

    def advance(self, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
        """Return the order-flow reach of this interval, then move the mid to its end.

        Shocks are drawn in blocks of B steps (B * N about 65,536; up to 4,096 steps for N = 1);
        the stream is a deterministic function of the generator's state at the last full reset.
        """
        if self._pos >= self._block:
            self._refill(rng)
        i = self._pos
        self._pos = i + 1
        self.mid = self.mid + self._moves[i]
        return self._reach[i, 0], self._reach[i, 1]
