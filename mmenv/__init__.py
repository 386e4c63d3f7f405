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

import importlib
import importlib.abc
import importlib.util
import sys
import warnings

from gymnasium.envs.registration import register, registry

from mmenv.config import MarketParams
from mmenv.engine import MarketMakingEngine

__version__ = "0.1.0"
__all__ = ["ENV_ID", "MarketMakingEngine", "MarketParams", "TaskParams", "__version__"]

ENV_ID = "mmenv/MarketMaking-v0"

if ENV_ID not in registry:
    register(
        id=ENV_ID,
        entry_point="mmenv.envs.env:MarketMakingEnv",
        vector_entry_point="mmenv.envs.vector_env:MarketMakingVectorEnv",
    )


def _preload_in_forkserver() -> None:
    """Add mmenv to the forkserver's preload list, so the id is registered in the processes it forks."""
    try:
        from multiprocessing import forkserver
    except ImportError:  # platforms without a forkserver
        return
    current = list(
        getattr(getattr(forkserver, "_forkserver", None), "_preload_modules", None) or ["__main__"]
    )
    if "mmenv" not in current:
        forkserver.set_forkserver_preload([*current, "mmenv"])


_preload_in_forkserver()


#: Import paths of the previous release -> their home now. They keep working for one release, with a
#: DeprecationWarning; a module under a moved package (``mmenv.intensity.models``) follows its package.
MOVED_MODULES: dict[str, str] = {
    "mmenv.analytics_stream": "mmenv.analytics.stream",
    "mmenv.backtest.quotes": "mmenv.sim.quote_rules",
    "mmenv.calibration_report": "mmenv.calibration.report",
    "mmenv.calibration_streaming": "mmenv.calibration.streaming",
    "mmenv.cli_errors": "mmenv.cli.errors",
    "mmenv.core": "mmenv.sim.core",
    "mmenv.data.cache": "mmenv.data.bars.cache",
    "mmenv.data.readers": "mmenv.data.bars.readers",
    "mmenv.data.synthetic": "mmenv.data.bars.synthetic",
    "mmenv.data.validate": "mmenv.data.bars.validate",
    "mmenv.data.yahoo": "mmenv.data.bars.yahoo",
    "mmenv.env": "mmenv.envs.env",
    "mmenv.intensity": "mmenv.calibration.intensity",
    "mmenv.market_kernels": "mmenv.sim.market_kernels",
    "mmenv.market_registry": "mmenv.markets.registry",
    "mmenv.market_variants": "mmenv.markets.variants",
    "mmenv.model_step": "mmenv.sim.model_step",
    "mmenv.plot_style": "mmenv.viz.style",
    "mmenv.plots": "mmenv.viz.plots",
    "mmenv.quote_rules": "mmenv.sim.quote_rules",
    "mmenv.render": "mmenv.envs.render",
    "mmenv.report_html": "mmenv.viz.html",
    "mmenv.rollout": "mmenv.envs.rollout",
    "mmenv.shards": "mmenv.sim.shards",
    "mmenv.single_path": "mmenv.sim.single_path",
    "mmenv.tape": "mmenv.data.tape",
    "mmenv.tape_bars": "mmenv.data.tape_bars",
    "mmenv.tape_loaders": "mmenv.data.loaders",
    "mmenv.task": "mmenv.sim.task",
    "mmenv.tick_market": "mmenv.markets.tick_market",
    "mmenv.ticks": "mmenv.data.ticks",
    "mmenv.trade_loaders": "mmenv.calibration.trades",
    "mmenv.vector_env": "mmenv.envs.vector_env",
    "mmenv.volforecast": "mmenv.calibration.volforecast",
}


def _new_home(fullname: str) -> str | None:
    """The current name of a moved module ``fullname``, or None if it did not move."""
    if fullname in MOVED_MODULES:
        return MOVED_MODULES[fullname]
    head, _, tail = fullname.rpartition(".")
    while head:
        if head in MOVED_MODULES:
            return f"{MOVED_MODULES[head]}.{fullname[len(head) + 1 :]}"
        head, _, tail = head.rpartition(".")
    return None


class _MovedModules(importlib.abc.MetaPathFinder, importlib.abc.Loader):
    """Resolve an old import path to the module at its new home (the same module object, not a copy).

    ``exec_module`` replaces the placeholder in ``sys.modules`` with the real module, which the import
    system then returns (and binds on the parent package), so ``import mmenv.core`` and ``from mmenv
    import core`` give ``mmenv.sim.core`` itself and its state is shared.
    """

    def find_spec(self, fullname, path=None, target=None):
        if not fullname.startswith("mmenv.") or _new_home(fullname) is None:
            return None
        return importlib.util.spec_from_loader(fullname, self)

    def create_module(self, spec):
        return None

    def exec_module(self, module) -> None:
        new = _new_home(module.__name__)
        warnings.warn(
            f"{module.__name__} moved to {new}: import it from there (the old path is removed in the next "
            "release)",
            DeprecationWarning,
            stacklevel=2,
        )
        sys.modules[module.__name__] = importlib.import_module(new)


if not any(isinstance(f, _MovedModules) for f in sys.meta_path):
    sys.meta_path.insert(0, _MovedModules())


def __getattr__(name: str):
    """Lazy access to the env classes without importing numba at ``import mmenv``."""
    if name == "TaskParams":
        from mmenv.sim.task import TaskParams

        return TaskParams
    if name == "MarketMakingEnv":
        from mmenv.envs.env import MarketMakingEnv

        return MarketMakingEnv
    if name == "MarketMakingVectorEnv":
        from mmenv.envs.vector_env import MarketMakingVectorEnv

        return MarketMakingVectorEnv
    raise AttributeError(f"module 'mmenv' has no attribute {name!r}")
