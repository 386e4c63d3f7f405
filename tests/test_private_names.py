"""No module of mmenv or agents imports another module's private name: what is shared is public, in one home.

The check reads every source file with ``ast``: ``from mmenv.x import _name`` and ``module._name`` where
``module`` was bound by an import of an ``mmenv`` or ``agents`` module are violations (dunder names such as
``__version__`` are not private). Lazy imports inside functions count too.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
PACKAGES = ("mmenv", "agents")


def _private(name: str) -> bool:
    return name.startswith("_") and not name.startswith("__")


def private_imports(source: str, filename: str = "<source>") -> list[str]:
    """Every use of another module's private name in ``source``: ``file:line: what``."""
    tree = ast.parse(source, filename)
    found: list[str] = []
    modules: set[str] = set()  # local names bound to an mmenv or agents module (or a name imported from one)
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom) and node.module and node.module.split(".")[0] in PACKAGES:
            for alias in node.names:
                if _private(alias.name):
                    found.append(f"{filename}:{node.lineno}: from {node.module} import {alias.name}")
                else:
                    modules.add(alias.asname or alias.name)
        elif isinstance(node, ast.Import):
            for alias in node.names:
                if alias.name.split(".")[0] in PACKAGES:
                    modules.add(alias.asname or alias.name.split(".")[0])
    for node in ast.walk(tree):
        if isinstance(node, ast.Attribute) and _private(node.attr):
            base = node.value
            while isinstance(base, ast.Attribute) and not _private(base.attr):
                base = base.value  # mmenv.sim.core._x: the chain starts at the bound name
            if isinstance(base, ast.Name) and base.id in modules:
                found.append(f"{filename}:{node.lineno}: {ast.unparse(node)}")
    return found


@pytest.mark.parametrize(
    ("source", "bad"),
    [
        ("from mmenv.data.loaders.common import _fail", True),
        ("def f():\n    from agents.base import _helper\n", True),
        ("from mmenv.replay import kernel as kn\nkn._kernel()", True),
        ("import mmenv.sim.core\nmmenv.sim.core._finish_one", True),
        ("from mmenv.sim import core\ncore.SimulationCore._warn", True),
        ("from mmenv import __version__", False),
        ("from mmenv.replay import kernel as kn\nkn.run_events()", False),
        ("import numpy as np\nnp._NoValue", False),  # not ours
        ("class A:\n    def f(self):\n        return self._x", False),  # an object's own attribute
    ],
)
def test_the_check_sees_private_imports(source, bad):
    assert bool(private_imports(source)) is bad


def test_no_module_imports_a_private_name_of_another():
    files = sorted(p for pkg in PACKAGES for p in (ROOT / pkg).rglob("*.py"))
    assert len(files) > 50
    found = [hit for p in files for hit in private_imports(p.read_text(), str(p.relative_to(ROOT)))]
    assert not found, "\n".join(found)
