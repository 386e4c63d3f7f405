"""MarketMakingEnv: the Avellaneda-Stoikov market-making problem as a Gymnasium environment."""

from __future__ import annotations

import copy
import math
from dataclasses import fields
from typing import Any

import gymnasium as gym
import numpy as np
from gymnasium import spaces
from gymnasium.error import ResetNeeded

from mmenv.config import MAX_MAGNITUDE, MarketParams
from mmenv.envs.render import episode_frame
from mmenv.markets.registry import make_market, market_arguments
from mmenv.sim.core import SimulationCore
from mmenv.sim.env_step import OUT_NAMES
from mmenv.sim.single_path import INFO_KEYS, PackedPath, step_packed
from mmenv.sim.task import BIG, TaskParams, as_action_array

__all__ = [
    "INFO_KEYS",
    "HorizonSpec",
    "MarketMakingEnv",
    "build_simulation",
    "check_arguments",
    "check_info_keys",
    "info_columns",
    "info_of_row",
]

_TASK_FIELDS = {f.name for f in fields(TaskParams)}
_MARKET_FIELDS = set(MarketParams.field_names())
_INF = float("inf")
# columns of the core's step output (mmenv.sim.env_step.OUT_NAMES) behind each info key
_COLS = tuple(OUT_NAMES.index(key) for key in INFO_KEYS)
_COLS_ARRAY = np.array(_COLS)
_INF64, _NEG_INF64 = np.float64(_INF), np.float64(-_INF)
_PAIR = (2,)


def check_arguments(kwargs: dict[str, Any], owner: str, extra: tuple[str, ...] = ()) -> str:
    """Raise TypeError naming unknown keyword arguments and the valid ones; returns the market kind.

    TypeError (not ValueError) is Python's convention for a bad keyword: libraries that probe optional
    arguments (SB3's ``render_mode``, TorchRL's ``frameskip``) catch it and retry without the argument.
    """
    kind = kwargs.get("market", "model")
    if not isinstance(kind, str):
        raise ValueError(f"market must be a string, got {kind!r}")
    valid = _MARKET_FIELDS | _TASK_FIELDS | market_arguments(kind) | {"market", *extra}
    unknown = sorted(set(kwargs) - valid)
    if unknown:
        also = f" (also unknown: {unknown[1:]})" if len(unknown) > 1 else ""
        raise TypeError(  # Python's own wording: libraries match "unexpected keyword argument 'name'"
            f"{owner}.__init__() got an unexpected keyword argument {unknown[0]!r}{also}; valid arguments "
            f"for market={kind!r}: {sorted(valid)}"
        )
    return kind


def check_info_keys(info_keys: tuple[str, ...] | list[str] | None) -> tuple[str, ...]:
    """The ``info`` keys to return, in the order of :data:`INFO_KEYS` (None: all of them; ``()``: none).

    Raises ValueError naming the value unless it is None or a sequence of names from :data:`INFO_KEYS`.
    """
    if info_keys is None:
        return INFO_KEYS
    if isinstance(info_keys, str) or not set(info_keys) <= set(INFO_KEYS):
        raise ValueError(f"info_keys must be None or a subset of {list(INFO_KEYS)}, got {info_keys!r}")
    return tuple(k for k in INFO_KEYS if k in info_keys)


def build_simulation(
    num_paths: int, kwargs: dict[str, Any]
) -> tuple[MarketParams, TaskParams, SimulationCore]:
    """Split keyword arguments into market and task parameters and build the core over ``num_paths`` paths.

    Keyword arguments: every field of :class:`~mmenv.config.MarketParams` and of
    :class:`~mmenv.sim.task.TaskParams`, plus ``market`` ("model", "ticks" or a variant) and that market's own
    arguments (e.g. ``bars=`` for "ticks"). ``max_depth`` defaults to 5/k (the depth where the intensity has
    fallen to A e^-5). Unknown names raise TypeError naming them and the valid ones.
    """
    kwargs = dict(kwargs)
    check_arguments(kwargs, "build_simulation")
    market_kind = kwargs.pop("market", "model")
    market_kw = {n: kwargs.pop(n) for n in list(kwargs) if n in _MARKET_FIELDS}
    task_kw = {n: kwargs.pop(n) for n in list(kwargs) if n in _TASK_FIELDS}
    params = MarketParams(**market_kw)
    market = make_market(market_kind, params, num_paths, **kwargs)
    if "max_depth" not in task_kw:
        k = getattr(market, "k", params.k)
        default = 5.0 / k
        if not (math.isfinite(default) and abs(default) <= MAX_MAGNITUDE):
            raise ValueError(
                f"k={k!r} is too small: the default max_depth 5/k = {default!r} is not a usable depth "
                f"(at most {MAX_MAGNITUDE:g}); pass a larger k or an explicit max_depth"
            )
        task_kw["max_depth"] = max(default, task_kw.get("min_depth", 0.0) + 1e-6)
    task = TaskParams(**task_kw)
    core = SimulationCore.from_params(market, params)
    return params, task, core


def observation_space_of(
    params: MarketParams, task: TaskParams, core: SimulationCore, market_kind: str
) -> tuple[spaces.Box, np.ndarray | None]:
    """The single observation space (finite, honest float32 bounds) and the normalized mode's divisors.

    The volatility is bounded by the model market's constant sigma; other markets estimate or vary it.
    """
    T = core.n_steps * core.market.dt
    sigma = np.asarray(core.market.sigma, dtype=float)
    sigma_ref = float(sigma.mean()) if sigma.size else float(params.sigma)
    scale = task.observation_scale(params.q_max, T, sigma_ref)
    sigma_high = float(params.sigma) if market_kind == "model" else BIG
    low, high = task.observation_bounds(params.q_max, T, sigma_high, scale)
    return spaces.Box(low, high, (4,), np.float32), scale


def info_columns(core, out: np.ndarray | None = None) -> dict[str, np.ndarray]:
    """The ``info`` values of every path as (N,) float64 arrays, keyed by :data:`INFO_KEYS`.

    Args:
        core: the :class:`mmenv.sim.core.SimulationCore` after the step (or after a reset).
        out: the (N, OUT_COLUMNS) output of :meth:`mmenv.sim.core.SimulationCore.env_step`; None for the values
            at reset (no quotes: bid -inf, ask +inf, depths +inf; no fills: 0).
    """
    if out is not None:
        cols = {key: out[:, c] for key, c in zip(INFO_KEYS, _COLS, strict=True)}
        bid_live = cols["bid"] == cols["bid"]  # the core writes NaN where a side is not quoted
        ask_live = cols["ask"] == cols["ask"]
        if not (bid_live.all() and ask_live.all()):
            cols["bid"] = np.where(bid_live, cols["bid"], -_INF)
            cols["ask"] = np.where(ask_live, cols["ask"], _INF)
            cols["bid_depth"] = np.where(bid_live, cols["bid_depth"], _INF)
            cols["ask_depth"] = np.where(ask_live, cols["ask_depth"], _INF)
        return cols
    st, m = core.state, core.market
    n = st.q.shape[0]
    inf = np.full(n, _INF)
    zero = np.zeros(n)
    return {
        "cash": st.cash.copy(),
        "inventory": st.q.copy(),
        "mid": m.mid.copy(),
        "bid": -inf,
        "ask": inf,
        "bid_depth": inf,
        "ask_depth": inf,
        "bought": zero,
        "sold": zero,
        "fees": zero,
        "equity": st.cash + st.q * m.mid,
        "time": st.step * m.dt,
    }


def info_of_row(o: np.ndarray) -> dict[str, np.float64]:
    """The single env's ``info`` from one row of the core's step output (numpy float64 scalars)."""
    info = dict(zip(INFO_KEYS, o[_COLS_ARRAY], strict=True))
    if info["bid"] != info["bid"]:  # NaN from the core: not quoted
        info["bid"], info["bid_depth"] = _NEG_INF64, _INF64
    if info["ask"] != info["ask"]:
        info["ask"], info["ask_depth"] = _INF64, _INF64
    return info


class HorizonSpec:
    """``spec.max_episode_steps`` carries the episode length (T / dt, or less with a step limit).

    ``gymnasium.make`` sets ``env.unwrapped.spec`` with ``max_episode_steps=None`` (the horizon is not
    registered: reaching T is ``terminated``, and a registered limit would add a ``TimeLimit``); the setter
    fills in :meth:`episode_steps`, so ``TimeAwareObservation`` and libraries that read the horizon work.
    """

    _spec = None

    @property
    def horizon(self) -> int:
        """Decision steps per episode, T / dt (reaching it is ``terminated``)."""
        return self.core.n_steps

    def episode_steps(self) -> int:
        """Steps of a full episode: the horizon (the vector env may truncate earlier)."""
        return self.horizon

    @property
    def spec(self):
        """The registration spec, with ``max_episode_steps`` = :meth:`episode_steps` when none (or more) was given."""
        return self._spec

    @spec.setter
    def spec(self, value) -> None:
        steps = self.episode_steps()
        if value is not None and (value.max_episode_steps is None or value.max_episode_steps > steps):
            value = copy.copy(value)
            value.max_episode_steps = steps
        self._spec = value


class MarketMakingEnv(HorizonSpec, gym.Env[np.ndarray, np.ndarray]):
    """A market maker quoting a bid and an ask around a stochastic mid, Avellaneda & Stoikov (2008).

    ## Description
    Each step lasts ``dt``: the agent posts a bid at depth delta_b below the mid and an ask at delta_a above
    it; market orders reach depth d with Poisson intensity A exp(-k d) on each side (AS 2008 eq. 2.10-2.12),
    a quote is filled (``order_size`` units, at the quoted price) when the flow reaches it, and the mid moves
    by an arithmetic Brownian (or binomial) step. The episode ends at T. With ``market="ticks"`` the mid and
    the order flow replay a tick stream instead (``bars=`` a DataFrame of 1-minute bars).

    Event order (``event_order``): by default the quotes meet the step's order flow around the mid they were
    set at, then the mid moves ("fill_then_move"). This is the default for learning because it makes the
    step the discrete-time Markov decision process whose transition the quoting formulas and the exact
    dynamic-programming optimum use: given the observed state (q, t, s) and the depths, each side fills with
    probability 1 - exp(-A e^{-k delta} dt), independent of the coming mid move, so the reward a policy is
    optimised for is the one the theory and the optimum solve. "move_then_fill" (the mid moves, then the
    flow meets the stale quotes, as in AS 2008's own simulation) couples the fills with the move (a bid is
    hit more often when the mid falls): an adverse-selection term of order dt that the continuous-time model
    does not have; it is the order the paper's published profits support (``mmenv replicate`` prints both).
    The random numbers and the mid path are the same under both orders.

    ## Action Space
    ``Box(-1, 1, (2,), float32)``: (bid, ask), mapped to depths by
    delta = min_depth + (a + 1)/2 (max_depth - min_depth) (price units; inverse in
    :meth:`mmenv.sim.task.TaskParams.depth_to_action`). Actions outside the box are clipped, as in Gymnasium's
    continuous envs; NaN, infinities and any shape but (2,) raise ValueError. With ``action_mode="depth"``
    the action is the pair of depths in price units, ``Box(-inf, inf, (2,), float64)``, used as given
    (+inf: no quote on that side; NaN and -inf raise).

    ## Observation Space
    ``Box(float32, (4,))``: [inventory q (units), time remaining T - t, mid change s - s0 (price units),
    sigma (price units / sqrt(time unit))], in natural units. Finite, honest bounds: q in [-q_max, q_max],
    T - t in [0, T], s - s0 in [-1e9, 1e9], sigma in [0, sigma] on the model market (constant volatility),
    [0, 1e9] elsewhere. ``obs_mode="normalized"`` divides each component by a fixed scale:
    [q / q_max, (T - t) / T, (s - s0) / (sigma sqrt(T)), sigma / sigma] (bounds divided alike), so
    bound-based scaling and small networks work without hand-made constants.

    ## Rewards
    ``reward="pnl"`` (default): the change of cash + q s. ``"penalized"``: minus phi q^2 dt per step and
    alpha q_T^2 at T. ``"cara"``: -exp(-utility_gamma (W_T - W_0)) at T, 0 before.

    ## Starting State
    q = q0, cash = 0, s = s0 (the tick market starts each episode at a random point of its stream).

    ## Episode End
    ``terminated`` when t reaches T (T/dt steps); never truncated by the env itself. The horizon T/dt is
    ``spec.max_episode_steps`` (so ``TimeAwareObservation`` and libraries reading the horizon work;
    ``gymnasium.make`` adds no ``TimeLimit``, but remaking from ``env.spec`` adds one at the same step, which
    then also sets ``truncated`` at T). Stepping after the episode ended (or before the first reset) raises
    ``gymnasium.error.ResetNeeded``. Hard inventory limit: no bid is quoted at q + order_size > q_max and
    no ask at q - order_size < -q_max.

    ## Arguments
    Every field of :class:`mmenv.config.MarketParams` (s0, sigma, T, dt, A, k, mu, q0, q_max, order_size,
    fee_per_unit, fee_rate, mid_model, fill_model) and :class:`mmenv.sim.task.TaskParams` (reward, phi, alpha,
    utility_gamma, action_mode, min_depth, max_depth, obs_mode), ``market`` ("model", "ticks" or a variant
    of :mod:`mmenv.markets.variants`) with its own arguments, ``render_mode`` (None, "ansi" or
    "rgb_array": a matplotlib frame of the mid, the quotes and the inventory so far) and ``info_keys`` (the
    ``info`` keys to return: None, the default, for all of them; a subset; ``()`` for an empty ``info``, the
    fastest). An unknown argument raises TypeError naming it and the valid ones.

    ## Info
    ``cash, inventory, mid, bid, ask, bid_depth, ask_depth, bought, sold, fees, equity, time``: numpy
    float64 scalars on every step and at reset (those named by ``info_keys``). A side not quoted has bid = -inf / ask = +inf and depth
    +inf (never NaN, so equal states compare equal).

    ## Speed
    On the model market and its variants a step is one compiled call (:mod:`mmenv.sim.single_path`: the core's
    fused step kernel on one path); the observation is a fresh array every step.

    ## Version History
    * v0: initial version.
    """

    metadata = {"render_modes": ["ansi", "rgb_array"], "render_fps": 4}

    def __init__(
        self,
        render_mode: str | None = None,
        info_keys: tuple[str, ...] | list[str] | None = None,
        **kwargs: Any,
    ) -> None:
        if render_mode is not None and render_mode not in self.metadata["render_modes"]:
            raise ValueError(f"render_mode must be None, 'ansi' or 'rgb_array', got {render_mode!r}")
        self.render_mode = render_mode
        #: The ``info`` keys of every step and reset (None at construction: all of :data:`INFO_KEYS`).
        self.info_keys = check_info_keys(info_keys)
        market_kind = check_arguments(kwargs, type(self).__name__)
        self.params, self.task, self.core = build_simulation(1, kwargs)
        low, high, dtype = self.task.action_bounds()
        self.action_space = spaces.Box(low, high, (2,), dtype)
        self.observation_space, self._obs_scale = observation_space_of(
            self.params, self.task, self.core, market_kind
        )
        self._normalized_actions = self.task.normalized
        # markets with a kernel step through the packed one-path kernel (mmenv.sim.single_path)
        self._packed = PackedPath(self.core, self.task) if hasattr(self.core.market, "kernel_args") else None
        self._w0 = np.zeros(1) if self._packed is None else self._packed.w0
        self._kernel_args = () if self._packed is None else self._packed.kernel_args()
        self._watch_clip = self.core.market_clips
        self._all_info = self.info_keys == INFO_KEYS
        self._info_index = tuple(INFO_KEYS.index(k) for k in self.info_keys)
        self._done = True  # no episode yet: reset() first
        self._last_info: dict[str, np.float64] = {}
        self._history: list[tuple[float, ...]] = []

    def __setstate__(self, state: dict[str, Any]) -> None:
        """Unpickle or deep-copy: numpy views come back as copies, so the packed path binds the market's and
        the core's per-path arrays to its vectors again."""
        self.__dict__.update(state)
        if self._packed is not None:
            self._packed.bind()
            self._w0 = self._packed.w0
            self._kernel_args = self._packed.kernel_args()

    # -------------------------------------------------------------- gym API
    def _observation(self, obs: np.ndarray) -> np.ndarray:
        if self._obs_scale is None:
            return obs
        sp = self.observation_space
        return np.clip(obs / self._obs_scale, sp.low, sp.high)

    def _select(self, info: dict[str, np.float64]) -> dict[str, np.float64]:
        return info if self._all_info else {k: info[k] for k in self.info_keys}

    def reset(self, *, seed: int | None = None, options: dict | None = None):
        """Start an episode; all randomness of the episode comes from ``self.np_random``."""
        super().reset(seed=seed)
        core = self.core
        core.reset(self.np_random)
        self._w0[:] = core.equity()
        self._done = False
        info = {key: v[0] for key, v in info_columns(core).items()}
        self._last_info = info
        if self._packed is not None:
            self._packed.sync_key()
            self._packed.info[:] = [info[k] for k in INFO_KEYS]
        if self.render_mode == "rgb_array":
            self._history = [(0.0, float(info["mid"]), math.nan, math.nan, float(info["inventory"]))]
        return self._observation(core.observe()[0]), self._select(info)

    def step(self, action: np.ndarray):
        """Quote for one interval. Actions outside the action space are clipped (normalized mode)."""
        if self._done:
            raise ResetNeeded(
                "step() called after the episode ended (t reached T: terminated) or before the first reset(); "
                "call reset() to start an episode"
            )
        packed = self._packed
        if packed is None:
            return self._step_general(action)
        if type(action) is np.ndarray and action.shape == _PAIR:
            b, a = action.tolist()  # Python floats for a float array (ints, bools, ... take the checked path)
            if type(b) is not float or type(a) is not float or b - b != 0.0 or a - a != 0.0:
                b, a = as_action_array(action, 0, normalized=self._normalized_actions)[0].tolist()
        else:  # NaN or an infinity raise (depth mode keeps +inf: no quote), as does any shape but (2,)
            b, a = as_action_array(action, 0, normalized=self._normalized_actions)[0].tolist()
        reward, terminated = step_packed(b, a, *self._kernel_args)
        obs = packed.obs.copy()
        if self._watch_clip:  # linear fills: warn once when a quote is where lambda(d) dt exceeds 1
            core = self.core
            core.warn_if_clipped(packed.out[:, 0], packed.out[:, 1])
            self._watch_clip = not core.clip_warned
        self._done = terminated
        if self._all_info:
            info = dict(zip(INFO_KEYS, packed.info, strict=True))
        else:
            values = packed.info
            info = {k: values[j] for k, j in zip(self.info_keys, self._info_index, strict=True)}
        if self.render_mode is not None:
            self._last_info = dict(zip(INFO_KEYS, packed.info, strict=True))
            if self.render_mode == "rgb_array":
                self._record(packed.out[0])
        if self._obs_scale is not None:
            obs = self._observation(obs)
        return obs, reward, terminated, False, info

    def _step_general(self, action: np.ndarray):
        """The step of a market without a kernel (the market moves first, then the core's step)."""
        a = as_action_array(action, 0, normalized=self._normalized_actions)
        out, obs, _ = self.core.env_step(a, self.task, self._w0, self.np_random)
        o = out[0]
        info = info_of_row(o)  # numpy float64 scalars; +-inf where a side is not quoted
        self._last_info = info
        terminated = bool(o[8] > 0.0)
        self._done = terminated
        if self.render_mode == "rgb_array":
            self._record(o)
        return self._observation(obs[0]), float(o[7]), terminated, False, self._select(info)

    def _record(self, o: np.ndarray) -> None:
        """Keep (time, mid, bid, ask, inventory) of the step's output row for the rgb_array frame."""
        self._history.append((float(o[13]), float(o[11]), float(o[2]), float(o[3]), float(o[10])))

    def render(self) -> str | np.ndarray | None:
        """``"ansi"``: a text summary of the last step; ``"rgb_array"``: an (H, W, 3) uint8 frame of the
        episode so far (mid, live quotes, inventory), drawn with matplotlib (imported on first use)."""
        if self.render_mode == "ansi":
            i = self._last_info
            return (
                f"t={i['time']:.4f} mid={i['mid']:.4f} bid={i['bid']:.4f} ask={i['ask']:.4f} "
                f"q={i['inventory']:+.1f} cash={i['cash']:.2f} equity={i['equity']:.2f}"
            )
        if self.render_mode == "rgb_array":
            return episode_frame(
                np.array(self._history, dtype=float).reshape(-1, 5), self.core.n_steps * self.core.market.dt
            )
        return None
