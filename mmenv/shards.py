"""Run elementwise work over N paths in a few threads, deterministically.

numba kernels compiled with ``nogil=True`` and numpy's random fills release the GIL, so a path range cut into
contiguous shards runs on several cores from plain Python threads. Each shard writes only its own slice and
(for random draws) uses its own generator, so the result never depends on the thread schedule: same seed,
same numbers, bit for bit, on any machine with any number of cores. The shard layout depends only on N.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor

__all__ = ["MIN_SHARD_PATHS", "NUM_SHARDS", "run_shards", "shard_bounds"]

#: Shards for large N (fixed, so results do not depend on the machine). Two matches the 2-core target
#: machine; more shards than cores still give the same numbers.
NUM_SHARDS = 2
#: Below this many paths per shard the thread hand-off costs more than it saves (measured, bench_vector_env).
MIN_SHARD_PATHS = 2048

_POOL: ThreadPoolExecutor | None = None


def _pool() -> ThreadPoolExecutor:
    global _POOL
    if _POOL is None:
        _POOL = ThreadPoolExecutor(
            max_workers=max(1, min(NUM_SHARDS, os.cpu_count() or 1)), thread_name_prefix="mmenv-shard"
        )
    return _POOL


def shard_bounds(n: int) -> list[tuple[int, int]]:
    """Contiguous [lo, hi) ranges covering 0..n: one range unless every shard gets MIN_SHARD_PATHS paths."""
    s = NUM_SHARDS if n >= NUM_SHARDS * MIN_SHARD_PATHS else 1
    cuts = [n * j // s for j in range(s + 1)]
    return [(cuts[j], cuts[j + 1]) for j in range(s)]


def run_shards(fn: Callable[[int, int, int], None], bounds: list[tuple[int, int]]) -> None:
    """Call ``fn(j, lo, hi)`` for every shard j: shard 0 in the calling thread, the others in the pool."""
    if len(bounds) == 1:
        lo, hi = bounds[0]
        fn(0, lo, hi)
        return
    futures = [_pool().submit(fn, j, lo, hi) for j, (lo, hi) in enumerate(bounds[1:], start=1)]
    lo, hi = bounds[0]
    fn(0, lo, hi)  # the first shard in the calling thread: one hand-off fewer
    for f in futures:
        f.result()
