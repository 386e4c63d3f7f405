"""numba's threading layer for the sharded kernels: whether it suits, and a short spin-wait when it starts.

numba runs ``prange`` loops on its threading layer: TBB, OpenMP or, where neither is installed, its own
workqueue (https://numba.readthedocs.io/en/stable/user/threading-layer.html). On Linux the OpenMP layer is
GNU OpenMP (libgomp), whose threads do not sleep when they run out of work: a thread that finished its part
of a parallel region, or that waits for the next one, first spins for ``GOMP_SPINCOUNT`` iterations (300,000
by default when ``OMP_WAIT_POLICY`` is unset, https://gcc.gnu.org/onlinedocs/libgomp/GOMP_005fSPINCOUNT.html).
On the 2-core development machine (AMD EPYC) that is about 9 ms of CPU after every region, measured. The vector
env launches a region every 0.2 ms, so its helper thread never sleeps, and when another process wants a
core, the thread that waits at the end of a step spins while its partner sits behind that process's time
slice: the step takes a scheduler slice (milliseconds) instead of 0.2 ms.

This module therefore starts the layer with a short spin (:data:`WAIT_SETTINGS`: spin for about as long as
the gap between two steps of a vector env, then sleep), each variable only where the user has not set it,
and only while the layer starts: GNU OpenMP reads them once, when numba loads it, and the process's
environment is restored at once, so that other OpenMP runtimes loaded later (torch's own copy) see the
user's settings. Intel's OpenMP reads ``KMP_BLOCKTIME`` (milliseconds; 200 by default), TBB has no such
setting. Whether a step runs on the layer at all is decided by measurement
(:class:`mmenv.sim.shard_choice.ShardChoice`), which does not rely on the wait settings.
"""

from __future__ import annotations

import os
import threading
from collections.abc import Callable
from typing import TypeVar

import numba as nb
import numpy as np

from mmenv.jit import njit

__all__ = ["WAIT_SETTINGS", "launch", "parallel_layer_ok"]

#: OpenMP wait settings in force while numba's threading layer starts (each only where it is not set):
#: GNU OpenMP spins ``GOMP_SPINCOUNT`` iterations (about 0.2 ms on the development machine) before it
#: sleeps; Intel's OpenMP, ``KMP_BLOCKTIME`` milliseconds.
WAIT_SETTINGS = {"GOMP_SPINCOUNT": "3000", "KMP_BLOCKTIME": "1"}

R = TypeVar("R")

_LOCK = threading.Lock()
_LAYER_OK: bool | None = None
_LAYER_PID = 0


@njit(cache=True, nogil=True, parallel=True)
def _probe(x: np.ndarray) -> None:
    for i in nb.prange(x.shape[0]):
        x[i] = i


def _start_layer() -> str:
    """Launch numba's threading layer under :data:`WAIT_SETTINGS`, restore the environment; the layer's name."""
    added = {k: v for k, v in WAIT_SETTINGS.items() if k not in os.environ}
    os.environ.update(added)
    try:
        _probe(np.zeros(2))
        return nb.threading_layer()
    finally:
        for k in added:
            os.environ.pop(k, None)


def parallel_layer_ok() -> bool:
    """Whether numba's threading layer suits :func:`mmenv.sim.model_step.model_env_shards`: TBB or OpenMP
    (safe to launch from several Python threads at once, about a microsecond per launch). The workqueue
    layer, numba's fallback where neither is installed, is neither (a concurrent launch aborts the process),
    so callers then shard through :func:`mmenv.sim.shards.run_shards`. Decided once per process (the first
    launch picks the layer, under :data:`WAIT_SETTINGS`). A process forked after its parent started GNU
    OpenMP must not launch it again (numba terminates it), so there the answer is False as well."""
    global _LAYER_OK, _LAYER_PID
    if _LAYER_OK is None:
        with _LOCK:
            if _LAYER_OK is None:
                _LAYER_OK = _start_layer() in ("tbb", "omp")
                _LAYER_PID = os.getpid()
    if _LAYER_OK and _LAYER_PID != os.getpid() and nb.threading_layer() == "omp":
        return False  # a forked child of a process that runs GNU OpenMP
    return _LAYER_OK


def launch(kernel: Callable[[], R], shards: int) -> R:
    """Run ``kernel()`` (a launch of a ``prange`` over ``shards`` ranges) with a team of at most ``shards``
    threads, so that a machine with more cores than ranges wakes none of the others (each would spin for
    nothing). numba's team size is this thread's setting (``numba.set_num_threads``), restored after. Cut
    only where the pool is larger than the shards (``numba.set_num_threads`` costs about 10 us from Python;
    inside a compiled function it would keep the kernel out of numba's cache)."""
    if shards >= nb.config.NUMBA_NUM_THREADS:
        return kernel()
    team = nb.get_num_threads()
    if shards >= team:
        return kernel()
    nb.set_num_threads(shards)
    try:
        return kernel()
    finally:
        nb.set_num_threads(team)
