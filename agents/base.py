"""Shared plumbing of the strategies: :class:`BasePolicy`, and the policy contract re-exported from mmenv.

The contract (:class:`~mmenv.policy.Policy`, :class:`~mmenv.policy.QuoteState`,
:func:`~mmenv.policy.state_from_obs`, :func:`~mmenv.policy.to_env_action`) is defined in :mod:`mmenv.policy`,
the module the env, the backtester and the rollout call; it is re-exported here for the strategies.
"""

from __future__ import annotations

import numpy as np

from mmenv.policy import Policy, QuoteState, state_from_obs, to_env_action

__all__ = ["BasePolicy", "Policy", "QuoteState", "state_from_obs", "to_env_action"]


class BasePolicy:
    """Shared plumbing: ``act`` from observations through ``quote``. Subclasses implement ``quote``.

    Args:
        s0: the episode's starting mid, used to rebuild the absolute mid from the observation (price units).
    """

    name = "base"

    def __init__(self, s0: float = 100.0) -> None:
        self.s0 = float(s0)

    def reset(self, num_paths: int = 1) -> None:
        """Stateless by default."""

    def quote(self, state: QuoteState) -> tuple[np.ndarray, np.ndarray]:  # pragma: no cover - abstract
        raise NotImplementedError

    def act(self, obs: np.ndarray) -> np.ndarray:
        """Depths (N, 2) for observations (N, 4), or (2,) for one observation (4,).

        A single observation goes through ``quote`` with Python floats (the fast path of a single env).
        """
        if np.ndim(obs) == 1:
            q, tau, dmid, sigma = np.asarray(obs, dtype=np.float64).tolist()
            bid, ask = self.quote(QuoteState(q, tau, self.s0 + dmid, sigma, self.s0))
            return np.array([bid, ask], dtype=np.float64)
        bid, ask = self.quote(state_from_obs(obs, self.s0))
        out = np.stack([bid, ask], axis=-1)
        return out[0] if np.ndim(obs) == 1 else out
