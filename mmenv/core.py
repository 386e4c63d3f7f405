"""The simulation core: quotes against order flow, fills, inventory and cash, for N paths at once.

One matching-and-accounting rule serves the single env, the vector env and the backtester:

* Hard inventory limit: the bid is live only if ``q + size <= q_max`` and the ask only if
  ``q - size >= -q_max``; a NaN or +inf depth means "no quote" on that side.
* Fill rule: a live ask at depth ``delta_a = ask - s`` is filled iff the buy side of the order flow reached
  depth ``>= delta_a`` during the interval (a buyer-initiated trade at a price >= ask); a live bid at depth
  ``delta_b = s - bid`` iff the sell side reached ``>= delta_b``. In the Avellaneda-Stoikov model the reach
  of the most aggressive market order in dt is Gumbel, ``P(reach >= d) = 1 - exp(-A e^{-k d} dt)``
  (AS 2008 eqs. 2.10-2.12), so this rule is exactly the Poisson fill model (see :mod:`mmenv.markets`).
* Fills happen at the quoted price, ``min(size, available)`` units, with fees
  ``fee_per_unit * units + fee_rate * notional`` (negative fees are rebates).
* Accounting: buying ``b`` at the bid and selling ``a`` at the ask gives ``q += b - a`` and
  ``cash += a * ask - b * bid - fees``.

The per-fill rule is one numba function, :func:`match_and_settle`, on scalars; :func:`step_paths` applies it
to every path (struct of arrays, updated in place) and the backtester calls it once per event. Its plain
Python twin (``match_and_settle.py_func``) is the readable reference. numba was chosen by measurement:
``benchmarks/bench_core.py`` prints the numpy and numba variants side by side.
"""

from __future__ import annotations

import math
import warnings
from dataclasses import dataclass

import numba as nb
import numpy as np

from mmenv.shards import run_shards, shard_bounds
from mmenv.task import action_to_depth_one, observe_one, reward_one

__all__ = [
    "CoreState",
    "SimulationCore",
    "StepResult",
    "env_step_paths",
    "match_and_settle",
    "observe_paths",
    "step_paths",
]

_EPS = 1e-9


@nb.njit(cache=True, inline="always")
def match_and_settle(
    q: float,
    cash: float,
    mid: float,
    bid_depth: float,
    ask_depth: float,
    reach_bid: float,
    reach_ask: float,
    avail_bid: float,
    avail_ask: float,
    q_max: float,
    size: float,
    fee_per_unit: float,
    fee_rate: float,
) -> tuple[float, float, float, float, float, float, float]:
    """Apply the hard limit, match both quotes against the order flow and settle the fills.

    Args:
        q, cash: inventory (units) and cash (price units) before the interval.
        mid: mid-price at quote time (price units).
        bid_depth, ask_depth: quote depths from the mid (price units); NaN or +inf means no quote.
        reach_bid, reach_ask: depth reached by sellers / buyers in the interval (-inf: nobody came).
        avail_bid, avail_ask: units the flow can give each side (inf in the model market).
        q_max: hard inventory limit (units); size: order size (units).
        fee_per_unit: fee per unit traded; fee_rate: fee per unit of notional (negative: rebates).

    Returns:
        (q, cash, bought, sold, fees, bid_price, ask_price): the new inventory and cash, units bought
        at the bid and sold at the ask, fees paid, and the live quote prices (NaN where not quoted).
    """
    bid_live = (q + size <= q_max + _EPS) and (bid_depth < math.inf)  # NaN or +inf: no quote
    ask_live = (q - size >= -q_max - _EPS) and (ask_depth < math.inf)
    bid_price = mid - bid_depth if bid_live else math.nan
    ask_price = mid + ask_depth if ask_live else math.nan
    bought = min(size, avail_bid) if (bid_live and reach_bid >= bid_depth) else 0.0
    sold = min(size, avail_ask) if (ask_live and reach_ask >= ask_depth) else 0.0
    notional = 0.0
    flow = 0.0
    if bought > 0.0:
        notional += bought * bid_price
        flow -= bought * bid_price
    if sold > 0.0:
        notional += sold * ask_price
        flow += sold * ask_price
    fees = fee_per_unit * (bought + sold) + fee_rate * notional
    return q + bought - sold, cash + flow - fees, bought, sold, fees, bid_price, ask_price


@nb.njit(cache=True)
def step_paths(
    q: np.ndarray,
    cash: np.ndarray,
    mid: np.ndarray,
    bid_depth: np.ndarray,
    ask_depth: np.ndarray,
    reach_bid: np.ndarray,
    reach_ask: np.ndarray,
    q_max: float,
    size: float,
    fee_per_unit: float,
    fee_rate: float,
    bought: np.ndarray,
    sold: np.ndarray,
    fees: np.ndarray,
    bid_price: np.ndarray,
    ask_price: np.ndarray,
) -> None:
    """:func:`match_and_settle` on every path; ``q`` and ``cash`` and the output arrays are written in place."""
    inf = math.inf
    for i in range(q.shape[0]):
        (q[i], cash[i], bought[i], sold[i], fees[i], bid_price[i], ask_price[i]) = match_and_settle(
            q[i],
            cash[i],
            mid[i],
            bid_depth[i],
            ask_depth[i],
            reach_bid[i],
            reach_ask[i],
            inf,
            inf,
            q_max,
            size,
            fee_per_unit,
            fee_rate,
        )


#: Columns of the per-step output of :func:`env_step_paths` (and of :meth:`SimulationCore.env_step`).
OUT_NAMES = (
    "bid_depth",
    "ask_depth",
    "bid",
    "ask",
    "bought",
    "sold",
    "fees",
    "reward",
    "terminated",
    "cash",
    "inventory",
    "mid",
    "equity",
    "time",
)
OUT_COLUMNS = len(OUT_NAMES)


def _env_step_paths(
    action: np.ndarray,
    normalized: bool,
    min_depth: float,
    max_depth: float,
    q: np.ndarray,
    cash: np.ndarray,
    step: np.ndarray,
    mid_before: np.ndarray,
    mid_after: np.ndarray,
    s0: np.ndarray,
    sigma: np.ndarray,
    w0: np.ndarray,
    reach_bid: np.ndarray,
    reach_ask: np.ndarray,
    q_max: float,
    size: float,
    fee_per_unit: float,
    fee_rate: float,
    dt: float,
    n_steps: int,
    reward_code: int,
    phi: float,
    alpha: float,
    eta: float,
    out: np.ndarray,
    obs: np.ndarray,
) -> None:
    """One env step on every path: action map, :func:`match_and_settle`, reward and observation.

    ``out`` (N, OUT_COLUMNS) receives, in the order of :data:`OUT_NAMES`, bid_depth, ask_depth, bid_price,
    ask_price, bought, sold, fees, reward, terminated (0/1), and the state after the step: cash, inventory,
    mid, equity and time; ``obs`` (N, 4) float32 the next observation. State arrays are updated in place.
    """
    inf = math.inf
    for i in range(q.shape[0]):
        db, da = action_to_depth_one(action[i, 0], action[i, 1], normalized, min_depth, max_depth)
        q_b = q[i]
        w_b = cash[i] + q_b * mid_before[i]
        (q[i], cash[i], out[i, 4], out[i, 5], out[i, 6], out[i, 2], out[i, 3]) = match_and_settle(
            q_b,
            cash[i],
            mid_before[i],
            db,
            da,
            reach_bid[i],
            reach_ask[i],
            inf,
            inf,
            q_max,
            size,
            fee_per_unit,
            fee_rate,
        )
        step[i] += 1
        terminal = step[i] >= n_steps
        w_a = cash[i] + q[i] * mid_after[i]
        out[i, 0] = db
        out[i, 1] = da
        out[i, 7] = reward_one(reward_code, w_b, w_a, q_b, q[i], dt, terminal, w0[i], phi, alpha, eta)
        out[i, 8] = 1.0 if terminal else 0.0
        out[i, 9] = cash[i]
        out[i, 10] = q[i]
        out[i, 11] = mid_after[i]
        out[i, 12] = w_a
        out[i, 13] = step[i] * dt
        observe_one(obs[i], q[i], (n_steps - step[i]) * dt, mid_after[i] - s0[i], sigma[i])


#: The compiled kernel; GIL-free, so :meth:`SimulationCore.env_step` runs shards of a large N in threads
#: (each path is independent: the result does not depend on the sharding).
env_step_paths = nb.njit(cache=True, nogil=True)(_env_step_paths)


@nb.njit(cache=True)
def observe_paths(
    q: np.ndarray,
    step: np.ndarray,
    n_steps: int,
    dt: float,
    mid: np.ndarray,
    s0: np.ndarray,
    sigma: np.ndarray,
    obs: np.ndarray,
) -> None:
    """Observations of every path into the float32 (N, 4) array ``obs`` (see :mod:`mmenv.task`)."""
    for i in range(q.shape[0]):
        observe_one(obs[i], q[i], (n_steps - step[i]) * dt, mid[i] - s0[i], sigma[i])


@dataclass
class CoreState:
    """Struct of arrays of the trader's state, one entry per path.

    Attributes:
        q: inventory (units), float64 (N,).
        cash: cash (price units), float64 (N,).
        step: decision steps taken in the current episode, int64 (N,).
    """

    q: np.ndarray
    cash: np.ndarray
    step: np.ndarray


@dataclass
class StepResult:
    """What happened on every path during one decision interval (arrays of shape (N,)).

    Attributes:
        mid_before, mid_after: mid at quote time and at the end of the interval (price units).
        bid_price, ask_price: live quotes (NaN where not quoted, e.g. at the inventory limit).
        bought, sold: units filled at the bid and at the ask.
        fees: fees paid (price units; negative for rebates).
        reach_bid, reach_ask: depth reached by the sell / buy side of the flow (price units).
    """

    mid_before: np.ndarray
    mid_after: np.ndarray
    bid_price: np.ndarray
    ask_price: np.ndarray
    bought: np.ndarray
    sold: np.ndarray
    fees: np.ndarray
    reach_bid: np.ndarray
    reach_ask: np.ndarray


class SimulationCore:
    """N paths of a market maker quoting into a :class:`mmenv.markets.Market`.

    Args:
        market: the market source (mid process and order-flow reach), with ``num_paths`` paths.
        q_max: hard inventory limit (units). order_size: units per fill.
        fee_per_unit, fee_rate: fees per unit and per unit of notional (negative: rebates).
        q0: initial inventory (units).
    """

    def __init__(
        self,
        market,
        *,
        q_max: float,
        order_size: float = 1.0,
        fee_per_unit: float = 0.0,
        fee_rate: float = 0.0,
        q0: float = 0.0,
    ) -> None:
        self.market = market
        self.num_paths = int(market.num_paths)
        self.q_max = float(q_max)
        self.order_size = float(order_size)
        self.fee_per_unit = float(fee_per_unit)
        self.fee_rate = float(fee_rate)
        self.q0 = float(q0)
        n = self.num_paths
        self.state = CoreState(q=np.full(n, self.q0), cash=np.zeros(n), step=np.zeros(n, dtype=np.int64))
        self._clip_warned = False
        self.market_clips = getattr(market, "clip_depth", None) is not None
        #: Optional market hook ``on_fills(bought, sold)`` called after matching (e.g. the impact of our
        #: own fills on the next interval's mid, :mod:`mmenv.market_variants`).
        self._on_fills = getattr(market, "on_fills", None)
        self._bounds = shard_bounds(self.num_paths)

    @classmethod
    def from_params(cls, market, params) -> SimulationCore:
        """The core over ``market`` with the trader's settings of a :class:`mmenv.config.MarketParams`."""
        return cls(
            market,
            q_max=params.q_max,
            order_size=params.order_size,
            fee_per_unit=params.fee_per_unit,
            fee_rate=params.fee_rate,
            q0=params.q0,
        )

    @property
    def n_steps(self) -> int:
        """Decision steps per episode."""
        return int(self.market.n_steps)

    def reset(self, rng: np.random.Generator, mask: np.ndarray | None = None) -> None:
        """Start new episodes on the paths in ``mask`` (all paths if None)."""
        self.market.reset(rng, mask)
        st = self.state
        if mask is None:
            st.q[:] = self.q0
            st.cash[:] = 0.0
            st.step[:] = 0
        else:
            st.q[mask] = self.q0
            st.cash[mask] = 0.0
            st.step[mask] = 0

    def time_remaining(self) -> np.ndarray:
        """T - t for every path (time units)."""
        m = self.market
        return (m.n_steps - self.state.step) * m.dt

    def equity(self, mid: np.ndarray | None = None) -> np.ndarray:
        """Mark-to-market wealth cash + q * mid (price units)."""
        mid = self.market.mid if mid is None else mid
        return self.state.cash + self.state.q * mid

    def _warn_if_clipped(self, bid_depth: np.ndarray, ask_depth: np.ndarray) -> None:
        clip = getattr(self.market, "clip_depth", None)
        if (
            clip is not None
            and not self._clip_warned
            and bool((np.fmin(bid_depth, ask_depth) < clip).any())
        ):
            warnings.warn(
                f"fill_model='linear': lambda(d)*dt exceeds 1 for quotes at depth < {clip:.4g} and the fill "
                "probability is clipped to 1; use fill_model='exponential' or a smaller dt.",
                stacklevel=4,
            )
            self._clip_warned = True

    def step(self, bid_depth: np.ndarray, ask_depth: np.ndarray, rng: np.random.Generator) -> StepResult:
        """Quote at the given depths for one interval on every path, then move the market.

        Args:
            bid_depth, ask_depth: float64 (N,) depths from the current mid (price units); NaN = no quote.
            rng: generator for the market's randomness.
        """
        n = self.num_paths
        bid_depth = np.ascontiguousarray(bid_depth, dtype=np.float64).reshape(n)
        ask_depth = np.ascontiguousarray(ask_depth, dtype=np.float64).reshape(n)
        self._warn_if_clipped(bid_depth, ask_depth)
        mid_before = self.market.mid.copy()
        reach_bid, reach_ask = self.market.advance(rng)
        res = np.empty((5, n))
        bought, sold, fees, bid_price, ask_price = res
        st = self.state
        step_paths(
            st.q,
            st.cash,
            mid_before,
            bid_depth,
            ask_depth,
            reach_bid,
            reach_ask,
            self.q_max,
            self.order_size,
            self.fee_per_unit,
            self.fee_rate,
            bought,
            sold,
            fees,
            bid_price,
            ask_price,
        )
        st.step += 1
        if self._on_fills is not None:
            self._on_fills(bought, sold)
        return StepResult(
            mid_before=mid_before,
            mid_after=self.market.mid.copy(),
            bid_price=bid_price,
            ask_price=ask_price,
            bought=bought,
            sold=sold,
            fees=fees,
            reach_bid=reach_bid,
            reach_ask=reach_ask,
        )

    def env_step(
        self, action: np.ndarray, task, w0: np.ndarray, rng: np.random.Generator
    ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """One env step on every path (see :func:`env_step_paths`).

        Args:
            action: float64 (N, 2) actions (already checked for NaN by :func:`mmenv.task.as_action_array`).
            task: the :class:`mmenv.task.TaskParams`. w0: wealth at the start of each episode.
            rng: generator for the market's randomness.

        Returns:
            (out, obs, mid_before): ``out`` (N, OUT_COLUMNS), columns :data:`OUT_NAMES`; ``obs`` (N, 4)
            float32; the mid at quote time.
        """
        n = self.num_paths
        m = self.market
        mid_before = m.mid
        reach_bid, reach_ask = m.advance(rng)
        out = np.empty((n, OUT_COLUMNS))
        obs = np.empty((n, 4), dtype=np.float32)
        st = self.state
        args = (
            action,
            task.normalized,
            task.min_depth,
            task.max_depth,
            st.q,
            st.cash,
            st.step,
            mid_before,
            m.mid,
            m.s0,
            m.sigma,
            w0,
            reach_bid,
            reach_ask,
            self.q_max,
            self.order_size,
            self.fee_per_unit,
            self.fee_rate,
            m.dt,
            m.n_steps,
            task.reward_code,
            task.phi,
            task.alpha,
            task.utility_gamma,
            out,
            obs,
        )
        if len(self._bounds) == 1:
            env_step_paths(*args)
        else:  # thread shards of the paths; scalars pass through, per-path arrays are sliced

            def work(_: int, lo: int, hi: int) -> None:
                env_step_paths(*(x[lo:hi] if isinstance(x, np.ndarray) else x for x in args))

            run_shards(work, self._bounds)
        if self.market_clips and not self._clip_warned:
            self._warn_if_clipped(out[:, 0], out[:, 1])
        if self._on_fills is not None:
            self._on_fills(out[:, 4], out[:, 5])
        return out, obs, mid_before

    def observe(self) -> np.ndarray:
        """Current observations (N, 4) float32 (see :mod:`mmenv.task`)."""
        m, st = self.market, self.state
        obs = np.empty((self.num_paths, 4), dtype=np.float32)
        observe_paths(st.q, st.step, m.n_steps, m.dt, m.mid, m.s0, m.sigma, obs)
        return obs
