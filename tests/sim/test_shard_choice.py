"""The choice between one thread and shards (mmenv.sim.shard_choice): its rules on injected timings and
idle readings (no timing luck), the /proc/stat reading, and the same numbers whatever it chooses."""

from __future__ import annotations

import math
import os

import numpy as np
import pytest

from mmenv.envs.vector_env import MarketMakingVectorEnv
from mmenv.sim.shard_choice import IdleCpus, ShardChoice
from mmenv.sim.shards import usable_cpus

T1 = 1e-3  # seconds: a one-thread call in these tests


class Machine:
    """A fake clock and two fake calls: ``one()`` takes ``t_one`` seconds of the clock, ``shards()`` the
    next of ``t_shards`` (a number, or a list consumed call by call, its last entry repeated)."""

    def __init__(self, t_shards, t_one: float = T1) -> None:
        self.now = 0.0
        self.t_one = t_one
        self.t_shards = list(t_shards) if isinstance(t_shards, (list, tuple)) else [t_shards]
        self.ran: list[str] = []

    def clock(self) -> float:
        return self.now

    def one(self) -> str:
        self.now += self.t_one
        self.ran.append("one")
        return "one"

    def shards(self) -> str:
        self.now += self.t_shards.pop(0) if len(self.t_shards) > 1 else self.t_shards[0]
        self.ran.append("shards")
        return "shards"


def choice(m: Machine, idle=lambda: None) -> ShardChoice:
    return ShardChoice(clock=m.clock, idle=idle)


def run_for(ch: ShardChoice, m: Machine, seconds: float) -> None:
    end = m.now + seconds
    while m.now < end:
        ch.run(m.one, m.shards)


def first_trial(ch: ShardChoice, m: Machine) -> None:
    """Run one thread up to the first trial, and the trial."""
    while ch.mode == "one":
        ch.run(m.one, m.shards)
    assert m.ran[-1] == "shards" and set(m.ran[:-1]) == {"one"}  # the trial's first call has run
    assert m.now - m.t_shards[0] >= ch.FIRST
    while ch.mode == "trial":
        ch.run(m.one, m.shards)


def test_it_starts_on_one_thread_and_takes_the_shards_when_a_trial_shows_them_faster():
    m = Machine(0.6 * T1)
    ch = choice(m)
    first_trial(ch, m)
    trial = m.ran[m.ran.index("shards") :]  # an untimed call that wakes the pool, then alternating blocks
    assert trial == ["shards"] + (["one"] * ch.BLOCK + ["shards"] * ch.BLOCK) * ch.PAIRS
    assert ch.mode == "shards" and ch.trials == [1, 0] and ch.one_call == pytest.approx(T1)
    m.ran.clear()
    run_for(ch, m, 0.5 * ch.RECHECK)
    assert set(m.ran) == {"shards"}


def test_a_trial_the_shards_lose_keeps_one_thread_and_the_wait_doubles():
    m = Machine(1.2 * T1)  # slower: a contended machine
    ch = choice(m)
    first_trial(ch, m)
    assert ch.mode == "one" and ch.trials == [0, 1]
    starts = []
    for _ in range(12):  # the later trials: each one further off, up to LONGEST
        m.ran.clear()
        t0 = m.now
        while ch.mode == "one":
            ch.run(m.one, m.shards)
        starts.append(m.now - t0)
        while ch.mode == "trial":
            ch.run(m.one, m.shards)
    waits = [ch.WAIT * 2**j for j in range(12)]
    expected = [min(w, ch.LONGEST) for w in waits]
    assert starts == pytest.approx(expected, abs=3 * T1)  # to the call: a call lasts T1 to 1.2 T1
    assert ch.trials == [0, 13]


def test_a_sharded_call_stuck_behind_another_process_ends_the_trial_at_once():
    m = Machine(30 * T1)  # each sharded call waits a scheduler slice
    ch = choice(m)
    first_trial(ch, m)
    trial = m.ran[m.ran.index("shards") :]
    # the wake-up call, a block on one thread, and the shards' block: its untimed switch and two stuck calls
    assert trial == ["shards"] + ["one"] * ch.BLOCK + ["shards"] * 3
    assert ch.trials == [0, 1] and ch.mode == "one"


WON = [0.6 * T1] * (1 + ShardChoice.PAIRS * ShardChoice.BLOCK)  # the sharded calls of a won trial


def test_the_shards_stop_after_a_window_of_calls_stuck_behind_another_process():
    w = ShardChoice.WINDOW
    m = Machine(WON + [0.6 * T1] * (3 * w + 2) + [20 * T1] * (w - 2) + [0.6 * T1])
    ch = choice(m)
    first_trial(ch, m)
    assert ch.mode == "shards"
    m.ran.clear()
    while ch.mode == "shards":
        ch.run(m.one, m.shards)
    # the fourth window holds 2 fast calls and 14 stuck ones: its trimmed mean is slow
    assert m.ran.count("shards") == 4 * w and ch.fallbacks == 1
    t0 = m.now
    while ch.mode == "one":  # the next trial after WAIT
        ch.run(m.one, m.shards)
    assert m.now - t0 == pytest.approx(ch.WAIT, abs=2 * T1)


def test_a_run_of_slightly_slower_calls_stops_the_shards_after_one_window():
    m = Machine([*WON, 1.2 * T1])
    ch = choice(m)
    first_trial(ch, m)
    m.ran.clear()
    while ch.mode == "shards":
        ch.run(m.one, m.shards)
    assert m.ran.count("shards") == ch.WINDOW and ch.fallbacks == 1


def test_an_isolated_slow_call_among_fast_ones_does_not_stop_the_shards():
    m = Machine(WON + ([0.6 * T1] * 7 + [5 * T1]) * 40 + [0.6 * T1])  # one call in 8 takes 5 T1
    ch = choice(m)
    first_trial(ch, m)
    run_for(ch, m, 0.9 * ch.RECHECK)
    assert ch.mode == "shards" and ch.fallbacks == 0


def test_the_trials_recur_while_the_shards_run():
    m = Machine(0.6 * T1)
    ch = choice(m)
    first_trial(ch, m)
    run_for(ch, m, 3.5 * ch.RECHECK)
    assert ch.trials == [4, 0] and ch.mode == "shards"


def test_busy_cpus_cost_no_trial_and_idle_ones_start_one():
    readings = []

    def idle() -> float | None:
        readings.append(level)
        return level

    m = Machine(0.6 * T1)
    ch = choice(m, idle)
    level = 0.3  # below IDLE_SHARE of a CPU for the one helper
    run_for(ch, m, 2.0)
    assert set(m.ran) == {"one"} and ch.trials == [0, 0]
    assert ch.skipped == len(readings) - 1 >= 2.0 / ch.WAIT - 1  # the first reading only starts them
    level = 1.0
    run_for(ch, m, ch.WAIT + 0.1)
    assert ch.trials == [1, 0] and ch.mode == "shards"
    m.ran.clear()
    ch.run(m.one, m.shards, helpers=3)  # a trial is only due after RECHECK: the idle gate is not read
    assert m.ran == ["shards"]


def test_the_gate_needs_idle_cpu_for_each_helper():
    m = Machine(0.6 * T1)
    ch = choice(m, lambda: 1.2)
    end = m.now + 1.0
    while m.now < end:
        ch.run(m.one, m.shards, helpers=3)  # 1.2 idle CPUs for three helpers: no trial
    assert ch.trials == [0, 0] and ch.skipped > 0


def test_fixed_choices_and_bad_arguments():
    m = Machine(0.6 * T1)
    for fixed, name in ((True, "shards"), (False, "one")):
        ch = ShardChoice(fixed, clock=m.clock)
        assert [ch.run(m.one, m.shards) for _ in range(3)] == [name] * 3
        assert ch.calls == ([0, 3] if fixed else [3, 0]) and ch.shard_share == (1.0 if fixed else 0.0)
    with pytest.raises(ValueError, match="fixed must be None, True or False, got 'yes'"):
        ShardChoice("yes")
    assert math.isnan(ShardChoice().shard_share)


def _stat(tmp_path, rows: dict[int, list[int]]) -> str:
    lines = ["cpu  " + " ".join(str(sum(r[j] for r in rows.values())) for j in range(10))]
    lines += [f"cpu{c} " + " ".join(map(str, r)) for c, r in rows.items()]
    lines += ["intr 12 0 0", "ctxt 99", "procs_running 3"]
    path = tmp_path / "stat"
    path.write_text("\n".join(lines) + "\n")
    return str(path)


def test_idle_cpus_from_proc_stat_over_the_cpus_of_this_process(tmp_path):
    mine = sorted(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else [0]
    other = max(mine) + 1  # not ours: ignored
    # user nice system idle iowait irq softirq steal guest guest_nice
    before = {c: [100, 0, 50, 800, 50, 0, 0, 0, 7, 0] for c in mine} | {other: [0] * 10}
    after = {c: [150, 0, 60, 860, 70, 0, 0, 10, 9, 0] for c in mine} | {
        other: [900, 0, 0, 0, 0, 0, 0, 0, 0, 0]
    }
    idle = IdleCpus(_stat(tmp_path, before))
    assert idle() is None  # the first reading only starts the interval
    idle.path = _stat(tmp_path, after)
    # per CPU: idle + iowait grew by 80 of 150 ticks (guest is inside user, not counted twice)
    assert idle() == pytest.approx(80 / 150 * usable_cpus())
    assert idle() is None  # no tick since
    idle.path = str(tmp_path / "missing")
    assert idle() is None


class Scripted(ShardChoice):
    """The default choice on the real kernels, timed by a :class:`Machine`: each call adds its scripted
    seconds to the fake clock before it runs."""

    def __init__(self, machine: Machine | None = None) -> None:
        super().__init__(clock=lambda: self.machine.now, idle=lambda: 1.0)
        self.machine = machine

    def run(self, one, shards, helpers=1):
        m = self.machine
        return super().run(lambda: (m.one(), one())[1], lambda: (m.shards(), shards())[1], helpers)


@pytest.mark.parametrize("market", ["model", "impact"])
def test_the_numbers_are_one_threads_whatever_the_choice(market):
    """The default choice driven through a won trial, a fall-back after a slow call, a lost trial and a won
    one again by scripted timings: the vector env gives one thread's numbers bit for bit, on the model
    market's step (numba's pool) and on the fused step of the other kinds (the Python pool)."""
    n, steps = 5000, 120
    a = np.random.default_rng(3).uniform(-1.1, 1.1, (n, 2)).astype(np.float32)
    ch = Scripted(None)
    ch.PAIRS, ch.BLOCK, ch.WINDOW = 4, 2, 4  # short trials and windows: the story fits in a few steps
    win = [0.6 * T1] * (1 + ch.PAIRS * ch.BLOCK)
    lost = [1.2 * T1] * 7  # the wake-up call, then three blocks of two: three of four timed calls slower
    ch.machine = Machine(win + [20 * T1] * ch.WINDOW + lost + win)
    one = MarketMakingVectorEnv(num_envs=n, num_threads=1, market=market, T=0.05, dt=0.005)
    two = MarketMakingVectorEnv(num_envs=n, num_threads=2, market=market, T=0.05, dt=0.005)
    two.core.shard_choice = ch
    ch.FIRST, ch.WAIT, ch.LONGEST, ch.RECHECK = 0.0, 2 * T1, 4 * T1, 1.0  # trials after a few steps
    for e in (one, two):
        e.reset(seed=11)
    for _ in range(steps):
        for x, y in zip(one.step(a)[:4], two.step(a)[:4], strict=True):
            np.testing.assert_array_equal(x, y)
    assert ch.trials == [2, 1] and ch.fallbacks == 1 and ch.mode == "shards"
    assert ch.calls[0] > 0 and ch.calls[1] > 0 and sum(ch.calls) == steps


def test_a_slow_call_now_and_then_does_not_lose_a_trial_but_many_do():
    """The trimmed mean: one sharded call in eight at 5 T1 (noise of idle cores) still wins; one in three
    stuck at 20 T1 (another process's time slices) loses."""
    m = Machine(([0.6 * T1] * 7 + [5 * T1]) * 20)
    ch = choice(m)
    first_trial(ch, m)
    assert ch.trials == [1, 0] and ch.mode == "shards"
    m = Machine(([0.6 * T1] * 2 + [20 * T1]) * 30)
    ch = choice(m)
    ch.STUCK = 100.0  # the stuck-call rule off: the trimmed mean alone decides
    first_trial(ch, m)
    assert ch.trials == [0, 1] and ch.mode == "one"
