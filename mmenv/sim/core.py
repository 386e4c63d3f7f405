"""The simulation core: N paths of a market maker quoting into a market, as one struct-of-arrays state.

:class:`SimulationCore` holds the trader's state (inventory q, cash, steps; :class:`CoreState`) beside a
market source (:class:`mmenv.markets.Market`) and steps every path at once, the same way for the single
env, the vector env and the backtester:

* :meth:`SimulationCore.step`: quotes at given depths for one interval (the market moves, then
  :func:`mmenv.sim.env_step.step_paths` matches and settles);
* :meth:`SimulationCore.env_step`: one env step (action map, market, fills, reward, observation) through
  the kernels of :mod:`mmenv.sim.env_step`, in thread shards for large N;
* :meth:`SimulationCore.model_step`: the model market's branch-free step of :mod:`mmenv.sim.model_step`
  (the numbers of ``env_step``, bit for bit) into caller-owned buffers.

Matching and accounting are the one fill rule, :func:`mmenv.sim.fills.match_and_settle` (hard inventory
limit, fills at the quoted price when the order flow reaches the quote, fees, q and cash; AS 2008 eqs.
2.10-2.12). numba was chosen by measurement: ``benchmarks/bench_core.py`` prints the numpy and numba
variants side by side.
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass

import numpy as np

from mmenv.sim import market_kernels as mk
from mmenv.sim import model_step as ms
from mmenv.sim import thread_layer
from mmenv.sim.env_step import (
    OUT_COLUMNS,
    OUT_NAMES,
    env_step_paths,
    fused_env_step,
    observe_paths,
    step_paths,
)
from mmenv.sim.shard_choice import ShardChoice
from mmenv.sim.shards import run_shards, shard_bounds

# OUT_NAMES and OUT_COLUMNS: the columns of what env_step returns (their home is mmenv.sim.env_step)
__all__ = ["OUT_COLUMNS", "OUT_NAMES", "CoreState", "SimulationCore", "StepResult"]


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
        #: Whether the linear fill model's clipping was warned about (once per core).
        self.clip_warned = False
        self.market_clips = getattr(market, "clip_depth", None) is not None
        #: Optional market hook ``on_fills(bought, sold)`` called after matching (e.g. the impact of our
        #: own fills on the next interval's mid, :mod:`mmenv.markets.variants`).
        self._on_fills = getattr(market, "on_fills", None)
        self._no_reset = np.zeros(self.num_paths, dtype=bool)
        # model_step without output rows; all of them
        self._no_info = (np.empty((0, self.num_paths)), np.empty(0, dtype=np.int64))
        self._all_cols = np.arange(OUT_COLUMNS, dtype=np.int64)
        #: One thread or shards for each step of large N (:meth:`env_step`, :meth:`model_step`), chosen by
        #: measurement; the numbers are the same either way.
        self.shard_choice = ShardChoice()
        #: Threads for large N (None: :func:`mmenv.sim.shards.get_num_threads`); the numbers do not depend on it.
        self.num_threads: int | None = None

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

    def warn_if_clipped(self, bid_depth: np.ndarray, ask_depth: np.ndarray) -> None:
        """Warn once if a quote sat where the linear fill probability A dt e^{-k d} is clipped to 1."""
        clip = getattr(self.market, "clip_depth", None)
        if clip is not None and not self.clip_warned and bool((np.fmin(bid_depth, ask_depth) < clip).any()):
            self._warn_clipped()

    def _warn_clipped(self) -> None:
        """Warn (once per core) that quotes sat where the linear fill probability is clipped to 1."""
        warnings.warn(
            f"fill_model='linear': lambda(d)*dt exceeds 1 for quotes at depth < {self.market.clip_depth:.4g} and "
            "the fill probability is clipped to 1; use fill_model='exponential' or a smaller dt.",
            stacklevel=5,
        )
        self.clip_warned = True

    def step(self, bid_depth: np.ndarray, ask_depth: np.ndarray, rng: np.random.Generator) -> StepResult:
        """Quote at the given depths for one interval on every path, then move the market.

        Args:
            bid_depth, ask_depth: float64 (N,) depths from the current mid (price units); NaN = no quote.
            rng: generator for the market's randomness.
        """
        n = self.num_paths
        bid_depth = np.ascontiguousarray(bid_depth, dtype=np.float64).reshape(n)
        ask_depth = np.ascontiguousarray(ask_depth, dtype=np.float64).reshape(n)
        self.warn_if_clipped(bid_depth, ask_depth)
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
        self,
        action: np.ndarray,
        task,
        w0: np.ndarray,
        rng: np.random.Generator | None,
        *,
        reset_first: np.ndarray | None = None,
        reset_after: bool = False,
        out: np.ndarray | None = None,
        obs: np.ndarray | None = None,
        final_obs: np.ndarray | None = None,
    ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """One env step on every path.

        Markets with a kernel (:mod:`mmenv.sim.market_kernels`: the model market and its variants) run the fused
        step :func:`mmenv.sim.env_step.fused_env_step`, one pass per path, in thread shards for large N where they
        measure faster (:attr:`shard_choice`; the numbers do not depend on the sharding); other markets move
        first (``advance``) and :func:`mmenv.sim.env_step.env_step_paths` follows.

        Args:
            action: float64 (N, 2) actions (already checked for NaN by :func:`mmenv.sim.task.as_action_array`).
            task: the :class:`mmenv.sim.task.TaskParams`. w0: wealth at the start of each episode (updated in
                place by the in-kernel resets). rng: generator for markets without a kernel.
            reset_first: bool (N,): paths that start their next episode instead of stepping (next-step
                autoreset; kernel markets only). reset_after: paths that terminate start their next episode
                in the same step, their last observation in ``final_obs`` (same-step autoreset).
            out, obs, final_obs: preallocated outputs (N, OUT_COLUMNS) float64, (N, 4) float32 (fresh
                arrays when None).

        Returns:
            (out, obs, mid_before): ``out`` (N, OUT_COLUMNS), columns :data:`mmenv.sim.env_step.OUT_NAMES`; ``obs`` (N, 4)
            float32; the mid at quote time (a view of ``out``).
        """
        n = self.num_paths
        m = self.market
        out = np.empty((n, OUT_COLUMNS)) if out is None else out
        obs = np.empty((n, 4), dtype=np.float32) if obs is None else obs
        st = self.state
        if hasattr(m, "kernel_args"):
            kind, mp, mst, k0, k1 = m.kernel_args()
            rf = self._no_reset if reset_first is None else np.asarray(reset_first, dtype=bool)
            fo = obs if final_obs is None else final_obs
            arrays = (mst, m.stream, m.episode, m.t, m.mid, m.sigma, m.s0, action, st.q, st.cash, st.step, w0)
            tail = (
                self.q0,
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
            )
            outs = (rf, out, obs, fo)

            def call(a, o) -> None:
                fused_env_step(
                    kind,
                    mp,
                    a[0],
                    k0,
                    k1,
                    *a[1:8],
                    task.normalized,
                    task.min_depth,
                    task.max_depth,
                    *a[8:],
                    *tail,
                    o[0],
                    reset_after,
                    *o[1:],
                )

            bounds = shard_bounds(n, self.num_threads)
            if (
                len(bounds) == 1
            ):  # one shard (every N below 2 x 2048, the single env): no slicing, no hand-off
                call(arrays, outs)
            else:
                self.shard_choice.run(
                    lambda: call(arrays, outs),
                    lambda: run_shards(
                        lambda _, lo, hi: call([x[lo:hi] for x in arrays], [x[lo:hi] for x in outs]), bounds
                    ),
                    helpers=len(bounds) - 1,
                )
        else:
            if reset_first is not None or reset_after:
                raise ValueError(f"in-kernel autoreset needs a market with a kernel, got {type(m).__name__}")
            mid_before = m.mid.copy()
            reach_bid, reach_ask = m.advance(rng)
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

            def work(_: int, lo: int, hi: int) -> None:  # scalars pass through, per-path arrays are sliced
                env_step_paths(*(x[lo:hi] if isinstance(x, np.ndarray) else x for x in args))

            bounds = shard_bounds(n, self.num_threads)
            if len(bounds) == 1:
                env_step_paths(*args)
            else:
                self.shard_choice.run(
                    lambda: env_step_paths(*args), lambda: run_shards(work, bounds), helpers=len(bounds) - 1
                )
            if self._on_fills is not None:
                self._on_fills(out[:, 4], out[:, 5])
        if self.market_clips and not self.clip_warned:
            self.warn_if_clipped(out[:, 0], out[:, 1])
        return out, obs, out[:, 14]

    @property
    def has_model_step(self) -> bool:
        """Whether :meth:`model_step` serves this core's market (the model market, kind "model")."""
        return getattr(self.market, "kernel_kind", None) == mk.MODEL

    def model_step(
        self,
        action: np.ndarray,
        task,
        w0: np.ndarray,
        *,
        reset_first: np.ndarray,
        obs: np.ndarray,
        reward: np.ndarray,
        terminated: np.ndarray,
        out: np.ndarray | None = None,
        info: tuple[np.ndarray, np.ndarray] | None = None,
        reset_after: bool = False,
        final_obs: np.ndarray | None = None,
    ) -> None:
        """One env step of every path of the model market into caller-owned buffers, by
        :func:`mmenv.sim.model_step.model_env_step` (the numbers of :meth:`env_step`, bit for bit), in thread
        shards for large N (:func:`mmenv.sim.shards.shard_bounds`; each shard a path range of the same arrays,
        no slicing, no copies) launched on numba's thread pool (:func:`mmenv.sim.model_step.model_env_shards`),
        or through :func:`mmenv.sim.shards.run_shards` where numba has only its workqueue layer; whether the
        shards or one thread run is measured as the steps go (:attr:`shard_choice`,
        :class:`mmenv.sim.shard_choice.ShardChoice`): the numbers are the same either way.

        Args:
            action: (N, 2) C-contiguous float32 or float64, checked by :func:`mmenv.sim.model_step.check_actions`
                (or :func:`mmenv.sim.task.as_action_array`). task: the :class:`mmenv.sim.task.TaskParams`.
            w0: wealth at the start of each episode (updated by the resets). reset_first: bool (N,), paths that
                start their next episode instead of stepping. reset_after: same-step autoreset, the last
                observation of a finished path in ``final_obs``.
            obs: (N, 4) C-contiguous float32; reward: (N,) float64; terminated: (N,) bool.
            out: None, or an (N, OUT_COLUMNS) Fortran-ordered float64 array that receives the full output row
                (columns :data:`mmenv.sim.env_step.OUT_NAMES`). info: None, or (rows, cols): row r of the (K, N) C-contiguous
                ``rows`` receives column ``cols[r]`` (int64) in the info convention (a side not quoted:
                price -inf / +inf, depth +inf).
        """
        n = self.num_paths
        m, st = self.market, self.state
        if out is not None and info is not None:
            raise ValueError("model_step writes either out or info, got both")
        if info is not None:
            rows, cols = info
        elif out is not None:
            rows, cols = out.T, self._all_cols
        else:
            rows, cols = self._no_info
        fp = ms.trader_params(
            self, task, reset_after=reset_after, write_out=cols.shape[0] > 0, inf_for_nan=info is not None
        )
        final_obs = obs if final_obs is None else final_obs
        _, mp, _, k0, k1 = m.kernel_args()
        args = (
            mp,
            fp,
            k0,
            k1,
            m.stream,
            m.episode,
            m.t,
            m.mid,
            m.sigma,
            m.s0,
            action,
            st.q,
            st.cash,
            st.step,
            w0,
            reset_first,
            obs,
            reward,
            terminated,
            rows,
            cols,
            final_obs,
        )
        bounds = shard_bounds(n, self.num_threads)
        if len(bounds) == 1:
            clipped = ms.model_env_step(*args, 0, n)
        else:
            clipped = self.shard_choice.run(
                lambda: ms.model_env_step(*args, 0, n),
                lambda: self._model_shards(args, bounds),
                helpers=len(bounds) - 1,
            )
        if clipped and not self.clip_warned:
            self._warn_clipped()

    @staticmethod
    def _model_shards(args: tuple, bounds: list[tuple[int, int]]) -> int:
        """:func:`mmenv.sim.model_step.model_env_step` on the path ranges ``bounds``, one per thread: on numba's
        pool (a launch costs ~1 us), or through the Python pool (~20 us) where numba has only its workqueue
        layer (:func:`mmenv.sim.thread_layer.parallel_layer_ok`). Returns the summed clipping count."""
        if thread_layer.parallel_layer_ok():
            b = np.array(bounds, dtype=np.int64)
            return thread_layer.launch(lambda: ms.model_env_shards(*args, b), len(bounds))
        counts = [0] * len(bounds)

        def work(j: int, lo: int, hi: int) -> None:
            counts[j] = ms.model_env_step(*args, lo, hi)

        run_shards(work, bounds)
        return sum(counts)

    def observe(self) -> np.ndarray:
        """Current observations (N, 4) float32 (see :mod:`mmenv.sim.task`)."""
        m, st = self.market, self.state
        obs = np.empty((self.num_paths, 4), dtype=np.float32)
        observe_paths(st.q, st.step, m.n_steps, m.dt, m.mid, m.s0, m.sigma, obs)
        return obs
