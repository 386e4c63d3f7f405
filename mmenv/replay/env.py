"""Event-clock environment on a real tape: the agent decides per market event, not per fixed dt.

:class:`ReplayEnv` is a Gymnasium env over the replay engine of :mod:`mmenv.replay.engine` (the same
compiled loop as the replay backtest, in its external-decision mode): an AS policy run in this env and in
:func:`mmenv.replay.engine.replay` on the same tape and settings gives the same fills and P&L, bit for bit
(tested).

The tape is a real one (:mod:`mmenv.data.loaders`) or a synthetic tick market
(:meth:`mmenv.data.tape.Tape.from_ticks`). Clock (``decision``): "quote" (default, each top-of-book update),
"trade" (each trade) or "event" (each event), every ``every`` such events; the agent acts once every event
stamped with the decision point's time has been seen (the engine's rule: events sharing a timestamp arrive
together). An episode is ``episode_s`` seconds of the tape from a start drawn
uniformly (seeded) among the events that leave a full episode (``start="random"``) or from the first event
(``start="first"``); it ends (truncated) when that time has passed or the tape ends.

Action: (bid depth, ask depth) from the mid, in ticks (``action_unit="tick"``, default; Box of
``[0.5, max_depth_ticks]``, clipped to it: the quotes can never cross) or in price units
(``action_unit="price"``, the :class:`mmenv.policy.Policy` convention, unclipped: crossed quotes raise);
prices are rounded away from the mid to the tick grid, a post-only
quote that would cross is repriced or withdrawn (the engine's rule), NaN or +inf withdraws a side.

Observation (float32, 8 values):

0. inventory in lots / max lots (``q / order_size / (q_max / order_size)``), in [-1, 1];
1. time remaining in the AS horizon / horizon, ``tau / horizon_s``, in (0, 1];
2. spread in ticks, ``(ask - bid) / tick``;
3. queue imbalance of the top of book, ``(bid size - ask size) / (bid size + ask size)``, in [-1, 1];
4. side of the last trade (+1 buyer-initiated, -1 seller-initiated, 0 none yet in the episode);
5. time since the previous event, ``log1p(milliseconds)``;
6. mid change since the episode start, in ticks;
7. sigma of the configuration in ticks per sqrt(second).

With ``signals`` (a :class:`mmenv.signals.FeatureSpec`; off by default), the order-book signals of
:func:`mmenv.signals.compute_features` at the decision's event follow, one value each, computed once on the
whole tape (causal: the value at event i depends on events 0..i only, so no episode sees its future), each
divided by its bound so that every one lies in [-1, 1]: ``imbalance``, ``ofi_<W>s`` and ``flow_<W>s`` as they
are (already in [-1, 1]); ``micro_ticks`` / max |G*| of the spec's micro-price table (fitted by the caller on
data before the episodes); ``spread_ticks`` / ``spread_cap``; ``mid_age_s`` / ``max_age_s``. Their names are
``signal_<column>`` in :attr:`ReplayEnv.obs_names`.

Reward: the change of mark-to-mid equity since the previous decision, minus ``inventory_penalty * (q /
order_size)^2 * elapsed seconds``, in the ``instrument``'s settlement currency (:mod:`mmenv.instrument`).
Linear of contract size 1 (the default): equity ``cash + q M`` with the replay's own cash (price units).
Otherwise every money amount is taken in unit values ``u(P)`` (:meth:`mmenv.instrument.Instrument.unit_value`:
``c P`` linear, ``-c / P`` inverse, ``c`` the contract size), as :func:`mmenv.replay.accounting.settle` does
for a whole run: equity ``cash_s + q u(M)`` with ``cash_s = sum_i (-s_i n_i u(P_i) - f_i)`` over the fills so
far (side ``s_i``, size ``n_i``, price ``P_i``, maker fee ``f_i = maker_fee_bps 1e-4 |n_i u(P_i)| +
maker_fee_per_unit n_i``; :func:`mmenv.replay.accounting.fill_flows`). For an inverse contract the reward is
thus in coins: a long of ``n`` contracts bought at ``P0`` and marked at ``P1`` has earned ``n c (1 / P0 - 1 /
P1)`` (Binance, "Coin-margined futures: contract specifications"). ``info`` reports ``cash`` and ``equity``
in the same currency (``currency``); the episode's records (:meth:`ReplayEnv.result`) stay in prices and
the replay's own cash, for :func:`mmenv.replay.accounting.settle` to account in the settlement currency.
"""

from __future__ import annotations

import math
from typing import Any

import gymnasium
import numpy as np
from gymnasium import spaces

from mmenv.data.tape import TRADE, Tape
from mmenv.instrument import Instrument
from mmenv.replay.accounting import fill_flows, is_native
from mmenv.replay.config import ReplayConfig
from mmenv.replay.engine import ReplayState, check_grid_step, tape_lot
from mmenv.signals import FeatureSpec, compute_features

__all__ = ["OBS_NAMES", "ReplayEnv", "ReplayVectorEnv", "signal_scales"]

OBS_NAMES = (
    "inventory_lots_frac",
    "tau_frac",
    "spread_ticks",
    "queue_imbalance",
    "last_trade_side",
    "log1p_ms_since_event",
    "mid_change_ticks",
    "sigma_ticks",
)
_RP = np.array([0.0, 1.0, math.nan, 0.0, 1.0])


def signal_scales(names: list[str], spec: FeatureSpec) -> np.ndarray:
    """The bound of each signal column (module docstring), by which the observation divides it."""
    scale = np.ones(len(names))
    for c, name in enumerate(names):
        if name == "micro_ticks" and spec.micro is not None:
            scale[c] = max(float(np.max(np.abs(spec.micro.g_ticks))), 1e-12)
        elif name == "spread_ticks":
            scale[c] = float(spec.spread_cap)
        elif name == "mid_age_s":
            scale[c] = float(spec.max_age_s)
    return scale


class ReplayEnv(gymnasium.Env):
    """Gymnasium env: market making on a replayed tape, decisions on an event clock (module docstring).

    Args:
        tape: the :class:`mmenv.data.tape.Tape` (in memory).
        config: :class:`mmenv.replay.config.ReplayConfig` (fill model, latency, fees, lot, limit, sigma,
            AS horizon); its ``decide_on``/``decide_every`` are replaced by ``decision``/``every``.
        decision: "quote", "trade" or "event". every: decide every n such events (>= 1).
        episode_s: episode length (seconds of the tape), > 0. start: "random" or "first".
        action_unit: "tick" or "price". max_depth_ticks: bound of the tick action space, > 0.
        inventory_penalty: reward penalty per lot^2 per second, >= 0.
        lot: the size step (default: the tape's, :func:`mmenv.replay.engine.tape_lot`); the order size must
            be a whole number of lots.
        signals: a :class:`mmenv.signals.FeatureSpec`: the order-book signals appended to the observation,
            normalised to [-1, 1] (module docstring); None (default): the 8 values only.
        instrument: the :class:`mmenv.instrument.Instrument` traded, whose settlement currency the reward
            and ``info``'s P&L are in (module docstring); None (default): linear, contract size 1, the
            replay's own price units.
    """

    metadata = {"render_modes": []}

    def __init__(
        self,
        tape: Tape,
        config: ReplayConfig | None = None,
        *,
        decision: str = "quote",
        every: int = 1,
        episode_s: float = 60.0,
        start: str = "random",
        action_unit: str = "tick",
        max_depth_ticks: float = 50.0,
        inventory_penalty: float = 0.0,
        lot: float | None = None,
        signals: FeatureSpec | None = None,
        instrument: Instrument | None = None,
    ) -> None:
        if not isinstance(tape, Tape) or len(tape) < 2:
            raise ValueError(f"tape must be a Tape with >= 2 events, got {type(tape).__name__}")
        cfg = ReplayConfig() if config is None else config
        self.config = ReplayConfig(**{**cfg.to_dict(), "decide_on": decision, "decide_every": every})
        for name, v, allowed in (
            ("start", start, ("random", "first")),
            ("action_unit", action_unit, ("tick", "price")),
        ):
            if v not in allowed:
                raise ValueError(f"{name} must be one of {allowed}, got {v!r}")
        if not (isinstance(episode_s, (int, float)) and math.isfinite(episode_s) and episode_s > 0):
            raise ValueError(f"episode_s must be > 0, got {episode_s!r}")
        if not (math.isfinite(max_depth_ticks) and max_depth_ticks > 0):
            raise ValueError(f"max_depth_ticks must be > 0, got {max_depth_ticks!r}")
        if not (math.isfinite(inventory_penalty) and inventory_penalty >= 0):
            raise ValueError(f"inventory_penalty must be >= 0, got {inventory_penalty!r}")
        if instrument is not None and not isinstance(instrument, Instrument):
            raise ValueError(f"instrument must be an Instrument or None, got {type(instrument).__name__}")
        self.instrument = instrument
        self._native = instrument is None or is_native(instrument)
        self._replay = self.config.to_dict()
        self.tape, self.episode_s, self.start_mode = tape, float(episode_s), start
        self.action_unit, self.penalty = action_unit, float(inventory_penalty)
        self.tick = tape.tick
        self.lot = tape_lot(tape) if lot is None else check_grid_step("lot", lot)
        self.config.check_lot(self.lot)
        self.action_space = spaces.Box(0.5, max_depth_ticks, (2,), np.float32)
        if action_unit == "price":
            m = max_depth_ticks * self.tick
            self.action_space = spaces.Box(-m, m, (2,), np.float64)
        hi = np.array([1, 1, np.inf, 1, 1, np.inf, np.inf, np.inf], np.float32)
        lo = np.array([-1, 0, 0, -1, -1, 0, -np.inf, 0], np.float32)
        self.obs_names = list(OBS_NAMES)
        self._signals = np.zeros((len(tape), 0))
        if signals is not None:
            if not isinstance(signals, FeatureSpec):
                raise ValueError(f"signals must be a FeatureSpec or None, got {type(signals).__name__}")
            names, m = compute_features(tape, signals)
            self._signals = np.clip(m / signal_scales(names, signals), -1.0, 1.0)
            self.obs_names += [f"signal_{n}" for n in names]
            hi = np.concatenate([hi, np.ones(len(names), np.float32)])
            lo = np.concatenate([lo, -np.ones(len(names), np.float32)])
        self.observation_space = spaces.Box(lo, hi, (len(self.obs_names),), np.float32)
        span = int(self.episode_s * 1e9)
        last_start = tape.time[-1] - span
        self._n_starts = max(1, int(np.searchsorted(tape.time, last_start, side="right")))
        self.state: ReplayState | None = None

    @property
    def signal_matrix(self) -> np.ndarray:
        """The observation's signal columns at every event of the tape, read only: (len(tape), n_signals)
        float64, ``clip(m / signal_scales(names, spec), -1, 1)`` of ``compute_features(tape, spec)`` (module
        docstring); (len(tape), 0) without ``signals``. The observation at a decision holds row i (the
        decision's event) rounded to float32."""
        view = self._signals.view()
        view.flags.writeable = False
        return view

    # ------------------------------------------------------------------------------------------- gym API
    def reset(self, *, seed: int | None = None, options: dict[str, Any] | None = None):
        super().reset(seed=seed)
        start = 0 if self.start_mode == "first" else int(self.np_random.integers(self._n_starts))
        stop = int(
            np.searchsorted(self.tape.time, self.tape.time[start] + int(self.episode_s * 1e9), side="right")
        )
        self._ep = self.tape.slice(start, max(stop, start + 1))
        self._start = start
        self.state = ReplayState.new(self.config, self.tick, self.lot)
        self._i = 0
        self._mid0 = float(self._ep.mid[0])
        self._done = False
        self._last_side = 0.0
        self._cash_s, self._nf = 0.0, 0
        self._advance()
        self._eq = self._equity()
        self._t = self.state.elapsed_s
        return self._obs(), self._info()

    def step(self, action):
        if self.state is None or self._done:
            raise RuntimeError("call reset() before step() (the episode has ended)")
        a = np.asarray(action, dtype=np.float64).reshape(-1)
        if a.shape != (2,):
            raise ValueError(
                f"action must hold 2 values (bid depth, ask depth), got shape {np.shape(action)}"
            )
        if self.action_unit == "tick":
            a = np.clip(a, self.action_space.low, self.action_space.high) * self.tick
        self.state.submit(a[0], a[1])
        self._advance()
        eq = self._equity()
        t = self.state.elapsed_s
        lots = self.state.q / self.config.order_size
        reward = eq - self._eq - self.penalty * lots * lots * (t - self._t)
        self._eq, self._t = eq, t
        return self._obs(), float(reward), False, self._done, self._info()

    # ------------------------------------------------------------------------------------------ internals
    def _advance(self) -> None:
        """Run the engine to the next decision point (or the end of the episode)."""
        i0 = self._i
        self._i = self.state.run(self._ep, i0, -1, _RP)
        trades = np.flatnonzero(self._ep.kind[i0 : self._i] == TRADE)
        if trades.size:
            self._last_side = float(self._ep.side[i0 + trades[-1]])
        if self._i >= len(self._ep):
            self._done = True
        if not self._native:
            total = self.state.fills.total
            if total > self._nf:
                flow = fill_flows(self.state.fills.last(total - self._nf), self._replay, self.instrument)[2]
                self._cash_s += float(np.sum(flow))
                self._nf = total

    def _cash(self) -> float:
        """Cash in the settlement currency (module docstring)."""
        return self.state.cash if self._native else self._cash_s

    def _equity(self) -> float:
        if self._native:
            return self.state.cash + self.state.q * self.state.mid
        return self._cash_s + self.state.q * float(self.instrument.unit_value(self.state.mid))

    def _obs(self) -> np.ndarray:
        st, ep, cfg = self.state, self._ep, self.config
        j = max(self._i - 1, 0)
        bb, bq, ba, aq = st.book
        dt_ms = (ep.time[j] - ep.time[j - 1]) * 1e-6 if j > 0 else 0.0
        tau = cfg.horizon_s - (st.elapsed_s % cfg.horizon_s)
        max_lots = cfg.q_max / cfg.order_size
        base = np.array(
            [
                st.q / cfg.order_size / max_lots,
                tau / cfg.horizon_s,
                (ba - bb) / self.tick,
                (bq - aq) / (bq + aq),
                self._last_side,
                math.log1p(dt_ms),
                (st.mid - self._mid0) / self.tick,
                cfg.sigma / self.tick,
            ],
            dtype=np.float32,
        )
        if self._signals.shape[1] == 0:
            return base
        return np.concatenate([base, self._signals[self._start + j].astype(np.float32)])

    def _info(self) -> dict[str, Any]:
        st = self.state
        info = {
            "q": st.q,
            "cash": self._cash(),
            "equity": self._equity(),
            "mid": st.mid,
            "time_s": st.elapsed_s,
            "n_fills": int(st.fills.total),
            "events": st.n_events,
        }
        if self.instrument is not None:
            info["currency"] = self.instrument.settlement_currency
        return info

    def result(self, name: str = "env"):
        """The episode's records as a :class:`mmenv.backtest.BacktestResult` (after the episode ended), in
        prices and the replay's own cash; ``settle(result, env.instrument)``
        (:func:`mmenv.replay.accounting.settle`) accounts them in the settlement currency, as the reward is."""
        if self.state is None:
            raise RuntimeError("no episode: call reset() first")
        return self.state.finish(name)


class ReplayVectorEnv(gymnasium.vector.VectorEnv):
    """``num_envs`` event-clock episodes on one tape stepped together (Gymnasium vector API).

    Each sub-episode is a :class:`ReplayEnv` (same engine, observation, action and reward; starts drawn from
    the sub-env's own generator, seeded ``seed + i``). Autoreset: same step (an episode that ends is reset at
    once; its last observation and info are in ``infos["final_obs"]`` / ``infos["final_info"]``, masked by
    ``infos["_final_obs"]``).

    Args:
        tape, config, kwargs: as :class:`ReplayEnv`. num_envs: sub-episodes, >= 1.
    """

    metadata = {"autoreset_mode": gymnasium.vector.AutoresetMode.SAME_STEP}

    def __init__(
        self, tape: Tape, config: ReplayConfig | None = None, num_envs: int = 4, **kwargs: Any
    ) -> None:
        if isinstance(num_envs, bool) or not isinstance(num_envs, (int, np.integer)) or num_envs < 1:
            raise ValueError(f"num_envs must be an integer >= 1, got {num_envs!r}")
        self.envs = [ReplayEnv(tape, config, **kwargs) for _ in range(num_envs)]
        self.num_envs = int(num_envs)
        self.single_observation_space = self.envs[0].observation_space
        self.single_action_space = self.envs[0].action_space
        self.observation_space = gymnasium.vector.utils.batch_space(
            self.single_observation_space, self.num_envs
        )
        self.action_space = gymnasium.vector.utils.batch_space(self.single_action_space, self.num_envs)

    def reset(self, *, seed: int | None = None, options: dict[str, Any] | None = None):
        obs = np.empty((self.num_envs, len(self.envs[0].obs_names)), np.float32)
        for i, env in enumerate(self.envs):
            obs[i], _ = env.reset(seed=None if seed is None else seed + i)
        return obs, {}

    def step(self, actions):
        a = np.asarray(actions, dtype=np.float64).reshape(self.num_envs, 2)
        obs = np.empty((self.num_envs, len(self.envs[0].obs_names)), np.float32)
        rew = np.empty(self.num_envs)
        trunc = np.zeros(self.num_envs, bool)
        final_obs = np.empty(self.num_envs, dtype=object)
        for i, env in enumerate(self.envs):
            obs[i], rew[i], _, trunc[i], _ = env.step(a[i])
            if trunc[i]:
                final_obs[i] = obs[i].copy()
                obs[i], _ = env.reset()
        infos: dict[str, Any] = {}
        if trunc.any():
            infos = {"final_obs": final_obs, "_final_obs": trunc.copy()}
        return obs, rew, np.zeros(self.num_envs, bool), trunc, infos
