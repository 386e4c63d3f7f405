"""A trained MLP policy (PPO's actor) inside the replay's compiled loop: the event-clock env's observation,
its normalisation, the network's forward pass and the env's action map, as one compiled policy
(:mod:`mmenv.replay.jit_policy`).

At each decision, as :class:`mmenv.replay.env.ReplayEnv` and stable-baselines3's deterministic ``predict``
compute them:

1. the env's observation (``ReplayEnv._obs``, 8 values, rounded to float32): inventory / limit, tau / horizon,
   spread in ticks, queue imbalance, side of the last trade, ``log1p`` of the milliseconds since the previous
   event, mid change since the tape's first mid in ticks, sigma in ticks; then, for an env built with
   ``signals`` (a :class:`mmenv.signals.FeatureSpec`), its order-book signals, each scaled and clipped to
   [-1, 1] (:attr:`mmenv.replay.env.ReplayEnv.signal_matrix`). Those that depend on the tape alone (side of
   the last trade, time since the previous event, the signals) are the feature columns of
   :func:`mlp_features`: the two of :func:`env_features`, then the env's signal matrix.
2. normalisation (stable-baselines3 ``VecNormalize.normalize_obs``): ``clip((o - mean) / sqrt(var + eps),
   -clip_obs, clip_obs)``, rounded to float32 (the network's input dtype);
3. the policy network: hidden layers ``h = act(W h + b)`` (tanh or ReLU), then the action layer ``a = W h
   + b``: the Gaussian's mean, the deterministic action; clipped to the model's action box (``predict``);
4. the env's action map: for an agent trained through gymnasium's ``RescaleAction`` (actions in the model's
   box, e.g. [-1, 1]^2, mapped linearly onto the depth box), the wrapper's map ``(a - intercept) / gradient``
   in float32 with gymnasium's ``gradient`` and ``intercept`` (``gymnasium.wrappers.utils.rescale_box``;
   :func:`rescale_coefficients`); then clipped to the env's depth box (ticks), times the tick: the depths
   (price units).

A replay whose ``features`` lack the columns the policy reads (fewer than ``2 + n_signals``) quotes
nothing (both depths NaN): replay with :func:`mlp_features` of the env the agent acts in.

The forward pass runs in float64 on float32 inputs and weights, where torch runs float32: actions agree to
float32 rounding (about 1e-6 relative), so a depth that falls within that distance of a tick boundary can be
placed one tick apart from the env's. :func:`mlp_forward` is the forward pass alone.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import TYPE_CHECKING

import numpy as np

from mmenv.data.tape import TRADE, Tape
from mmenv.jit import njit
from mmenv.replay.jit_policy import (
    J_ASK,
    J_ASK_SIZE,
    J_BID,
    J_BID_SIZE,
    J_MID,
    J_Q,
    J_Q_MAX,
    J_SIGMA,
    J_TAU,
    J_TICK,
    JitPolicy,
)

if TYPE_CHECKING:
    from mmenv.replay.env import ReplayEnv

__all__ = [
    "ACTIVATIONS",
    "HEADER",
    "N_OBS",
    "env_features",
    "mlp_features",
    "mlp_forward",
    "mlp_jit_policy",
    "mlp_policy",
    "rescale_coefficients",
]

#: Activation codes of the hidden layers.
ACTIVATIONS = {"tanh": 0, "relu": 1}
#: Parameter header: activation, hidden layers, horizon (s), first mid, eps, clip_obs (0: no normalisation),
#: model action low (2), high (2), env depth low, high (ticks), observation width n (:data:`N_OBS` + the
#: signal columns), rescaled (1: the action map of gymnasium's ``RescaleAction``, 0: none), its gradient (2)
#: and intercept (2); then mean (n), var (n), then per layer n_in, n_out, W (n_out x n_in, row-major),
#: b (n_out), the action layer last (the first layer's n_in is n).
HEADER = 18
#: The env's base observation (without signals): 8 values.
N_OBS = 8


@njit(cache=True)
def env_features_kernel(time, kind, side, out) -> None:
    """``out[i]`` = (side of the last trade at or before event i, 0 if none; ``log1p`` of the milliseconds
    since event i - 1, 0 at the first event)."""
    last = 0.0
    for i in range(time.shape[0]):
        if kind[i] == TRADE:
            last = float(side[i])
        out[i, 0] = last
        out[i, 1] = math.log1p((time[i] - time[i - 1]) * 1e-6) if i > 0 else 0.0


def env_features(tape: Tape) -> np.ndarray:
    """The tape-only columns of the env's base observation, (len(tape), 2) float64: side of the last trade
    and ``log1p`` of the milliseconds since the previous event (the first two columns of
    :func:`mlp_features`)."""
    out = np.zeros((len(tape), 2))
    env_features_kernel(tape.time, tape.kind, tape.side, out)
    return out


def mlp_features(env: ReplayEnv) -> np.ndarray:
    """The feature matrix of the compiled MLP acting as in ``env`` (a :class:`mmenv.replay.env.ReplayEnv`,
    possibly wrapped), for ``replay(policy, env.tape, ..., features=)``: (len(tape), 2 + n_signals) float64,
    :func:`env_features` of the env's tape followed by its scaled and clipped signals
    (:attr:`mmenv.replay.env.ReplayEnv.signal_matrix`; none without ``signals``)."""
    base = env.unwrapped
    return np.ascontiguousarray(np.hstack([env_features(base.tape), base.signal_matrix]))


def rescale_coefficients(depth_low, depth_high, min_action=-1.0, max_action=1.0):
    """(gradient, intercept), float32 arrays of 2, of gymnasium's ``RescaleAction(env, min_action, max_action)``
    on an env whose action box is ``[depth_low, depth_high]`` ticks (float32): the wrapper hands the env
    ``(a - intercept) / gradient`` for the agent's action ``a``. gymnasium's own arithmetic
    (``gymnasium.wrappers.utils.rescale_box``): ``gradient = (max_action - min_action) / (high - low)``, the
    difference taken in extended precision, and ``intercept = gradient * -low + min_action``, each stored in
    float32 (tests/replay/test_mlp_policy.py checks the map against the wrapper's, bit for bit)."""
    wide = getattr(np, "float128", np.float64)
    low = np.full(2, depth_low, dtype=np.float32)
    high = np.full(2, depth_high, dtype=np.float32)
    gradient = np.empty(2, dtype=np.float32)
    gradient[:] = (np.float64(max_action) - np.float64(min_action)) / (
        np.array(high, dtype=wide) - np.array(low, dtype=wide)
    )
    intercept = np.empty(2, dtype=np.float32)
    intercept[:] = gradient * -low + np.float64(min_action)
    return gradient, intercept


@njit(cache=True)
def mlp_forward(params, x, out) -> None:
    """The network of ``params`` (layout :data:`HEADER`) on the normalised observation ``x`` (float64,
    float32 values): ``out[:2]`` = the action layer's output (the deterministic action, before clipping)."""
    act = int(params[0])
    n_hidden = int(params[1])
    k = HEADER + 2 * int(params[12])
    h = x.copy()
    for layer in range(n_hidden + 1):
        n_in, n_out = int(params[k]), int(params[k + 1])
        w = params[k + 2 : k + 2 + n_in * n_out]
        b = params[k + 2 + n_in * n_out : k + 2 + n_in * n_out + n_out]
        y = np.empty(n_out)
        for o in range(n_out):
            s = 0.0
            for j in range(n_in):
                s += w[o * n_in + j] * h[j]
            s += b[o]
            if layer < n_hidden:
                s = math.tanh(s) if act == 0 else max(s, 0.0)
            y[o] = s
        h = y
        k += 2 + n_in * n_out + n_out
    out[0], out[1] = h[0], h[1]


@njit(cache=True)
def mlp_policy(state, features, params, memory, out) -> None:
    """The env's observation, normalised, through the network, mapped to depths (module docstring)."""
    tick = state[J_TICK]
    bq, aq = state[J_BID_SIZE], state[J_ASK_SIZE]
    n_obs = int(params[12])
    if features.shape[0] < 2 + n_obs - N_OBS:  # a replay without the columns: no quote rather than garbage
        out[0], out[1] = math.nan, math.nan
        return
    obs = np.empty(n_obs)
    obs[0] = np.float32(state[J_Q] / state[J_Q_MAX])
    obs[1] = np.float32(state[J_TAU] / params[2])
    obs[2] = np.float32((state[J_ASK] - state[J_BID]) / tick)
    obs[3] = np.float32((bq - aq) / (bq + aq))
    obs[4] = np.float32(features[0])
    obs[5] = np.float32(features[1])
    obs[6] = np.float32((state[J_MID] - params[3]) / tick)
    obs[7] = np.float32(state[J_SIGMA] / tick)
    for j in range(N_OBS, n_obs):
        obs[j] = np.float32(features[2 + j - N_OBS])
    clip = params[5]
    if clip > 0.0:
        for j in range(n_obs):
            z = (obs[j] - params[HEADER + j]) / math.sqrt(params[HEADER + n_obs + j] + params[4])
            obs[j] = np.float32(min(max(z, -clip), clip))
    a = np.empty(2)
    mlp_forward(params, obs, a)
    for s in range(2):
        v = min(max(np.float32(a[s]), params[6 + s]), params[8 + s])  # float32 as torch's, the model's box
        if params[13] != 0.0:  # RescaleAction's map, in float32 as the wrapper computes it
            v = np.float32(
                np.float32(np.float32(v) - np.float32(params[16 + s])) / np.float32(params[14 + s])
            )
        out[s] = min(max(v, params[10]), params[11]) * tick  # the env's depth box (ticks), to price


def mlp_jit_policy(
    layers: Sequence[tuple[np.ndarray, np.ndarray]],
    *,
    activation: str,
    horizon_s: float,
    first_mid: float,
    action_low: Sequence[float],
    action_high: Sequence[float],
    depth_low_ticks: float,
    depth_high_ticks: float,
    obs_mean: Sequence[float] | None = None,
    obs_var: Sequence[float] | None = None,
    epsilon: float = 1e-8,
    clip_obs: float = 10.0,
    n_obs: int = N_OBS,
    rescale: tuple[Sequence[float], Sequence[float]] | None = None,
    name: str = "ppo",
) -> JitPolicy:
    """The compiled policy of an MLP (module docstring).

    Args:
        layers: (W, b) per layer, hidden layers then the action layer (W of shape (n_out, n_in), as torch's
            ``Linear.weight``); ``n_obs`` inputs, 2 outputs.
        activation: "tanh" or "relu" (the hidden layers'). horizon_s: the replay's AS horizon (s).
        first_mid: the mid of the tape's first event (price units). action_low, action_high: the model's
            action box. depth_low_ticks, depth_high_ticks: the env's depth box (ticks).
        obs_mean, obs_var, epsilon, clip_obs: the observation normaliser's statistics (None: no normaliser).
        n_obs: the observation's width, :data:`N_OBS` plus the env's signal columns, which the replay's
            ``features`` must then carry after the two of :func:`env_features` (:func:`mlp_features`).
        rescale: (gradient, intercept), 2 values each, of the ``RescaleAction`` wrapper the agent acted
            through (:func:`rescale_coefficients`), or None: the model's actions are depths in ticks.

    Raises:
        ValueError: a width below :data:`N_OBS`, layer shapes that do not chain from ``n_obs`` inputs to 2
            outputs, an unknown activation, statistics of the wrong length.
    """
    if isinstance(n_obs, bool) or not isinstance(n_obs, (int, np.integer)) or n_obs < N_OBS:
        raise ValueError(f"n_obs must be an integer >= {N_OBS}, got {n_obs!r}")
    n_obs = int(n_obs)
    if activation not in ACTIVATIONS:
        raise ValueError(f"activation must be one of {sorted(ACTIVATIONS)}, got {activation!r}")
    if len(layers) < 1:
        raise ValueError("layers must hold at least the action layer")
    body: list[np.ndarray] = []
    n_in = n_obs
    for i, (w, b) in enumerate(layers):
        w, b = np.asarray(w, dtype=np.float64), np.asarray(b, dtype=np.float64).reshape(-1)
        if w.ndim != 2 or w.shape[1] != n_in or b.shape != (w.shape[0],):
            raise ValueError(f"layer {i}: W {w.shape} and b {b.shape} do not take {n_in} inputs")
        body.append(np.concatenate([[w.shape[1], w.shape[0]], w.ravel(), b]))
        n_in = w.shape[0]
    if n_in != 2:
        raise ValueError(f"the action layer must have 2 outputs (bid, ask), got {n_in}")
    norm = obs_mean is not None
    mean = np.zeros(n_obs) if not norm else np.asarray(obs_mean, dtype=np.float64).reshape(-1)
    var = np.ones(n_obs) if not norm else np.asarray(obs_var, dtype=np.float64).reshape(-1)
    if mean.shape != (n_obs,) or var.shape != (n_obs,):
        raise ValueError(f"obs_mean and obs_var must hold {n_obs} values, got {mean.shape} and {var.shape}")
    head = [
        float(ACTIVATIONS[activation]),
        float(len(layers) - 1),
        float(horizon_s),
        float(first_mid),
        float(epsilon),
        float(clip_obs) if norm else 0.0,
        *(float(x) for x in action_low),
        *(float(x) for x in action_high),
        float(depth_low_ticks),
        float(depth_high_ticks),
        float(n_obs),
    ]
    if rescale is None:
        head += [0.0, 1.0, 1.0, 0.0, 0.0]
    else:
        grad, icp = (np.asarray(x, dtype=np.float64).reshape(-1) for x in rescale)
        if grad.shape != (2,) or icp.shape != (2,) or not (np.all(np.isfinite(grad)) and np.all(grad != 0)):
            raise ValueError(
                f"rescale must be (gradient, intercept) of 2 finite values each, gradient non-zero, got {rescale!r}"
            )
        head += [1.0, *grad.tolist(), *icp.tolist()]
    if len(head) != HEADER:
        raise ValueError("action_low and action_high must hold 2 values each")
    params = np.concatenate([np.array(head), mean, var, *body])
    return JitPolicy(mlp_policy, params=params, name=name)
