"""Run elementwise work over N paths in a few threads, deterministically.

numba kernels compiled with ``nogil=True`` release the GIL, so a path range cut into contiguous shards runs
on several cores from plain Python threads. Each shard writes only its own slice and every random number is
addressed by (seed, path, episode, step, purpose) (:mod:`mmenv.counter_rng`), so the result never depends on
the shard layout, the thread count or the schedule: same seed, same numbers, bit for bit.

Threads: :func:`set_num_threads` (or the environment variable ``MMENV_NUM_THREADS`` at import), default the
machine's CPU count.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor

__all__ = [
    "MIN_SHARD_PATHS",
    "ShardChoice",
    "get_num_threads",
    "run_shards",
    "set_num_threads",
    "shard_bounds",
]

#: Below this many paths per shard the thread hand-off costs more than it saves (measured, bench_vector_env).
MIN_SHARD_PATHS = 2048

_POOL: ThreadPoolExecutor | None = None
_THREADS = 1


def set_num_threads(n: int) -> None:
    """Use up to ``n`` >= 1 threads for large N (the numbers do not depend on it)."""
    global _THREADS, _POOL
    if isinstance(n, bool) or int(n) != n or n < 1:
        raise ValueError(f"num_threads must be an integer >= 1, got {n!r}")
    if _POOL is not None and int(n) != _THREADS:
        _POOL.shutdown(wait=True)
        _POOL = None
    _THREADS = int(n)


def get_num_threads() -> int:
    """Threads used for large N."""
    return _THREADS


def _from_environment() -> int:
    raw = os.environ.get("MMENV_NUM_THREADS")
    if raw is None:
        return max(1, os.cpu_count() or 1)
    try:
        n = int(raw)
    except ValueError:
        raise ValueError(f"MMENV_NUM_THREADS must be an integer >= 1, got {raw!r}") from None
    if n < 1:
        raise ValueError(f"MMENV_NUM_THREADS must be an integer >= 1, got {raw!r}")
    return n


set_num_threads(_from_environment())


def _pool() -> ThreadPoolExecutor:
    global _POOL
    if _POOL is None:
        _POOL = ThreadPoolExecutor(max_workers=max(1, _THREADS - 1), thread_name_prefix="mmenv-shard")
    return _POOL


def _forget_pool_in_child() -> None:
    """A forked child has none of its parent's threads: work handed to the inherited pool would wait
    forever. The child drops it and starts its own on first use."""
    global _POOL
    _POOL = None


if hasattr(os, "register_at_fork"):  # POSIX
    os.register_at_fork(after_in_child=_forget_pool_in_child)


def shard_bounds(n: int, threads: int | None = None) -> list[tuple[int, int]]:
    """Contiguous [lo, hi) ranges covering 0..n: one per thread, each of at least MIN_SHARD_PATHS paths."""
    t = _THREADS if threads is None else int(threads)
    if t == 1 or n < 2 * MIN_SHARD_PATHS:  # the common small case, on the single env's hot path
        return [(0, n)]
    s = max(1, min(t, n // MIN_SHARD_PATHS))
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


class ShardChoice:
    """For a call repeated many times: run it on one thread or in shards, whichever measured faster.

    Threads pay off on idle cores and hurt when the cores are taken: a fork-join step of ~100 us whose
    helper thread waits behind other processes' time slices (or spins on the caller's core) takes
    milliseconds instead. The numbers never depend on the choice (each shard writes its own paths, every
    draw is addressed by its path), so the choice is free to follow the machine: a window of
    :attr:`WINDOW` calls alternates the two ways and times them (the very first two untimed: they start
    the thread pool); in between, the faster by its window minimum runs. Windows recur every
    :attr:`EVERY` calls, twice as far apart (up to :attr:`LONGEST`) each time the shards lose.
    """

    WINDOW = 8
    EVERY = 1024
    LONGEST = 1 << 16

    def __init__(self) -> None:
        self.calls = 0
        self.seconds = [float("inf"), float("inf")]  # one thread, shards: the last window's minimum
        self._window = [float("inf"), float("inf")]
        self._start = 2  # the first window (after two untimed warm-up calls)
        self._every = self.EVERY

    def pick(self) -> tuple[bool, bool]:
        """(use the shards, time this call)."""
        k = self.calls
        self.calls += 1
        if k < 2:  # warm-up: start the thread pool
            return k % 2 == 1, False
        if self._start <= k < self._start + self.WINDOW:
            return k % 2 == 1, True
        return self.seconds[1] < self.seconds[0], False

    def record(self, shards: bool, seconds: float) -> None:
        """The wall time of a timed call; the window's last call commits its minima."""
        j = int(shards)
        self._window[j] = min(self._window[j], seconds)
        if self.calls == self._start + self.WINDOW:
            self.seconds = self._window
            self._window = [float("inf"), float("inf")]
            lost = self.seconds[1] >= self.seconds[0]
            self._every = min(2 * self._every, self.LONGEST) if lost else self.EVERY
            self._start = self.calls + self._every
