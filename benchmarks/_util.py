"""Small helpers shared by the benchmark scripts: timing loops, peak memory, and the machine they ran on."""

from __future__ import annotations

import os
import platform
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


def cpu_model() -> str:
    """The CPU's model name: the first ``model name`` of ``/proc/cpuinfo`` (Linux), else ``platform``'s."""
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                key, _, value = line.partition(":")
                if key.strip() == "model name" and value.strip():
                    return value.strip()
    except OSError:
        pass
    return platform.processor() or platform.machine() or "unknown CPU"


def load() -> str:
    """The load average over 1, 5 and 15 minutes (runnable and waiting processes, ``os.getloadavg``)."""
    try:
        return "load {:.2f} {:.2f} {:.2f} (1/5/15 min)".format(*os.getloadavg())
    except OSError:
        return "load unknown"


def machine() -> str:
    """One line naming the machine a figure was measured on: CPU model, cores, load. Every benchmark prints
    it with its throughput, since a figure means little without it."""
    cores = os.cpu_count() or 1
    try:
        usable = len(os.sched_getaffinity(0))
    except (AttributeError, OSError):
        usable = cores
    own = "" if usable == cores else f", {usable} usable by this process"
    return f"machine: {cpu_model()}, {cores} cores{own}, {load()}"
