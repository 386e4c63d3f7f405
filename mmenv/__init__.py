"""mmenv: inventory-aware market making in the Avellaneda-Stoikov model and beyond.

``import mmenv`` registers the Gymnasium environment ``mmenv/MarketMaking-v0`` (single env and native vector
env) and exposes the parameter classes and the AS engine. Heavy modules (the core, data, calibration,
backtesting, plotting) load on first use.
"""

from __future__ import annotations

from gymnasium.envs.registration import register, registry

from mmenv.config import MarketParams
from mmenv.engine import MarketMakingEngine

__version__ = "0.1.0"
__all__ = ["ENV_ID", "MarketMakingEngine", "MarketParams", "TaskParams", "__version__"]

ENV_ID = "mmenv/MarketMaking-v0"

if ENV_ID not in registry:
    register(
        id=ENV_ID,
        entry_point="mmenv.env:MarketMakingEnv",
        vector_entry_point="mmenv.vector_env:MarketMakingVectorEnv",
    )


def __getattr__(name: str):
    """Lazy access to the env classes without importing numba at ``import mmenv``."""
    if name == "TaskParams":
        from mmenv.task import TaskParams

        return TaskParams
    if name == "MarketMakingEnv":
        from mmenv.env import MarketMakingEnv

        return MarketMakingEnv
    if name == "MarketMakingVectorEnv":
        from mmenv.vector_env import MarketMakingVectorEnv

        return MarketMakingVectorEnv
    raise AttributeError(f"module 'mmenv' has no attribute {name!r}")
