"""The Python thread pool of mmenv.sim.shards in a forked child: the child gets a pool of its own."""

from __future__ import annotations

import os
import time

import numpy as np
import pytest

from mmenv.sim import shards


@pytest.mark.skipif(not hasattr(os, "fork"), reason="os.fork is POSIX only")
def test_a_forked_child_runs_shards_after_the_parent_started_its_pool():
    """The child inherits the parent's pool object but none of its threads; before the fix, work handed to
    it waited forever (the whole test run hung in a fork test after another test had used the pool)."""
    threads = shards.get_num_threads()
    shards.set_num_threads(2)
    try:
        n = 2 * shards.MIN_SHARD_PATHS
        out = np.zeros(n)

        def work(j: int, lo: int, hi: int) -> None:
            out[lo:hi] = j + 1

        bounds = shards.shard_bounds(n)
        assert len(bounds) == 2
        shards.run_shards(work, bounds)  # the parent's pool is started
        pid = os.fork()
        if pid == 0:  # the child: any failure is a non-zero status
            try:
                out[:] = 0.0
                shards.run_shards(work, bounds)
                os._exit(0 if out[0] == 1.0 and out[-1] == 2.0 else 3)
            except BaseException:
                os._exit(4)
        deadline = time.monotonic() + 60.0
        while True:
            done, status = os.waitpid(pid, os.WNOHANG)
            if done:
                break
            if time.monotonic() > deadline:
                os.kill(pid, 9)
                os.waitpid(pid, 0)
                pytest.fail("the forked child hung handing work to its parent's thread pool")
            time.sleep(0.05)
        assert os.WIFEXITED(status) and os.WEXITSTATUS(status) == 0, status
    finally:
        shards.set_num_threads(threads)
