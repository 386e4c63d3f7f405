"""Market-making policies: the AS strategy and baselines, all behind one Policy protocol.

``agents.ppo`` (the ``rl`` extra) is imported lazily: ``import agents`` does not need torch.
"""

from agents.avellaneda_stoikov import AvellanedaStoikovAgent, SymmetricAgent
from agents.base import BasePolicy, Policy, QuoteState, state_from_obs, to_env_action
from agents.exact_optimum import ExactOptimumAgent
from agents.naive import NaiveAgent
from agents.optimal import CJPAgent, GLFTAgent
from agents.passive import PassiveAgent
from agents.touch import TouchAgent
from agents.trend import TrendFollowingAgent

__all__ = [
    "AvellanedaStoikovAgent",
    "BasePolicy",
    "CJPAgent",
    "ExactOptimumAgent",
    "GLFTAgent",
    "NaiveAgent",
    "PassiveAgent",
    "Policy",
    "QuoteState",
    "SymmetricAgent",
    "TouchAgent",
    "TrendFollowingAgent",
    "make_policy",
    "state_from_obs",
    "to_env_action",
]

POLICIES = {
    "as": AvellanedaStoikovAgent,
    "symmetric": SymmetricAgent,
    "naive": NaiveAgent,
    "passive": PassiveAgent,
    "trend": TrendFollowingAgent,
    "glft": GLFTAgent,
    "optimal": CJPAgent,
    "exact": ExactOptimumAgent,
    "touch": TouchAgent,
}


def make_policy(name: str, **kwargs) -> Policy:
    """Build a policy by its short name (a key of ``POLICIES``, or "ppo" with ``path=`` a saved model).

    "ppo" loads :class:`agents.ppo.PPOAgent` lazily (the ``rl`` extra: torch and stable-baselines3).
    """
    if name == "ppo":
        from agents.ppo import PPOAgent

        return PPOAgent(**kwargs)
    if name not in POLICIES:
        raise ValueError(f"strategy must be one of {sorted(POLICIES)}, got {name!r}")
    return POLICIES[name](**kwargs)
