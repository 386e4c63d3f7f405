"""numba's ``njit`` with an on-disk cache that cannot go stale.

numba's own cache (``cache=True``) checks only the source file of the function it compiles. A kernel that
inlines a helper from another module (``match_and_settle`` from :mod:`mmenv.sim.fills`, the counter-based
draws of :mod:`mmenv.counter_rng`) keeps running the old helper after that module changes, until its own
file changes too. :func:`njit` therefore puts the cache of every function defined in mmenv or in its
policies (``agents``) in a directory named by a hash of all their sources together
(``mmenv/__pycache__/numba-<hash>/``, or the user's cache directory when the package is read-only): any edit
anywhere in either package starts a fresh cache, and an unchanged tree reuses its compiled code across
processes. Functions defined elsewhere (a user's own policy) keep numba's default cache location.

Directories of earlier trees are deleted once they have not been used for a day (only ``numba-*``
directories that this module wrote, never anything else).
"""

from __future__ import annotations

import functools
import hashlib
import importlib.util
import os
import shutil
import time
from pathlib import Path
from typing import Any

__all__ = ["install_cache_locator", "njit", "source_tree_hash"]

_PREFIX = "numba-"
_STALE_AFTER_S = 86_400.0


@functools.lru_cache(maxsize=1)
def _roots() -> tuple[Path, ...]:
    """The package directories whose sources key the cache: mmenv's and, when installed, agents'."""
    roots = [Path(__file__).resolve().parent]
    spec = importlib.util.find_spec("agents")
    if spec is not None and spec.submodule_search_locations:
        roots.extend(Path(p).resolve() for p in spec.submodule_search_locations)
    return tuple(roots)


@functools.lru_cache(maxsize=1)
def source_tree_hash() -> str:
    """SHA-256 (first 16 hex digits) of every ``.py`` file of the packages, with their relative paths."""
    h = hashlib.sha256()
    for root in _roots():
        for path in sorted(root.rglob("*.py")):
            h.update(f"{root.name}/{path.relative_to(root).as_posix()}\0".encode())
            h.update(path.read_bytes())
            h.update(b"\0")
    return h.hexdigest()[:16]


def _owner(py_file: str) -> Path | None:
    """The package root that holds ``py_file``, or None if it is not ours."""
    path = Path(py_file).resolve()
    for root in _roots():
        if path.is_relative_to(root):
            return root
    return None


def _cache_bases() -> list[Path]:
    """Where the cache of this tree may live: in the package, else in the user's cache directory."""
    in_tree = _roots()[0] / "__pycache__"
    user = Path(os.environ.get("XDG_CACHE_HOME", Path.home() / ".cache")) / "mmenv"
    return [in_tree / f"{_PREFIX}{source_tree_hash()}", user / f"{_PREFIX}{source_tree_hash()}"]


def _prune(base: Path) -> None:
    """Delete cache directories of other source trees unused for a day (our own ``numba-*`` only)."""
    now = time.time()
    for other in base.parent.glob(f"{_PREFIX}*"):
        if other == base or not other.is_dir():
            continue
        try:
            if now - other.stat().st_mtime > _STALE_AFTER_S:
                shutil.rmtree(other, ignore_errors=True)
        except OSError:
            pass


@functools.lru_cache(maxsize=1)
def install_cache_locator() -> None:
    """Put the source-tree locator first in numba's list of cache locators (once per process)."""
    from numba.core import caching

    in_tree = getattr(caching, "InTreeCacheLocator", None) or caching._InTreeCacheLocator

    class SourceTreeCacheLocator(in_tree):
        """numba's in-tree locator, moved into a directory keyed by the hash of the whole source tree."""

        def __init__(self, py_func: Any, py_file: str, base: Path, root: Path) -> None:
            super().__init__(py_func, py_file)
            rel = Path(py_file).resolve().parent.relative_to(root.parent)
            self._cache_path = str(base / rel)

        @classmethod
        def from_function(cls, py_func: Any, py_file: str):
            root = _owner(py_file)
            if root is None or not os.path.exists(py_file):
                return None
            for base in _cache_bases():
                self = cls(py_func, py_file, base, root)
                try:
                    self.ensure_cache_path()
                except OSError:
                    continue
                _prune_once(base)
                return self
            return None

    impl = getattr(caching, "CacheImpl", None) or caching._CacheImpl
    impl._locator_classes.insert(0, SourceTreeCacheLocator)


@functools.cache
def _prune_once(base: Path) -> None:
    os.utime(base)
    _prune(base)


def njit(*args: Any, **kwargs: Any):
    """``numba.njit`` (same arguments) with the cache of :mod:`mmenv.jit` when ``cache=True``."""
    import numba

    if kwargs.get("cache"):
        install_cache_locator()
    return numba.njit(*args, **kwargs)
