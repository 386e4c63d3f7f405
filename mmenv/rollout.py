"""Run a policy on N paths of the vector env and record everything the analytics need."""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import numba as nb
import numpy as np

from mmenv import market_kernels as mk
from mmenv.core import match_and_settle
from mmenv.market_kernels import KINDS
from mmenv.quote_rules import RULE_CODES, rule_depths
from mmenv.shards import run_shards, shard_bounds

__all__ = ["Rollout", "rollout", "rollout_many"]


@dataclass
class Rollout:
    """Recorded episodes, struct of arrays. P paths, S steps; ``[:, 0]`` is the state at t = 0.

    Attributes:
        time: (S + 1,) time of each record (time units).
        mid, inventory, cash, equity: (P, S + 1) mid (price units), q (units), cash and cash + q mid.
        bid, ask: (P, S) quoted prices (NaN where not quoted). bought, sold: (P, S) units filled.
        fees: (P, S) fees paid. reward: (P, S) the env's reward. dt: decision interval.
        fee_per_unit, fee_rate: the fee settings of the run (to split a step's fees between its fills).
    """

    time: np.ndarray
    mid: np.ndarray
    inventory: np.ndarray
    cash: np.ndarray
    equity: np.ndarray
    bid: np.ndarray
    ask: np.ndarray
    bought: np.ndarray
    sold: np.ndarray
    fees: np.ndarray
    reward: np.ndarray
    dt: float
    fee_per_unit: float = 0.0
    fee_rate: float = 0.0

    @property
    def num_paths(self) -> int:
        """P."""
        return self.mid.shape[0]


def rollout(policy, num_paths: int, seed: int, progress: bool = False, **env_kwargs: Any) -> Rollout:
    """Run ``policy`` for one episode on ``num_paths`` paths of :class:`mmenv.vector_env.MarketMakingVectorEnv`.

    The env is built with ``action_mode="depth"``: the policy's depths are used exactly, never rescaled.
    Two calls with the same seed and market arguments see the same market paths (common random numbers)
    as long as the market's draws do not depend on the policy, which holds for the model market.

    Args:
        policy: an :class:`mmenv.policy.Policy`. num_paths: P. seed: seeds the env's generator.
        progress: show a tqdm bar over the steps. env_kwargs: arguments of the env (market parameters).
    """
    return _dispatch([policy], num_paths, seed, progress, env_kwargs)[0]


def rollout_many(
    policies: dict[str, Any], num_paths: int, seed: int, progress: bool = False, **env_kwargs: Any
) -> dict[str, Rollout]:
    """:func:`rollout` of several policies on the same market paths, in one simulation where possible.

    On the model market and its variants the G policies run side by side in one vector env of G *
    ``num_paths`` paths whose blocks share their draws (``crn_groups``, :class:`mmenv.markets.ModelMarket`):
    each result equals, bit for bit, ``rollout(policy, num_paths, seed, **env_kwargs)`` (tested), at a
    fraction of the cost. Other markets (tick replay) run one rollout per policy with the same seed.
    """
    names = list(policies)
    if not names:
        raise ValueError(f"policies must name at least one policy, got {policies!r}")
    if env_kwargs.get("market", "model") not in KINDS:
        return {n: rollout(policies[n], num_paths, seed, progress, **env_kwargs) for n in names}
    outs = _dispatch([policies[n] for n in names], num_paths, seed, progress, env_kwargs)
    return dict(zip(names, outs, strict=True))


def _dispatch(
    pols: list, num_paths: int, seed: int, progress: bool, env_kwargs: dict[str, Any]
) -> list[Rollout]:
    """Quote-rule policies on a kernel market: one compiled pass; any other policy: the env loop."""
    rules = [_rule_of(p) for p in pols]
    if all(r is not None for r in rules) and _kernel_ready(env_kwargs):
        return _run_rules(rules, num_paths, seed, env_kwargs)
    return _run(pols, num_paths, seed, progress, env_kwargs)


def _rule_of(policy) -> tuple[int, np.ndarray] | None:
    """(rule code, rule parameters) of a policy the compiled loop can run (its ``quote_rule()``), or None."""
    get = getattr(policy, "quote_rule", None)
    rule = get() if callable(get) else None
    if rule is None:
        return None
    return RULE_CODES[rule.kind], rule._params()


def _kernel_ready(env_kwargs: dict[str, Any]) -> bool:
    """The fused rollout covers the env's "pnl" reward and its default order size (the studies' setting)."""
    return env_kwargs.get("reward", "pnl") == "pnl" and env_kwargs.get("market", "model") in KINDS


def _run_rules(rules: list, num_paths: int, seed: int, env_kwargs: dict[str, Any]) -> list[Rollout]:
    """G quote rules on G blocks of ``num_paths`` paths in one compiled pass (:func:`rollout_kernel`).

    The same market, seed handling and per-step rule as the env route of :func:`_run` (the env's generator
    seeded by ``seed``, its key drawn at reset; the rule is :func:`mmenv.quote_rules.rule_depths`, the
    agents' operations in their order), so the records are the same bit for bit (tested) at a fraction of the
    cost: each path runs its whole episode in one loop, with no Python step.
    """
    from gymnasium.utils import seeding

    from mmenv.env import build_simulation

    g = len(rules)
    kwargs = {k: v for k, v in env_kwargs.items() if k not in ("reward", "phi", "alpha", "action_mode")}
    if g > 1:
        kwargs["crn_groups"] = g
    p = g * num_paths
    params, _, core = build_simulation(p, kwargs)
    rng, _ = seeding.np_random(seed)
    core.reset(rng)
    m, st = core.market, core.state
    n = core.n_steps
    codes = np.repeat(np.array([c for c, _ in rules], dtype=np.int64), num_paths)
    rps = np.repeat(np.array([rp for _, rp in rules], dtype=np.float64), num_paths, axis=0)
    # time-major records (a contiguous row per step: the kernel writes neighbouring paths side by side)
    states = np.empty((3, n + 1, p))  # mid, inventory, cash
    rec = np.empty((6, n, p))  # bid, ask, bought, sold, fees, reward
    mid = states[0]
    kind, mp, mst, k0, k1 = m.kernel_args()
    arrays = (mst, m.stream, m.episode, m.t, m.mid, m.sigma, codes, rps, st.q, st.cash, *states)
    tail = (core.q_max, core.order_size, core.fee_per_unit, core.fee_rate, m.dt, n)

    def work(_: int, lo: int, hi: int) -> None:
        a = [x[lo:hi] for x in arrays[:10]] + [x[:, lo:hi] for x in arrays[10:]]
        rollout_kernel(kind, mp, a[0], k0, k1, *a[1:], rec[:, :, lo:hi], *tail)

    run_shards(work, shard_bounds(p))
    if m.clip_depth is not None:  # the linear fill model's warning, as the env gives it
        before = mid[:-1]
        core._warn_if_clipped(before - rec[0], rec[1] - before)
    blocks = [slice(j * num_paths, (j + 1) * num_paths) for j in range(g)]
    return _from_buffers(states, rec, blocks, m.dt, core)


@nb.njit(cache=True, nogil=True, error_model="numpy")
def rollout_kernel(
    kind, mp, mst, k0, k1, stream, episode, mt, mid_now, sigma, codes, rps, q, cash, rec_mid, rec_q, rec_cash,
    rec, q_max, size, fee_per_unit, fee_rate, dt, n_steps,
) -> None:  # fmt: skip
    """Whole episodes of quote-rule policies, path by path: each step the rule's depths
    (:func:`mmenv.quote_rules.rule_depths` from q, T - t, the mid and sigma; the rule's own sigma when it
    has one), the market's interval (:func:`mmenv.market_kernels.step_one`), matching and accounting
    (:func:`mmenv.core.match_and_settle`) and the records, time-major: ``rec_mid``, ``rec_q``, ``rec_cash``
    (steps + 1, N); ``rec`` (6, steps, N) bid, ask (NaN when not quoted), bought, sold, fees, reward (the
    P&L change)."""
    inf = math.inf
    buf = np.empty((6, mk.CHUNK))
    n = q.shape[0]
    for lo in range(0, n, mk.CHUNK):
        m = min(mk.CHUNK, n - lo)
        for j in range(m):
            i = lo + j
            rec_mid[0, i], rec_q[0, i], rec_cash[0, i] = mid_now[i], q[i], cash[i]
        for t in range(n_steps):
            mk.draw_chunk(
                mp, k0, k1, stream, episode, mt, lo, m, buf[0], buf[1], buf[2], buf[3], buf[4], buf[5]
            )
            tau = (n_steps - t) * dt
            for j in range(m):
                i = lo + j
                own = rps[i, 2]
                db, da = rule_depths(codes[i], rps[i], q[i], tau, mid_now[i], sigma[i] if own != own else own)
                q_b = q[i]
                m_b = mid_now[i]
                w_b = cash[i] + q_b * m_b
                r_b, r_a = mk.step_one(
                    kind, mp, mst, i, k0, k1, stream[i], episode[i], mt[i], mid_now, sigma,
                    buf[0, j], buf[1, j], buf[2, j], buf[3, j], buf[4, j],
                )  # fmt: skip
                mt[i] += 1
                (q[i], cash[i], rec[2, t, i], rec[3, t, i], rec[4, t, i], rec[0, t, i], rec[1, t, i]) = (
                    match_and_settle(q_b, cash[i], m_b, db, da, r_b, r_a, inf, inf, q_max, size, fee_per_unit,
                                     fee_rate)
                )  # fmt: skip
                mk.after_fills_one(kind, mst, i, rec[2, t, i], rec[3, t, i])
                rec[5, t, i] = (cash[i] + q[i] * mid_now[i]) - w_b
                rec_mid[t + 1, i], rec_q[t + 1, i], rec_cash[t + 1, i] = mid_now[i], q[i], cash[i]


def _run(
    policies: list, num_paths: int, seed: int, progress: bool, env_kwargs: dict[str, Any]
) -> list[Rollout]:
    """The one rollout loop: G policies on G blocks of ``num_paths`` paths (common draws when G > 1)."""
    from mmenv.policy import QuoteState
    from mmenv.vector_env import MarketMakingVectorEnv

    g = len(policies)
    kwargs = {**env_kwargs, "action_mode": "depth"}
    if g > 1:
        kwargs["crn_groups"] = g
    keys = ("mid", "inventory", "cash", "bid", "ask", "bought", "sold", "fees")
    env = MarketMakingVectorEnv(num_envs=g * num_paths, info_keys=keys, **kwargs)
    _, info = env.reset(seed=seed)
    s0 = env.core.market.s0.copy()
    for pol in policies:
        pol.reset(num_paths)
    n = env.core.n_steps
    p = g * num_paths
    blocks = [slice(j * num_paths, (j + 1) * num_paths) for j in range(g)]
    # time-major buffers (a contiguous row per step), transposed to (P, steps) at the end
    states = np.empty((3, n + 1, p))  # mid, inventory, cash
    steps_rec = np.empty((6, n, p))  # bid, ask, bought, sold, fees, reward
    states[0, 0], states[1, 0], states[2, 0] = info["mid"], info["inventory"], info["cash"]
    steps = range(n)
    if progress:
        from tqdm.auto import tqdm

        name = "+".join(getattr(pol, "name", "policy") for pol in policies)
        steps = tqdm(steps, desc=name, leave=False)
    core = env.core
    depths = np.empty((p, 2))
    for j in steps:
        q, tau, mid, sigma = (
            core.state.q.copy(),
            core.time_remaining(),
            core.market.mid.copy(),
            core.market.sigma.copy(),
        )
        for pol, b in zip(policies, blocks, strict=True):
            depths[b, 0], depths[b, 1] = pol.quote(
                QuoteState(q=q[b], tau=tau[b], mid=mid[b], sigma=sigma[b], s0=s0[b])
            )
        _, r, _, _, info = env.step(depths)
        states[0, j + 1], states[1, j + 1], states[2, j + 1] = info["mid"], info["inventory"], info["cash"]
        rec = steps_rec[:, j]
        rec[0], rec[1], rec[2], rec[3], rec[4], rec[5] = (
            info["bid"],
            info["ask"],
            info["bought"],
            info["sold"],
            info["fees"],
            r,
        )
    np.copyto(steps_rec[:2], np.nan, where=np.isinf(steps_rec[:2]))  # info: +-inf = not quoted; here NaN
    return _from_buffers(states, steps_rec, blocks, env.core.market.dt, env.core)


def _from_buffers(
    states: np.ndarray, steps_rec: np.ndarray, blocks: list[slice], dt: float, core
) -> list[Rollout]:
    """One :class:`Rollout` per block of paths from the time-major buffers ``states`` (3, steps + 1, P: mid,
    inventory, cash) and ``steps_rec`` (6, steps, P: bid, ask, bought, sold, fees, reward), as views."""
    time = np.arange(states.shape[1]) * dt
    out = []
    for b in blocks:
        mid, inv, cash = (x[:, b].T for x in states)  # (P, steps) views of the time-major buffers
        bid, ask, bought, sold, fees, reward = (x[:, b].T for x in steps_rec)
        out.append(
            Rollout(
                time=time,
                mid=mid,
                inventory=inv,
                cash=cash,
                equity=cash + inv * mid,
                bid=bid,
                ask=ask,
                bought=bought,
                sold=sold,
                fees=fees,
                reward=reward,
                dt=dt,
                fee_per_unit=core.fee_per_unit,
                fee_rate=core.fee_rate,
            )
        )
    return out
