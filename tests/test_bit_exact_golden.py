"""Golden hashes of simulated paths: the cross-CPU determinism check.

The promise: same seed, same result, bit for bit, on any x86 or ARM CPU (AVX2 or AVX-512 alike). The
simulation draws its random numbers from a counter-based generator and computes every transcendental
function that feeds a simulated number (the draws' transforms, the fills, the CARA reward, the AS liquidity
term and reservation prices, the CJP / GLFT / exact-optimum depths) with :mod:`mmenv.counter_rng`'s
``det_*`` functions, built from correctly rounded IEEE-754 operations only, without fused multiply-add.

This test rolls out the vector env (64 paths, 50 steps, fixed seed) under (a) a constant action, (b) the
AS rule (finite and infinite horizon) and (c) the CJP policy, and compares the sha256 of the raw simulated
arrays (cash, inventory, mid and rewards of every step, as float64 bytes; no numpy reduction, whose
summation order may depend on the SIMD width) with constants committed here. The constants were computed
on one machine; CI runs on others (other CPU generations, AVX2 vs AVX-512, ARM), so a pass there is the
evidence that the numbers do not depend on the CPU, the thread count or the vector width.

If it fails:
* after a change that is meant to move simulated numbers (a new generator, a changed formula, a changed
  default), check the change, then recompute the constants (``python tests/test_bit_exact_golden.py``
  prints them) and commit them with the change;
* on a machine or platform where nothing changed in the code, determinism is broken: find the operation
  that differs (a libm / numpy transcendental in a simulation or policy path, ``fastmath`` or FMA
  contraction in a numba kernel, a reduction whose order depends on threads or SIMD width) and replace it
  with a deterministic one; do not just update the constants.
"""

from __future__ import annotations

import hashlib

import numpy as np
import pytest

from agents.avellaneda_stoikov import AvellanedaStoikovAgent
from agents.optimal import CJPAgent
from mmenv.envs.vector_env import MarketMakingVectorEnv

N, STEPS, SEED = 64, 50, 20260
MARKET = dict(s0=100.0, sigma=2.0, T=1.0, dt=0.02, A=140.0, k=1.5, q_max=10.0)

GOLDEN = {
    "constant": "78861f8283c0c86562e819dddd97c227cee2c8d8f4230e3a561bd9ee02e2d34b",
    "as_finite": "e872d71c959a743121907e6453cd6fd3f8776ddb2ce45491d4b19ece2bd12c46",
    "as_infinite": "d84145c6d173c8700105054d9c410d9a363e573d3638c4f94c29304f2c7e5e59",
    "cjp": "6c83f33a348d078cdb372ad8555f643f3cfa0c04c62a90f7fdf91ced2e684430",
}


def _policy(case: str):
    if case == "constant":
        return None
    if case == "as_finite":
        return AvellanedaStoikovAgent(gamma=0.1, k=1.5, sigma=2.0, q_max=10.0)
    if case == "as_infinite":
        return AvellanedaStoikovAgent(gamma=0.1, k=1.5, sigma=2.0, q_max=10.0, horizon="infinite")
    return CJPAgent(phi=0.05, alpha=0.01, A=140.0, k=1.5, T=1.0, dt=0.02, q_max=10.0)


#: The reward each case runs (the CARA reward's exponential and the penalized reward are covered too).
REWARD = {"constant": "pnl", "as_finite": "cara", "as_infinite": "pnl", "cjp": "penalized"}


def rollout_digest(case: str, num_threads: int | None = None) -> str:
    """sha256 of the raw per-step arrays (cash, inventory, mid, reward) of one rollout (float64 bytes)."""
    env = MarketMakingVectorEnv(
        num_envs=N,
        action_mode="depth",
        reward=REWARD[case],
        utility_gamma=0.05,
        info_keys=("cash", "inventory", "mid"),
        num_threads=num_threads,
        **MARKET,
    )
    policy = _policy(case)
    obs, _ = env.reset(seed=SEED)
    digest = hashlib.sha256()
    for _ in range(STEPS):
        if policy is None:
            action = np.full((N, 2), 0.7)
        else:
            action = policy.act(obs)
        obs, reward, _, _, info = env.step(action)
        for a in (info["cash"], info["inventory"], info["mid"], reward):
            digest.update(np.ascontiguousarray(a, dtype=np.float64).tobytes())
    env.close()
    return digest.hexdigest()


@pytest.mark.parametrize("num_threads", [1, 2])
@pytest.mark.parametrize("case", sorted(GOLDEN))
def test_rollout_hash_is_the_golden_one(case: str, num_threads: int) -> None:
    assert rollout_digest(case, num_threads) == GOLDEN[case], (
        f"simulated numbers of case {case!r} differ from the committed ones (module docstring: what to do)"
    )


def test_thread_count_from_the_environment_gives_the_same_hash(monkeypatch) -> None:
    monkeypatch.setenv("MMENV_NUM_THREADS", "2")
    assert rollout_digest("as_finite") == GOLDEN["as_finite"]


if __name__ == "__main__":  # print the constants (see the module docstring before replacing them)
    for name in sorted(GOLDEN):
        print(f'    "{name}": "{rollout_digest(name, 1)}",')
