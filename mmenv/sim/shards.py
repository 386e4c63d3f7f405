"""Run elementwise work over N paths in a few threads, deterministically.

numba kernels compiled with ``nogil=True`` release the GIL, so a path range cut into contiguous shards runs
on several cores from plain Python threads. Each shard writes only its own slice and every random number is
addressed by (seed, path, episode, step, purpose) (:mod:`mmenv.counter_rng`), so the result never depends on
the shard layout, the thread count or the schedule: same seed, same numbers, bit for bit.

Threads: :func:`set_num_threads` (or the environment variable ``MMENV_NUM_THREADS`` at import), default the
number of CPUs this process may run on (``os.sched_getaffinity``; the CPU count where that is unknown). A call
repeated many times (an env step) runs its shards only where they measure faster than one thread
(:class:`mmenv.sim.shard_choice.ShardChoice`). A single long call (a whole rollout of :mod:`mmenv.envs.rollout`)
always runs them: the pool's threads wait on a lock, without spinning, so a core taken by another process
slows the shard on it without stalling the others (measured on the 2-core development machine, AMD EPYC,
load 4-6: 100,000 AS paths in 2.8 s on two threads against 5.1 s on one beside one CPU-bound process, 5.9 s
against 7.5 s beside two).
"""

from __future__ import annotations

import os
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor

__all__ = [
    "MIN_SHARD_PATHS",
    "get_num_threads",
    "run_shards",
    "set_num_threads",
    "shard_bounds",
    "usable_cpus",
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


def usable_cpus() -> int:
    """The CPUs this process may run on (its affinity mask, a container's cpuset included), at least 1."""
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except (AttributeError, OSError):  # not Linux
        return max(1, os.cpu_count() or 1)


def _from_environment() -> int:
    raw = os.environ.get("MMENV_NUM_THREADS")
    if raw is None:
        return usable_cpus()
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
