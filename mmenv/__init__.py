"""mmenv: inventory-aware market making in the Avellaneda-Stoikov model and beyond.

``import mmenv`` registers the Gymnasium environment ``mmenv/MarketMaking-v0`` (single env and native vector
env) and exposes the parameter classes and the AS engine. Heavy modules (the core, data, calibration,
backtesting, plotting) load on first use.

The id exists in a process once ``import mmenv`` ran there. Processes started by ``multiprocessing``'s
forkserver (SB3's ``SubprocVecEnv`` default) import mmenv too (it is added to the forkserver's preload
list); for any other process (spawned workers, Ray env runners) use the module-prefixed id
``"mmenv:mmenv/MarketMaking-v0"``, which imports mmenv wherever it is made.
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


def _preload_in_forkserver() -> None:
    """Add mmenv to the forkserver's preload list, so the id is registered in the processes it forks."""
    try:
        from multiprocessing import forkserver
    except ImportError:  # platforms without a forkserver
        return
    current = list(getattr(getattr(forkserver, "_forkserver", None), "_preload_modules", None) or ["__main__"])
    if "mmenv" not in current:
        forkserver.set_forkserver_preload([*current, "mmenv"])


_preload_in_forkserver()


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
