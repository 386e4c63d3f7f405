"""Small helpers shared by the benchmark scripts (timing loops, peak memory)."""

from __future__ import annotations

import resource
import time
from collections.abc import Callable


def rate(fn: Callable[[], int], min_seconds: float = 2.0, warmup: int = 1) -> float:
    """Call ``fn`` (which returns the units of work it did) for at least ``min_seconds``; units per second."""
    for _ in range(warmup):
        fn()
    done = 0
    t0 = time.perf_counter()
    while True:
        done += fn()
        elapsed = time.perf_counter() - t0
        if elapsed >= min_seconds:
            return done / elapsed


def peak_rss_mib() -> float:
    """Peak resident memory of this process so far (MiB)."""
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0
