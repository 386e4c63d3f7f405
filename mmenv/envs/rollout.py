"""Run a policy on N paths of the vector env and record everything the analytics need."""

from __future__ import annotations

import math
import warnings
from dataclasses import dataclass
from typing import Any

import numpy as np
from gymnasium.utils import seeding
from tqdm.auto import tqdm

from mmenv.config import MarketParams
from mmenv.counter_rng import det_log
from mmenv.envs.env import build_simulation
from mmenv.envs.vector_env import MarketMakingVectorEnv
from mmenv.jit import njit
from mmenv.markets.registry import has_kernel
from mmenv.policy import QuoteState
from mmenv.sim import market_kernels as mk
from mmenv.sim.fills import match_and_settle
from mmenv.sim.quote_rules import RULE_CODES, rule_depths
from mmenv.sim.shards import run_shards, shard_bounds

__all__ = ["TOTALS", "Rollout", "RolloutTotals", "clip_depth", "rollout", "rollout_many"]


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
    """Run ``policy`` for one episode on ``num_paths`` paths of :class:`mmenv.envs.vector_env.MarketMakingVectorEnv`.

    The env is built with ``action_mode="depth"``: the policy's depths are used exactly, never rescaled.
    Two calls with the same seed and market arguments see the same market paths (common random numbers)
    as long as the market's draws do not depend on the policy, which holds for the model market.

    Args:
        policy: an :class:`mmenv.policy.Policy`. num_paths: P. seed: seeds the env's generator.
        progress: show a tqdm bar over the steps. env_kwargs: arguments of the env (market parameters).
    """
    return _dispatch([policy], num_paths, seed, progress, env_kwargs)[0]


def rollout_many(
    policies: dict[str, Any],
    num_paths: int,
    seed: int,
    progress: bool = False,
    records: bool = True,
    **env_kwargs: Any,
) -> dict[str, Rollout] | dict[str, RolloutTotals]:
    """:func:`rollout` of several policies on the same market paths, in one simulation where possible.

    On the model market and its variants the G policies run side by side in one vector env of G *
    ``num_paths`` paths whose blocks share their draws (``crn_groups``, :class:`mmenv.markets.ModelMarket`):
    each result equals, bit for bit, ``rollout(policy, num_paths, seed, **env_kwargs)`` (tested), at a
    fraction of the cost. Other markets (tick replay) run one rollout per policy with the same seed.

    ``records=False`` returns :class:`RolloutTotals` (per-path totals, memory O(P) instead of O(P x steps));
    quote-rule policies on a kernel market accumulate them in the compiled loop without any record.
    """
    names = list(policies)
    if not names:
        raise ValueError(f"policies must name at least one policy, got {policies!r}")
    if not has_kernel(env_kwargs.get("market", "model")):
        outs = [rollout(policies[n], num_paths, seed, progress, **env_kwargs) for n in names]
    else:
        outs = _dispatch([policies[n] for n in names], num_paths, seed, progress, env_kwargs, records)
    if not records:
        clip = clip_depth(env_kwargs)
        outs = [o if isinstance(o, RolloutTotals) else RolloutTotals.from_rollout(o, clip) for o in outs]
    return dict(zip(names, outs, strict=True))


def clip_depth(env_kwargs: dict[str, Any]) -> float:
    """The depth below which the linear fill model clips lambda(d) dt at 1, ln(A dt) / k, for the market
    arguments ``env_kwargs`` (-inf for other fill models and markets): the market's own ``clip_depth``."""
    if not has_kernel(env_kwargs.get("market", "model")) or env_kwargs.get("fill_model") != "linear":
        return -math.inf
    names = set(MarketParams.field_names())
    with warnings.catch_warnings():  # the market warns about A dt > 1 itself
        warnings.simplefilter("ignore")
        params = MarketParams(**{k: v for k, v in env_kwargs.items() if k in names})
    return det_log(float(params.A) * float(params.dt)) / float(params.k)


def _dispatch(
    pols: list, num_paths: int, seed: int, progress: bool, env_kwargs: dict[str, Any], records: bool = True
) -> list[Rollout] | list[RolloutTotals]:
    """Quote-rule policies on a kernel market: one compiled pass; any other policy: the env loop."""
    rules = [_rule_of(p) for p in pols]
    if all(r is not None for r in rules) and _kernel_ready(env_kwargs):
        return _run_rules(rules, num_paths, seed, env_kwargs, records)
    return _run(pols, num_paths, seed, progress, env_kwargs)


def _rule_of(policy) -> tuple[int, np.ndarray] | None:
    """(rule code, rule parameters) of a policy the compiled loop can run (its ``quote_rule()``), or None."""
    get = getattr(policy, "quote_rule", None)
    rule = get() if callable(get) else None
    if rule is None:
        return None
    return RULE_CODES[rule.kind], rule.packed()


def _kernel_ready(env_kwargs: dict[str, Any]) -> bool:
    """The fused rollout covers the env's "pnl" reward and its default order size (the studies' setting)."""
    return env_kwargs.get("reward", "pnl") == "pnl" and has_kernel(env_kwargs.get("market", "model"))


def _run_rules(
    rules: list, num_paths: int, seed: int, env_kwargs: dict[str, Any], records: bool = True
) -> list[Rollout] | list[RolloutTotals]:
    """G quote rules on G blocks of ``num_paths`` paths in one compiled pass (:func:`rollout_kernel`).

    The same market, seed handling and per-step rule as the env route of :func:`_run` (the env's generator
    seeded by ``seed``, its key drawn at reset; the rule is :func:`mmenv.sim.quote_rules.rule_depths`, the
    agents' operations in their order), so the records are the same bit for bit (tested) at a fraction of the
    cost: each path runs its whole episode in one loop, with no Python step. ``records=False``: per-path
    totals only (:class:`RolloutTotals`).
    """
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
    codes = np.array([c for c, _ in rules], dtype=np.int64)  # one rule per block
    rps = np.array([rp for _, rp in rules], dtype=np.float64)
    # time-major records (a contiguous row per step: the kernel writes neighbouring paths side by side)
    width = p if records else 0
    states = np.empty((3, n + 1 if records else 0, width))  # mid, inventory, cash
    rec = np.empty((6, n if records else 0, width))  # bid, ask, bought, sold, fees, reward
    tot = np.empty((len(TOTALS), 0 if records else p))
    clip = -math.inf if m.clip_depth is None else m.clip_depth
    kind, mp, mst, k0, k1 = m.kernel_args()
    arrays = (mst, m.stream, m.episode, m.t, m.mid, m.sigma, codes, rps, st.q, st.cash, *states)
    tail = (core.q_max, core.order_size, core.fee_per_unit, core.fee_rate, m.dt, n, records, clip)

    def work(_: int, lo: int, hi: int) -> None:  # streams lo .. hi - 1 of every block
        rollout_kernel(kind, mp, mst, k0, k1, *arrays[1:], rec, *tail, tot, g, lo, hi)

    # shards over the streams (each carries all g blocks), sized by the whole work of g * num_paths paths
    run_shards(work, [(lo * num_paths // p, hi * num_paths // p) for lo, hi in shard_bounds(p)])
    blocks = [slice(j * num_paths, (j + 1) * num_paths) for j in range(g)]
    if not records:
        if m.clip_depth is not None:  # the linear fill model's warning, as the env gives it
            below = np.where(tot[TOTALS.index("clipped")] > 0, -math.inf, math.inf)
            core.warn_if_clipped(below, below)
        return [RolloutTotals(*(row[b] for row in tot), n_steps=n) for b in blocks]
    if m.clip_depth is not None:
        before = states[0][:-1]
        core.warn_if_clipped(before - rec[0], rec[1] - before)
    return _from_buffers(states, rec, blocks, m.dt, core)


@dataclass
class RolloutTotals:
    """Per-path totals of one episode on P paths: what a rollout gives without its records (memory O(P)).

    Attributes:
        pnl: (P,) final minus initial mark-to-market wealth, cash + q mid (price units).
        final_q: (P,) inventory at the end (units).
        fills: (P,) steps with a fill at the bid plus steps with a fill at the ask.
        spread_sum: (P,) sum of the quoted spreads ask - bid over the steps with both sides quoted (price
            units); quoted: (P,) the number of those steps.
        clipped: (P,) quotes (bid and ask counted apart) whose depth from the mid at quote time was below the
            linear fill model's clipping depth ln(A dt) / k (0 for other fill models).
        n_steps: steps per episode.
    """

    pnl: np.ndarray
    final_q: np.ndarray
    fills: np.ndarray
    spread_sum: np.ndarray
    quoted: np.ndarray
    clipped: np.ndarray
    n_steps: int

    @property
    def num_paths(self) -> int:
        """P."""
        return self.pnl.shape[0]

    @classmethod
    def from_rollout(cls, ro: Rollout, clip: float = -math.inf) -> RolloutTotals:
        """The totals of a recorded rollout; ``clip``: the market's clipping depth (-inf: none)."""
        before = ro.mid[:, :-1]
        spread = ro.ask - ro.bid
        live = np.isfinite(spread)
        return cls(
            pnl=ro.equity[:, -1] - ro.equity[:, 0],
            final_q=ro.inventory[:, -1].copy(),
            fills=(np.count_nonzero(ro.bought, axis=1) + np.count_nonzero(ro.sold, axis=1)).astype(float),
            spread_sum=np.where(live, spread, 0.0).sum(axis=1),
            quoted=live.sum(axis=1).astype(float),
            clipped=((before - ro.bid < clip).sum(axis=1) + (ro.ask - before < clip).sum(axis=1)) * 1.0,
            n_steps=ro.bid.shape[1],
        )


#: Per-path totals of a rollout without records (columns of :class:`RolloutTotals`' buffer).
TOTALS = ("pnl", "final_q", "fills", "spread_sum", "quoted", "clipped")


#: Streams per chunk and steps per window of the compiled rollout: the chunk's draws of a window (five
#: float64 per stream and step, 160 KiB) stay in the L2 cache while every block's paths run through them.
_STREAMS, _WINDOW = 64, 64


@njit(cache=True, nogil=True, error_model="numpy")
def rollout_kernel(
    kind,
    mp,
    mst,
    k0,
    k1,
    stream,
    episode,
    mt,
    mid_now,
    sigma,
    codes,
    rps,
    q,
    cash,
    rec_mid,
    rec_q,
    rec_cash,
    rec,
    q_max,
    size,
    fee_per_unit,
    fee_rate,
    dt,
    n_steps,
    keep,
    clip,
    tot,
    groups,
    s_lo,
    s_hi,
) -> None:
    """Whole episodes of quote-rule policies on streams ``s_lo .. s_hi - 1`` of each of the ``groups`` blocks
    of N / groups paths (blocks share their draws, ``crn_groups``: path g B + s of block g is stream s);
    block g quotes with rule ``codes[g]`` and parameters ``rps[g]``.

    Per chunk of streams and window of steps: the market's base draws (:func:`mmenv.sim.market_kernels.draw_chunk`,
    drawn once for every block), then path by path, its state in registers, step by step: the rule's depths
    (:func:`mmenv.sim.quote_rules.rule_depths` from q, T - t, the mid and sigma; the rule's own sigma when it has
    one), the market's interval (:func:`mmenv.sim.market_kernels.model_reach` on the model market,
    :func:`mmenv.sim.market_kernels.step_one` on the others), matching and accounting
    (:func:`mmenv.sim.fills.match_and_settle`). Paths are independent, so the order of the loops changes no number.

    With ``keep`` the records, time-major: ``rec_mid``, ``rec_q``, ``rec_cash`` (steps + 1, N); ``rec``
    (6, steps, N) bid, ask (NaN when not quoted), bought, sold, fees, reward (the P&L change). Without, only
    the per-path totals ``tot`` (len(TOTALS), N): the episode's P&L (final minus initial cash + q mid), the
    final q, the fills (steps with a fill at the bid plus steps with one at the ask), the sum of the quoted
    spreads ask - bid and the steps with both sides quoted, and the quotes whose depth from the mid at quote
    time is below ``clip`` (the linear fill model's clipping depth; -inf: none).
    """
    inf = math.inf
    model = kind == mk.MODEL
    block = q.shape[0] // groups
    width = max(1, min(_WINDOW, n_steps))
    draws = np.empty((5, width, _STREAMS))
    scratch = np.empty(_STREAMS)
    t_draw = np.empty(_STREAMS, dtype=np.int64)
    for lo in range(s_lo, s_hi, _STREAMS):
        m = min(_STREAMS, s_hi - lo)
        for g in range(groups):
            for j in range(m):
                i = g * block + lo + j
                if keep:
                    rec_mid[0, i], rec_q[0, i], rec_cash[0, i] = mid_now[i], q[i], cash[i]
                else:
                    tot[0, i] = cash[i] + q[i] * mid_now[i]
                    for c in range(2, tot.shape[0]):
                        tot[c, i] = 0.0
        for t0 in range(0, n_steps, width):
            w = min(width, n_steps - t0)
            # every block's path lo + j is stream lo + j at the same episode and step: one draw for all
            for j in range(m):
                t_draw[j] = mt[lo + j]
            for k in range(w):
                mk.draw_chunk(
                    mp,
                    k0,
                    k1,
                    stream[lo : lo + m],
                    episode[lo : lo + m],
                    t_draw,
                    0,
                    m,
                    draws[0, k],
                    draws[1, k],
                    draws[2, k],
                    draws[3, k],
                    draws[4, k],
                    scratch,
                )
                for j in range(m):
                    t_draw[j] += 1
            for g in range(groups):
                for j in range(m):
                    i = g * block + lo + j
                    code, rp, own = codes[g], rps[g], rps[g, 2]
                    q_i, cash_i, mid_i, t_i = q[i], cash[i], mid_now[i], mt[i]
                    if not keep:  # the running totals (one sum per path, in step order)
                        fills, spreads, quoted, clipped = tot[2, i], tot[3, i], tot[4, i], tot[5, i]
                    else:
                        fills, spreads, quoted, clipped = 0.0, 0.0, 0.0, 0.0
                    for k in range(w):
                        t = t0 + k
                        tau = (n_steps - t) * dt
                        db, da = rule_depths(code, rp, q_i, tau, mid_i, sigma[i] if own != own else own)
                        q_b = q_i
                        m_b = mid_i
                        w_b = cash_i + q_b * m_b
                        if model:
                            move, r_b, r_a = mk.model_reach(
                                mp,
                                draws[0, k, j],
                                draws[1, k, j],
                                draws[2, k, j],
                                draws[3, k, j],
                                draws[4, k, j],
                            )
                            mid_i = m_b + move
                        else:
                            mid_now[i] = m_b
                            r_b, r_a = mk.step_one(
                                kind,
                                mp,
                                mst,
                                i,
                                k0,
                                k1,
                                stream[i],
                                episode[i],
                                t_i,
                                mid_now,
                                sigma,
                                draws[0, k, j],
                                draws[1, k, j],
                                draws[2, k, j],
                                draws[3, k, j],
                                draws[4, k, j],
                            )
                            mid_i = mid_now[i]
                        t_i += 1
                        q_i, cash_i, bought, sold, fees, bid, ask = match_and_settle(
                            q_b, cash_i, m_b, db, da, r_b, r_a, inf, inf, q_max, size, fee_per_unit, fee_rate
                        )
                        mk.after_fills_one(kind, mst, i, bought, sold)
                        if keep:
                            rec[0, t, i], rec[1, t, i], rec[2, t, i] = bid, ask, bought
                            rec[3, t, i], rec[4, t, i] = sold, fees
                            rec[5, t, i] = (cash_i + q_i * mid_i) - w_b
                            rec_mid[t + 1, i], rec_q[t + 1, i], rec_cash[t + 1, i] = mid_i, q_i, cash_i
                        else:
                            fills += (bought != 0.0) + (sold != 0.0)
                            spread = ask - bid
                            if math.isfinite(spread):
                                spreads += spread
                                quoted += 1.0
                            clipped += (m_b - bid < clip) + (ask - m_b < clip)
                    q[i], cash[i], mid_now[i], mt[i] = q_i, cash_i, mid_i, t_i
                    if not keep:
                        tot[2, i], tot[3, i], tot[4, i], tot[5, i] = fills, spreads, quoted, clipped
        if not keep:
            for g in range(groups):
                for j in range(m):
                    i = g * block + lo + j
                    tot[0, i] = (cash[i] + q[i] * mid_now[i]) - tot[0, i]
                    tot[1, i] = q[i]


def _run(
    policies: list, num_paths: int, seed: int, progress: bool, env_kwargs: dict[str, Any]
) -> list[Rollout]:
    """The one rollout loop: G policies on G blocks of ``num_paths`` paths (common draws when G > 1)."""
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
