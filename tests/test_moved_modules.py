"""The import paths of the previous release keep working for one release, with a DeprecationWarning.

Each old path must give the very module object of its new home (one module, shared state), warn once with
the new path in the message, and a module under a moved package must follow its package. The env ids and
the package-level imports are unchanged.
"""

from __future__ import annotations

import json
import subprocess
import sys

import gymnasium as gym

import mmenv

PROGRAM = r"""
import importlib, json, sys, warnings
import mmenv
rows = []
for old, new in sorted(mmenv.MOVED_MODULES.items()):
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        a = importlib.import_module(old)
    b = importlib.import_module(new)
    msgs = [str(w.message) for w in caught if issubclass(w.category, DeprecationWarning)]
    rows.append([old, a is b, sys.modules[old] is b, b.__name__ == new, any(new in m for m in msgs)])
with warnings.catch_warnings(record=True) as caught:
    warnings.simplefilter("always")
    from mmenv.intensity.models import make_law
from mmenv.calibration.intensity import models
rows.append(["mmenv.intensity.models", make_law is models.make_law, True, True, len(caught) >= 1])
from mmenv import tape_loaders
from mmenv.data import loaders
rows.append(["from mmenv import tape_loaders", tape_loaders is loaders, True, True, True])
print(json.dumps(rows))
"""


def test_every_old_path_is_the_new_module_and_warns():
    out = subprocess.run([sys.executable, "-c", PROGRAM], capture_output=True, text=True, timeout=300)
    assert out.returncode == 0, out.stderr
    rows = json.loads(out.stdout.strip().splitlines()[-1])
    assert len(rows) == len(mmenv.MOVED_MODULES) + 2
    bad = [r for r in rows if not all(r[1:])]
    assert not bad, bad


def test_env_ids_and_package_imports_are_unchanged():
    from mmenv.analytics import summarize  # the package re-exports the scores
    from mmenv.data import load_bars, synthetic_bars  # noqa: F401
    from mmenv.markets import ModelMarket  # noqa: F401

    assert callable(summarize)
    env = gym.make("mmenv/MarketMaking-v0")
    env.reset(seed=0)
    env.close()
    env = gym.make("mmenv:mmenv/MarketMaking-v0")
    env.close()
    assert gym.spec(mmenv.ENV_ID).entry_point == "mmenv.envs.env:MarketMakingEnv"


def test_the_command_runs_as_a_module():
    out = subprocess.run(
        [sys.executable, "-m", "mmenv.cli", "--help"], capture_output=True, text=True, timeout=120
    )
    assert out.returncode == 0 and "replicate" in out.stdout
