"""One thread or shards, call by call: the choice for a call repeated many times (an env step).

Why a choice at all: a sharded call is a fork-join. On idle cores it takes about half the time of one thread
(the vector env at N = 10,000 on two cores: about 0.19 ms a step against 0.31 ms). When another process
wants a core, the thread that finishes its shard first waits for a partner that sits behind the other
process's time slice (milliseconds), and with OpenMP's spin-waiting (:mod:`mmenv.sim.thread_layer`) it burns
its own core while it waits, so each step takes a scheduler slice instead of a fraction of a millisecond: on
the 2-core development machine (AMD EPYC) the always-sharded vector env fell from 53 M path-steps/s idle to
0.5-1 M with one other CPU-bound process, while one thread kept its full core. Only measurement on the
running machine tells the two cases apart, and the machine changes while a program runs.

How :class:`ShardChoice` decides (all times are wall-clock seconds of whole calls; the numbers never depend
on it, since each shard writes only its own paths and every draw is addressed by its path):

* It starts on **one thread**, which never loses to itself, and runs a **trial** after :attr:`FIRST`
  seconds: an untimed sharded call (it wakes the thread pool), then :attr:`PAIRS` pairs of blocks of
  :attr:`BLOCK` calls, one thread and shards alternating block by block, so both meet the same conditions.
  The first call of each block is not timed: it pays for the switch (a sharded call after a run on one
  thread finds the pool asleep and wakes it, a cost the running shards do not pay step after step). The
  shards win when the trimmed mean of their timed calls (the mean without the slowest :attr:`TRIM` share)
  is below :attr:`WIN` times one thread's. Trimmed: on idle cores of a virtual machine about one call in a
  hundred takes several times the usual (an interrupt, the host's own work), in either mode, and a dozen
  calls' plain mean swings with one of them; contention slows many sharded calls and still moves the
  trimmed mean, as it moves the throughput. The trial ends early, lost, when two sharded calls took more than :attr:`STUCK` one-thread calls (stuck behind another process's time slice)
  or when more than half of its sharded calls were slower than one thread's trimmed mean.
* A trial is only started when the CPUs this process may run on (``os.sched_getaffinity``) had, since the
  last look, at least :attr:`IDLE_SHARE` of a CPU idle for each helper thread (``/proc/stat``, the idle
  and iowait time of those CPUs; :class:`IdleCpus`). A busy machine costs no trial; where ``/proc/stat``
  is not readable, the trial alone decides.
* While the shards run, their calls are timed in windows of :attr:`WINDOW` calls: when a window's
  trimmed mean is above the one-thread time of the last trial, the shards stop and one thread runs. Calls stuck behind
  another process's time slice stop them within one window (the always-sharded env falls to a scheduler
  slice a step under contention, so a window costs a few tenths of a second at most); a slow call now and
  then on idle cores does not. A trial every :attr:`RECHECK` seconds refreshes the one-thread time.
* After a lost trial or a fall-back, the next trial waits :attr:`WAIT` seconds, twice as long after each
  further loss, up to :attr:`LONGEST`; a won trial resets the wait. Under lasting contention the trials
  cost a vanishing share of the time (two stuck sharded calls each at most, at growing intervals).
"""

from __future__ import annotations

import math
import os
import time
from collections.abc import Callable
from typing import TypeVar

from mmenv.sim.shards import usable_cpus

__all__ = ["IdleCpus", "ShardChoice"]

R = TypeVar("R")

ONE, TRIAL, SHARDS = "one", "trial", "shards"


class IdleCpus:
    """Idle CPUs since the previous call, over the CPUs this process may run on, from ``/proc/stat``.

    Each ``cpuN`` line of ``/proc/stat`` counts the time (in USER_HZ ticks) that CPU spent in user, nice,
    system, idle, iowait, irq, softirq and steal (then guest and guest_nice, already inside user and nice),
    per proc(5) (https://man7.org/linux/man-pages/man5/proc_stat.5.html). Over the CPUs of
    ``os.sched_getaffinity(0)`` (their numbers are the kernel's, in a container's cpuset as well), the idle
    CPUs of an interval are ``sum(d idle + d iowait) / sum(d total)`` times their count. A call returns that
    for the interval since the previous call: None on the first call, where ``/proc/stat`` is not readable,
    or when no tick has passed.

    Args:
        path: the file to read (a test points it at a file of its own).
    """

    def __init__(self, path: str = "/proc/stat") -> None:
        self.path = path
        self._last: tuple[int, int] | None = None

    def _read(self) -> tuple[int, int] | None:
        """(idle ticks, total ticks) summed over this process's CPUs, or None."""
        try:
            cpus = {f"cpu{c}" for c in os.sched_getaffinity(0)}
        except (AttributeError, OSError):
            cpus = None
        idle = total = 0
        try:
            with open(self.path) as f:
                for line in f:
                    if not line.startswith("cpu"):
                        break  # the cpu lines come first
                    name, *fields = line.split()
                    if name == "cpu" or (cpus is not None and name not in cpus):
                        continue
                    ticks = [int(x) for x in fields[:8]]
                    idle += ticks[3] + ticks[4]
                    total += sum(ticks)
        except (OSError, ValueError, IndexError):
            return None
        return (idle, total) if total > 0 else None

    def __call__(self) -> float | None:
        now = self._read()
        last, self._last = self._last, now
        if now is None or last is None or now[1] <= last[1]:
            return None
        return (now[0] - last[0]) / (now[1] - last[1]) * usable_cpus()


class ShardChoice:
    """Run a repeated call on one thread or in shards, whichever is faster on the machine as it is now.

    The decision rules are in the module's docstring. Use :meth:`run` for every call.

    Args:
        fixed: None (default) chooses by measurement; True always runs the shards, False always one thread
            (tests, benchmarks).
        clock: the clock, seconds (a test injects its own).
        idle: a callable returning the idle CPUs since its previous call, or None when unknown
            (default :class:`IdleCpus`; a test injects its own reading).

    Attributes:
        mode: "one", "trial" or "shards": what the next call runs.
        calls: [calls run on one thread, calls run in shards].
        trials: [trials won, trials lost]; fallbacks: times the shards stopped after a slow call; skipped:
            trials not started because the CPUs were busy.
        one_call: the one-thread time of a call in the last won trial (seconds, the trimmed mean of its timed calls; NaN before).
    """

    PAIRS = 8
    BLOCK = 4
    WIN = 0.95
    STUCK = 8.0
    WINDOW = 16
    TRIM = 0.125
    IDLE_SHARE = 0.5
    FIRST = 0.1
    WAIT = 0.25
    LONGEST = 32.0
    RECHECK = 2.0

    def __init__(
        self,
        fixed: bool | None = None,
        *,
        clock: Callable[[], float] = time.perf_counter,
        idle: Callable[[], float | None] | None = None,
    ) -> None:
        if fixed not in (None, True, False):
            raise ValueError(f"fixed must be None, True or False, got {fixed!r}")
        self.fixed = fixed
        self.clock = clock
        self.idle = IdleCpus() if idle is None else idle
        self.mode = ONE
        self.calls = [0, 0]
        self.trials = [0, 0]
        self.fallbacks = 0
        self.skipped = 0
        self.one_call = math.nan
        self._due: float | None = None  # when the next trial is due (None: before the first call)
        self._wait = self.WAIT
        self._window: list[float] = []  # seconds of the sharded calls of the current window
        self._k = 0  # calls into the current trial
        self._times: tuple[list[float], list[float]] = ([], [])  # the trial's timed calls: one, shards

    @property
    def shard_share(self) -> float:
        """The share of calls that ran in shards so far (NaN before any call)."""
        done = self.calls[0] + self.calls[1]
        return self.calls[1] / done if done else math.nan

    def run(self, one: Callable[[], R], shards: Callable[[], R], helpers: int = 1) -> R:
        """Call ``one()`` or ``shards()`` (the same work, one thread or ``helpers`` + 1 threads) as chosen,
        time it where the choice needs it, and return its result."""
        if self.fixed is not None:
            self.calls[self.fixed] += 1
            return shards() if self.fixed else one()
        now = self.clock()
        if self.mode == ONE:
            self._maybe_start_trial(now, helpers)
            if self.mode == ONE:
                self.calls[0] += 1
                return one()
        elif self.mode == SHARDS and now >= self._due:
            self._start_trial()
        if self.mode == TRIAL:
            return self._trial_call(one, shards)
        result = shards()
        self._window.append(self.clock() - now)
        self.calls[1] += 1
        if len(self._window) == self.WINDOW:
            slow = self._trimmed(self._window) > self.one_call
            self._window.clear()
            if slow:
                self.fallbacks += 1
                self._lose()
        return result

    def _maybe_start_trial(self, now: float, helpers: int) -> None:
        if self._due is None:  # the first call: the idle reading starts here
            self.idle()
            self._due = now + self.FIRST
            return
        if now < self._due:
            return
        idle = self.idle()
        if idle is not None and idle < self.IDLE_SHARE * helpers:
            self.skipped += 1
            self._due = now + self._wait  # a look costs nothing: the wait does not grow
            return
        self._start_trial()

    def _trimmed(self, xs: list[float]) -> float:
        """The mean of ``xs`` without its slowest ``floor(TRIM len(xs))`` values (seconds)."""
        keep = sorted(xs)[: len(xs) - int(self.TRIM * len(xs))]
        return sum(keep) / len(keep)

    def _start_trial(self) -> None:
        self.mode = TRIAL
        self._k = 0
        self._times = ([], [])

    def _trial_call(self, one: Callable[[], R], shards: Callable[[], R]) -> R:
        k = self._k
        self._k += 1
        if k == 0:  # wakes the pool: untimed
            self.calls[1] += 1
            return shards()
        block, pos = divmod(k - 1, self.BLOCK)
        sharded = block % 2 == 1  # blocks: one thread, shards, one thread, ...
        if pos == 0:  # the switch: untimed
            self.calls[sharded] += 1
            return shards() if sharded else one()
        t0 = self.clock()
        result = shards() if sharded else one()
        self._times[sharded].append(self.clock() - t0)
        self.calls[sharded] += 1
        if sharded:
            one_mean = self._trimmed(self._times[0])
            got = self._times[1]
            planned = self.PAIRS * (self.BLOCK - 1)
            stuck = sum(t > self.STUCK * one_mean for t in got)
            slower = sum(t > one_mean for t in got)
            if stuck >= 2 or 2 * slower > planned:
                self.trials[1] += 1
                self._lose()
            elif k == 2 * self.PAIRS * self.BLOCK:
                if self._trimmed(got) < self.WIN * one_mean:
                    self.trials[0] += 1
                    self._win(one_mean)
                else:
                    self.trials[1] += 1
                    self._lose()
        return result

    def _win(self, one_call: float) -> None:
        self.mode = SHARDS
        self.one_call = one_call
        self._window.clear()
        self._wait = self.WAIT
        self._due = self.clock() + self.RECHECK

    def _lose(self) -> None:
        self.mode = ONE
        self._due = self.clock() + self._wait
        self._wait = min(2.0 * self._wait, self.LONGEST)
        self.idle()  # the next look covers the time on one thread only
