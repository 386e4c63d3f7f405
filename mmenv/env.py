"""MarketMakingEnv: the Avellaneda-Stoikov market-making problem as a Gymnasium environment."""

from __future__ import annotations

from dataclasses import fields
from typing import Any

import gymnasium as gym
import numpy as np
from gymnasium import spaces

from mmenv.config import MarketParams
from mmenv.core import OUT_NAMES, SimulationCore
from mmenv.market_registry import make_market
from mmenv.task import TaskParams, as_action_array

__all__ = ["INFO_KEYS", "MarketMakingEnv", "build_simulation", "info_columns"]

_TASK_FIELDS = {f.name for f in fields(TaskParams)}
#: The ``info`` keys of every step (the same for the single and the vector env) and their columns in the
#: core's step output.
INFO_KEYS = (
    "cash",
    "inventory",
    "mid",
    "bid",
    "ask",
    "bid_depth",
    "ask_depth",
    "bought",
    "sold",
    "fees",
    "equity",
    "time",
)
_MARKET_FIELDS = set(MarketParams.field_names())


def build_simulation(
    num_paths: int, kwargs: dict[str, Any]
) -> tuple[MarketParams, TaskParams, SimulationCore]:
    """Split keyword arguments into market and task parameters and build the core over ``num_paths`` paths.

    Keyword arguments: every field of :class:`~mmenv.config.MarketParams` and of
    :class:`~mmenv.task.TaskParams`, plus ``market`` ("model" or "ticks") and that market's own arguments
    (e.g. ``bars=`` for "ticks"). ``max_depth`` defaults to 5/k (the depth where the intensity has fallen to
    A e^-5). Unknown names raise ValueError.
    """
    kwargs = dict(kwargs)
    market_kind = kwargs.pop("market", "model")
    market_kw = {n: kwargs.pop(n) for n in list(kwargs) if n in _MARKET_FIELDS}
    task_kw = {n: kwargs.pop(n) for n in list(kwargs) if n in _TASK_FIELDS}
    params = MarketParams(**market_kw)
    market = make_market(market_kind, params, num_paths, **kwargs)
    if "max_depth" not in task_kw:
        k = getattr(market, "k", params.k)
        task_kw["max_depth"] = max(5.0 / k, task_kw.get("min_depth", 0.0) + 1e-6)
    task = TaskParams(**task_kw)
    core = SimulationCore.from_params(market, params)
    return params, task, core


def info_columns(core, out: np.ndarray | None = None) -> dict[str, np.ndarray]:
    """The ``info`` values of every path as (N,) arrays, keyed by :data:`INFO_KEYS`.

    Args:
        core: the :class:`mmenv.core.SimulationCore` after the step (or after a reset).
        out: the (N, OUT_COLUMNS) output of :meth:`mmenv.core.SimulationCore.env_step` (fresh each step, so
            the values are views of it); None for the values at reset (no quotes: NaN, no fills: 0).
    """
    if out is not None:
        return {key: out[:, OUT_NAMES.index(key)] for key in INFO_KEYS}
    st, m = core.state, core.market
    n = st.q.shape[0]
    return {
        "cash": st.cash.copy(),
        "inventory": st.q.copy(),
        "mid": m.mid.copy(),
        "bid": np.full(n, np.nan),
        "ask": np.full(n, np.nan),
        "bid_depth": np.full(n, np.nan),
        "ask_depth": np.full(n, np.nan),
        "bought": np.zeros(n),
        "sold": np.zeros(n),
        "fees": np.zeros(n),
        "equity": st.cash + st.q * m.mid,
        "time": st.step * m.dt,
    }


class MarketMakingEnv(gym.Env[np.ndarray, np.ndarray]):
    """A market maker quoting a bid and an ask around a stochastic mid, Avellaneda & Stoikov (2008).

    ## Description
    Each step lasts ``dt``: the agent posts a bid at depth delta_b below the mid and an ask at delta_a above
    it; market orders reach depth d with Poisson intensity A exp(-k d) on each side (AS 2008 eq. 2.10-2.12),
    a quote is filled (``order_size`` units, at the quoted price) when the flow reaches it, and the mid moves
    by an arithmetic Brownian (or binomial) step. The episode ends at T. With ``market="ticks"`` the mid and
    the order flow replay a tick stream instead (``bars=`` a DataFrame of 1-minute bars).

    ## Action Space
    ``Box(-1, 1, (2,), float32)``: (bid, ask), mapped to depths by
    delta = min_depth + (a + 1)/2 (max_depth - min_depth) (price units; inverse in
    :meth:`mmenv.task.TaskParams.depth_to_action`). Actions outside the box are clipped, as in Gymnasium's
    continuous envs; NaN raises ValueError. With ``action_mode="depth"`` the action is the pair of depths
    in price units, ``Box(-inf, inf, (2,), float64)``, used as given.

    ## Observation Space
    ``Box(float32, (4,))``: [inventory q (units), time remaining T - t, mid change s - s0 (price units),
    sigma (price units / sqrt(time unit))], in natural units, never rescaled.

    ## Rewards
    ``reward="pnl"`` (default): the change of cash + q s. ``"penalized"``: minus phi q^2 dt per step and
    alpha q_T^2 at T. ``"cara"``: -exp(-utility_gamma (W_T - W_0)) at T, 0 before.

    ## Starting State
    q = q0, cash = 0, s = s0 (the tick market starts each episode at a random point of its stream).

    ## Episode End
    ``terminated`` when t reaches T (T/dt steps); never truncated. Hard inventory limit: no bid is quoted at
    q + order_size > q_max and no ask at q - order_size < -q_max.

    ## Arguments
    Every field of :class:`mmenv.config.MarketParams` (s0, sigma, T, dt, A, k, mu, q0, q_max, order_size,
    fee_per_unit, fee_rate, mid_model, fill_model) and :class:`mmenv.task.TaskParams` (reward, phi, alpha,
    utility_gamma, action_mode, min_depth, max_depth), ``market`` ("model" or "ticks") and ``render_mode``
    (None or "ansi").

    ## Info
    ``cash, inventory, mid, bid, ask, bid_depth, ask_depth, bought, sold, fees, equity, time`` (floats;
    quotes NaN when not live).

    ## Version History
    * v0: initial version.
    """

    metadata = {"render_modes": ["ansi"], "render_fps": 4}

    def __init__(self, render_mode: str | None = None, **kwargs: Any) -> None:
        if render_mode is not None and render_mode not in self.metadata["render_modes"]:
            raise ValueError(f"render_mode must be None or 'ansi', got {render_mode!r}")
        self.render_mode = render_mode
        self.params, self.task, self.core = build_simulation(1, kwargs)
        low, high, dtype = self.task.action_bounds()
        self.action_space = spaces.Box(low, high, (2,), dtype)
        olow, ohigh = self.task.observation_bounds(self.params.q_max, self.core.n_steps * self.core.market.dt)
        self.observation_space = spaces.Box(olow, ohigh, (4,), np.float32)
        self._w0 = np.zeros(1)
        self._last_info: dict[str, float] = {}

    # -------------------------------------------------------------- gym API
    def reset(self, *, seed: int | None = None, options: dict | None = None):
        """Start an episode; all randomness of the episode comes from ``self.np_random``."""
        super().reset(seed=seed)
        core = self.core
        core.reset(self.np_random)
        self._w0 = core.equity()
        info = {key: float(v[0]) for key, v in info_columns(core).items()}
        self._last_info = info
        return core.observe()[0], info

    def step(self, action: np.ndarray):
        """Quote for one interval. Actions outside the action space are clipped (normalized mode)."""
        a = as_action_array(action)
        core = self.core
        out, obs, _ = core.env_step(a, self.task, self._w0, self.np_random)
        o = out[0].tolist()
        info = {
            "cash": o[9],
            "inventory": o[10],
            "mid": o[11],
            "bid": o[2],
            "ask": o[3],
            "bid_depth": o[0],
            "ask_depth": o[1],
            "bought": o[4],
            "sold": o[5],
            "fees": o[6],
            "equity": o[12],
            "time": o[13],
        }  # the columns of mmenv.core.OUT_NAMES (a literal: this is the single env's hot path)
        self._last_info = info
        return obs[0], o[7], o[8] > 0.0, False, info

    def render(self) -> str | None:
        """Text summary of the last step (``render_mode="ansi"``)."""
        if self.render_mode != "ansi":
            return None
        i = self._last_info
        return (
            f"t={i['time']:.4f} mid={i['mid']:.4f} bid={i['bid']:.4f} ask={i['ask']:.4f} "
            f"q={i['inventory']:+.1f} cash={i['cash']:.2f} equity={i['equity']:.2f}"
        )
