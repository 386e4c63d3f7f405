"""The single env's step: the core's fused step kernel on one path, its arguments packed into two vectors.

Calling a compiled function from Python costs about 0.1 us per array argument (numba checks each argument's
type); the fused step :func:`mmenv.sim.env_step.fused_env_step` takes 35. For one path that dispatch costs more
than the step itself, so :class:`PackedPath` packs the path's state and settings into one float64 and one
int64 vector (the market's and the core's per-path arrays become views of them: one source of truth) and
:func:`step_packed` unpacks them inside compiled code and calls the same fused kernel with N = 1. The
numbers are those of the vector env's path 0 and of :meth:`mmenv.sim.core.SimulationCore.env_step`.
"""

from __future__ import annotations

import math

import numpy as np

from mmenv.jit import njit
from mmenv.sim.env_step import OUT_COLUMNS, OUT_NAMES, fused_env_step

__all__ = ["INFO_KEYS", "PackedPath", "step_packed"]

#: The ``info`` keys of every step (the same for the single and the vector env). Every value is a float64
#: (numpy scalar in the single env, (N,) array in the vector env). A side that is not quoted (hard inventory
#: limit, or a +inf depth) has ``bid = -inf`` / ``ask = +inf`` and depth ``+inf`` (a quote infinitely far
#: from the mid), never NaN, so equal states compare equal.
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
# float64 slots: the path's state (views for the market and the core), the action, the info row, settings
F_MID, F_SIGMA, F_S0, F_Q, F_CASH, F_W0, F_ACT = range(7)
F_INFO = F_ACT + 2
(
    F_MIN_DEPTH,
    F_MAX_DEPTH,
    F_Q0,
    F_Q_MAX,
    F_SIZE,
    F_FEE_UNIT,
    F_FEE_RATE,
    F_DT,
    F_PHI,
    F_ALPHA,
    F_ETA,
) = range(F_INFO + len(INFO_KEYS), F_INFO + len(INFO_KEYS) + 11)
F_OBS = F_ETA + 1  # the float32 (4,) observation in two float64 slots
F_OUT = F_OBS + 2  # the core's (1, OUT_COLUMNS) output row
F_STATE = F_OUT + OUT_COLUMNS  # the market's (1, S) kernel state, S = ints[I_STATE_WIDTH]
# int64 slots: the path's counters (views for the market and the core), the key, settings
(
    I_STREAM,
    I_EPISODE,
    I_T,
    I_STEP,
    I_K0,
    I_K1,
    I_KIND,
    I_N_STEPS,
    I_REWARD,
    I_NORMALIZED,
    I_STATE_WIDTH,
    I_FALSE,
) = range(12)  # I_FALSE: always 0, read as the kernel's (1,) bool "reset first" flag
I_SIZE_ALL = I_FALSE + 1
#: Columns of the core's output row behind each info key, in the order of :data:`INFO_KEYS`.
INFO_COLUMNS = np.array([OUT_NAMES.index(k) for k in INFO_KEYS], dtype=np.int64)
_BID, _ASK, _BID_DEPTH, _ASK_DEPTH = (INFO_KEYS.index(k) for k in ("bid", "ask", "bid_depth", "ask_depth"))
_REWARD, _TERMINATED = OUT_NAMES.index("reward"), OUT_NAMES.index("terminated")
# (slot, owner, attribute): the per-path arrays of the market ("market") and of the core's state ("core")
_FLOAT_VIEWS = (
    (F_MID, "market", "mid"),
    (F_SIGMA, "market", "sigma"),
    (F_S0, "market", "s0"),
    (F_Q, "core", "q"),
    (F_CASH, "core", "cash"),
)
_INT_VIEWS = (
    (I_STREAM, "market", "stream"),
    (I_EPISODE, "market", "episode"),
    (I_T, "market", "t"),
    (I_STEP, "core", "step"),
)


@njit(cache=True, error_model="numpy")
def step_packed(
    a_bid: float, a_ask: float, mp: np.ndarray, f: np.ndarray, ints: np.ndarray
) -> tuple[float, bool]:
    """One env step of the packed path (:class:`PackedPath`): :func:`mmenv.sim.env_step.fused_env_step` with N = 1.

    Args:
        a_bid, a_ask: the action (clipped to the action space by the kernel's action map).
        mp: the market's kernel parameters. f, ints: the packed vectors (:class:`PackedPath`).

    Returns:
        (reward, terminated): the step's reward and whether t reached T. The observation is written to
        ``f[F_OBS:F_OBS + 2]`` (float32 (4,) in two float64 slots), the core's output row to ``f[F_OUT:]`` and
        the info values to ``f[F_INFO:]`` in the order of :data:`INFO_KEYS`, a side not quoted as bid -inf /
        ask +inf and depth +inf.
    """
    f[F_ACT] = a_bid
    f[F_ACT + 1] = a_ask
    out = f[F_OUT:F_STATE].reshape((1, OUT_COLUMNS))
    obs = f[F_OBS:F_OUT].view(np.float32).reshape((1, 4))
    width = ints[I_STATE_WIDTH]
    fused_env_step(
        ints[I_KIND],
        mp,
        f[F_STATE : F_STATE + width].reshape((1, width)),
        np.uint64(ints[I_K0]),
        np.uint64(ints[I_K1]),
        ints[I_STREAM : I_STREAM + 1],
        ints[I_EPISODE : I_EPISODE + 1],
        ints[I_T : I_T + 1],
        f[F_MID : F_MID + 1],
        f[F_SIGMA : F_SIGMA + 1],
        f[F_S0 : F_S0 + 1],
        f[F_ACT : F_ACT + 2].reshape((1, 2)),
        ints[I_NORMALIZED] != 0,
        f[F_MIN_DEPTH],
        f[F_MAX_DEPTH],
        f[F_Q : F_Q + 1],
        f[F_CASH : F_CASH + 1],
        ints[I_STEP : I_STEP + 1],
        f[F_W0 : F_W0 + 1],
        f[F_Q0],
        f[F_Q_MAX],
        f[F_SIZE],
        f[F_FEE_UNIT],
        f[F_FEE_RATE],
        f[F_DT],
        ints[I_N_STEPS],
        ints[I_REWARD],
        f[F_PHI],
        f[F_ALPHA],
        f[F_ETA],
        ints[I_FALSE : I_FALSE + 1].view(np.bool_)[:1],
        False,
        out,
        obs,
        obs,
    )
    for j in range(INFO_COLUMNS.shape[0]):
        f[F_INFO + j] = out[0, INFO_COLUMNS[j]]
    if f[F_INFO + _BID] != f[F_INFO + _BID]:  # NaN from the core: not quoted
        f[F_INFO + _BID] = -math.inf
        f[F_INFO + _BID_DEPTH] = math.inf
    if f[F_INFO + _ASK] != f[F_INFO + _ASK]:
        f[F_INFO + _ASK] = math.inf
        f[F_INFO + _ASK_DEPTH] = math.inf
    return out[0, _REWARD], out[0, _TERMINATED] > 0.0


class PackedPath:
    """One path's state and settings in a float64 vector ``f`` and an int64 vector ``ints``.

    The market's per-path arrays (mid, sigma, s0, stream, episode, t, kernel_state) and the core's (q, cash, step) are
    rebound to length-1 views of the vectors, so the market's own reset and every reader of those arrays
    see the packed values. Needs a market with a kernel (:mod:`mmenv.sim.market_kernels`) and N = 1.

    Args:
        core: the :class:`mmenv.sim.core.SimulationCore` of one path. task: its :class:`mmenv.sim.task.TaskParams`.
    """

    def __init__(self, core, task) -> None:
        m = core.market
        if core.num_paths != 1 or not hasattr(m, "kernel_args"):
            raise ValueError(f"PackedPath needs one path of a market with a kernel, got {type(m).__name__}")
        width = m.kernel_state.shape[1]
        f = np.zeros(F_STATE + width)
        ints = np.zeros(I_SIZE_ALL, dtype=np.int64)
        f[F_STATE:] = m.kernel_state[0]
        for slot, owner, name in _FLOAT_VIEWS:
            f[slot] = getattr(core.state if owner == "core" else m, name)[0]
        for slot, owner, name in _INT_VIEWS:
            ints[slot] = getattr(core.state if owner == "core" else m, name)[0]
        f[F_MIN_DEPTH], f[F_MAX_DEPTH] = task.min_depth, task.max_depth
        f[F_Q0], f[F_Q_MAX], f[F_SIZE] = core.q0, core.q_max, core.order_size
        f[F_FEE_UNIT], f[F_FEE_RATE], f[F_DT] = core.fee_per_unit, core.fee_rate, m.dt
        f[F_PHI], f[F_ALPHA], f[F_ETA] = task.phi, task.alpha, task.utility_gamma
        ints[I_KIND], ints[I_N_STEPS] = m.kernel_kind, m.n_steps
        ints[I_REWARD], ints[I_NORMALIZED] = task.reward_code, int(task.normalized)
        ints[I_STATE_WIDTH] = width
        self.core, self.f, self.ints = core, f, ints
        self.bind()
        self.sync_key()

    def bind(self) -> None:
        """Point the market's and the core's per-path arrays at views of the vectors (after construction, and
        after unpickling or deep-copying, which turn views into copies)."""
        f, ints, core = self.f, self.ints, self.core
        m = core.market
        for slot, owner, name in _FLOAT_VIEWS:
            setattr(core.state if owner == "core" else m, name, f[slot : slot + 1])
        for slot, owner, name in _INT_VIEWS:
            setattr(core.state if owner == "core" else m, name, ints[slot : slot + 1])
        m.kernel_state = f[F_STATE:].reshape(1, int(ints[I_STATE_WIDTH]))
        #: The env's wealth at the start of the episode (a view of ``f``).
        self.w0 = f[F_W0 : F_W0 + 1]
        #: The info values of the last step, in the order of :data:`INFO_KEYS` (a view of ``f``).
        self.info = f[F_INFO : F_INFO + len(INFO_KEYS)]
        #: The observation after the last step, float32 (4,) (a view of ``f``).
        self.obs = f[F_OBS:F_OUT].view(np.float32)
        #: The core's output row of the last step, (1, OUT_COLUMNS) (a view of ``f``).
        self.out = f[F_OUT:F_STATE].reshape(1, OUT_COLUMNS)

    def sync_key(self) -> None:
        """Copy the market's key (drawn at every full reset) into ``ints``."""
        m = self.core.market
        self.ints[I_K0], self.ints[I_K1] = int(m.k0), int(m.k1)

    def kernel_args(self) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """(mp, f, ints): the arguments of :func:`step_packed` after the action."""
        return self.core.market.kernel_params, self.f, self.ints
