"""The one table of market kinds (mmenv.markets.registry): every kernel code has one row, every row builds
through the env, and the env accepts exactly each kind's own arguments."""

from __future__ import annotations

import gymnasium as gym
import numpy as np
import pytest

import mmenv
from mmenv.config import MarketParams
from mmenv.markets.model import Market
from mmenv.markets.registry import (
    MARKET_KINDS,
    MARKETS,
    VARIANT_KINDS,
    has_kernel,
    make_market,
    market_arguments,
)
from mmenv.sim import market_kernels as mk

P = MarketParams()


def test_every_kernel_code_has_exactly_one_row():
    codes = [row.kernel for row in MARKETS.values() if row.kernel is not None]
    assert sorted(codes) == list(mk.KERNEL_CODES)
    assert MARKET_KINDS == tuple(MARKETS)
    assert set(VARIANT_KINDS) == {n for n, r in MARKETS.items() if r.kernel not in (None, mk.MODEL)}
    assert all(row.name == name for name, row in MARKETS.items())


@pytest.mark.parametrize("kind", MARKET_KINDS)
def test_every_row_builds_a_market_that_runs_its_own_kernel(kind):
    market = make_market(kind, P, 2)
    assert isinstance(market, Market)
    assert getattr(market, "kernel_kind", None) == MARKETS[kind].kernel
    assert has_kernel(kind) == (MARKETS[kind].kernel is not None)


@pytest.mark.parametrize("kind", MARKET_KINDS)
def test_every_row_builds_through_the_single_and_the_vector_env(kind):
    env = gym.make(mmenv.ENV_ID, market=kind)
    obs, _ = env.reset(seed=0)
    obs, *_ = env.step(env.action_space.sample())
    assert env.observation_space.contains(obs)
    venv = gym.make_vec(mmenv.ENV_ID, num_envs=2, vectorization_mode="vector_entry_point", market=kind)
    obs, _ = venv.reset(seed=0)
    obs, *_ = venv.step(np.zeros((2, 2), dtype=np.float32))
    assert obs.shape == (2, 4)


@pytest.mark.parametrize("kind", MARKET_KINDS)
def test_the_env_accepts_each_kinds_arguments_and_no_other(kind):
    args = market_arguments(kind)
    assert "params" not in args and "num_paths" not in args
    assert "crn_groups" in args or not has_kernel(kind)
    other = sorted(set().union(*(market_arguments(k) for k in MARKET_KINDS)) - args)
    if other:
        with pytest.raises(TypeError, match=repr(other[0])):
            gym.make(mmenv.ENV_ID, market=kind, **{other[0]: 1.0})


def test_unknown_kinds_are_refused_naming_the_table():
    assert not has_kernel("nope")
    with pytest.raises(ValueError, match=r"market must be one of \['model', 'ticks'"):
        make_market("nope", P, 1)
    with pytest.raises(ValueError, match="market must be one of"):
        gym.make(mmenv.ENV_ID, market="nope")
