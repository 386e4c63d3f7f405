"""numba's on-disk cache cannot go stale: a change in an inlined helper of another module is seen.

A copy of the package is run in fresh processes: a kernel of :mod:`mmenv.sim.env_step` (``step_paths``) inlines
``match_and_settle`` from :mod:`mmenv.sim.fills`. numba's default cache checks only ``env_step.py`` and would
keep the old helper; :mod:`mmenv.jit` keys the cache by the whole source tree, so the edit is seen, and an
unchanged tree reuses its cache.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import mmenv

PACKAGE = Path(mmenv.__file__).resolve().parent

PROGRAM = """
import numpy as np
from mmenv.sim.env_step import step_paths
z = np.zeros(1)
q, cash = z.copy(), z.copy()
out = [z.copy() for _ in range(5)]
# a bid at 99 hit by sellers: 2 units bought with fees 0.5 per unit
step_paths(q, cash, np.full(1, 100.0), np.full(1, 1.0), np.full(1, 9.0), np.full(1, 2.0), np.full(1, 0.0),
           10.0, 2.0, 0.5, 0.0, *out)
print(repr(float(cash[0])))
"""


def _run(root: Path) -> float:
    env = {**os.environ, "PYTHONPATH": str(root), "PYTHONDONTWRITEBYTECODE": "1"}
    env.pop("NUMBA_CACHE_DIR", None)
    out = subprocess.run(
        [sys.executable, "-c", PROGRAM], cwd=root, env=env, capture_output=True, text=True, timeout=300
    )
    assert out.returncode == 0, out.stderr
    return float(out.stdout.strip().splitlines()[-1])


def _cache_dirs(root: Path) -> list[str]:
    return sorted(p.name for p in (root / "mmenv" / "__pycache__").glob("numba-*"))


def test_an_edited_inlined_helper_is_recompiled(tmp_path):
    root = tmp_path / "tree"
    shutil.copytree(PACKAGE, root / "mmenv", ignore=shutil.ignore_patterns("__pycache__"))
    assert _run(root) == -2 * 99.0 - 2 * 0.5
    first = _cache_dirs(root)
    assert len(first) == 1 and any((root / "mmenv" / "__pycache__" / first[0]).rglob("*.nbi"))

    assert _run(root) == -2 * 99.0 - 2 * 0.5  # unchanged tree: same cache directory, reused
    assert _cache_dirs(root) == first

    fills = root / "mmenv" / "sim" / "fills.py"
    text = fills.read_text()
    edited = re.sub(
        r"fees = fee_per_unit \* \(bought \+ sold\)", "fees = 3.0 * fee_per_unit * (bought + sold)", text
    )
    assert edited != text
    fills.write_text(edited)
    assert _run(root) == -2 * 99.0 - 3.0 * 2 * 0.5  # the helper's edit reaches the kernel of another module
    assert len(_cache_dirs(root)) == 2
