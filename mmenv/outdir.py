"""Output directories of the commands: each run writes into a private staging directory, swapped in at the end.

:func:`staged` is the one rule every command follows for its ``--out DIR``:

1. Before anything runs, ``DIR`` is checked: a new or empty directory, or one written by an earlier mmenv run
   (it holds the marker file :data:`MARKER`, which lists every file that run wrote) and holding nothing else,
   is accepted; a non-empty directory without the marker, or one holding a file the marker does not list (a
   file put there since, such as the data a run reads), is refused (:class:`OutputDirError`, naming the
   file) unless ``force`` is given. It is never replaced when it holds the current working directory, the
   home directory or an input of the run (:func:`reading`: the files a command reads are sacred, ``force``
   or not).
2. The command writes into a fresh staging directory beside ``DIR`` (``.DIR.stage-<pid>-<random>``, made by
   :func:`tempfile.mkdtemp`, so two runs never share a file name).
3. On success the staging directory (with the marker) replaces ``DIR`` in one step: an atomic exchange of the
   two directories (``renameat2(RENAME_EXCHANGE)`` on Linux), else two renames under a lock on the parent
   directory; the previous content is then deleted. Files of the previous run (a figure of a strategy that
   is no longer run) never linger next to the new ones.
4. On any failure, Ctrl-C included, the staging directory is deleted and ``DIR`` is left as it was.

Staging directories of runs killed without cleanup (SIGKILL) are removed by the next run into the same
``DIR`` once their process is gone. :func:`atomic_write_text` / :func:`atomic_write_bytes` write single files
through a unique temporary name and :func:`os.replace`.
"""

from __future__ import annotations

import contextlib
import contextvars
import ctypes
import ctypes.util
import json
import os
import shutil
import tempfile
import time
from collections.abc import Iterable, Iterator
from pathlib import Path

__all__ = [
    "MARKER",
    "OutputDirError",
    "atomic_write_bytes",
    "atomic_write_text",
    "check_target",
    "reading",
    "staged",
]

#: Marker file written into every output directory produced by :func:`staged`.
MARKER = ".mmenv-output"


class OutputDirError(ValueError):
    """The output directory cannot be used (refused before the run starts)."""


#: The files the current run reads (:func:`reading`), absolute; :func:`check_target` never replaces them.
_INPUTS: contextvars.ContextVar[tuple[Path, ...]] = contextvars.ContextVar("mmenv_run_inputs", default=())


@contextlib.contextmanager
def reading(paths: Iterable[str | os.PathLike]) -> Iterator[None]:
    """Declare the files (or folders) the run inside the block reads: :func:`staged` refuses an output
    directory that holds any of them, ``force`` or not (replacing it would delete the run's own input)."""
    token = _INPUTS.set(tuple(Path(os.path.abspath(p)) for p in paths))
    try:
        yield
    finally:
        _INPUTS.reset(token)


def _inside(path: Path, folder: Path) -> bool:
    p, f = path.resolve(), folder.resolve()
    return p == f or f in p.parents


def _written_files(target: Path) -> set[str] | None:
    """The files the marker of ``target`` says mmenv wrote (relative POSIX paths); None for a marker written
    before the list was kept."""
    try:
        files = json.loads((target / MARKER).read_text(encoding="utf-8")).get("files")
    except (OSError, ValueError, AttributeError):
        return None
    return set(files) if isinstance(files, list) else None


def _foreign_file(target: Path) -> Path | None:
    """The first file of ``target`` that mmenv did not write (not in its marker's list; with an old marker
    without a list, a file modified after the marker), else None."""
    written = _written_files(target)
    stamp = (target / MARKER).stat().st_mtime
    for root, dirs, files in os.walk(target):
        dirs.sort()
        for name in sorted(files):
            p = Path(root) / name
            rel = p.relative_to(target).as_posix()
            if rel == MARKER:
                continue
            if written is not None and rel not in written:
                return p
            if written is None and p.lstat().st_mtime > stamp + 2.0:
                return p
    return None


def _umask() -> int:
    mask = os.umask(0o022)
    os.umask(mask)
    return mask


def atomic_write_bytes(path: str | os.PathLike, data: bytes) -> Path:
    """Write ``data`` to ``path`` through a unique temporary file in the same directory, then rename it."""
    path = Path(path)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".part")
    try:
        os.fchmod(fd, 0o666 & ~_umask())  # mkstemp makes it private; the file gets the usual permissions
        with os.fdopen(fd, "wb") as fh:
            fh.write(data)
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        raise
    return path


def atomic_write_text(path: str | os.PathLike, text: str) -> Path:
    """:func:`atomic_write_bytes` of UTF-8 text."""
    return atomic_write_bytes(path, text.encode("utf-8"))


def _protected(target: Path) -> bool:
    """True when replacing ``target`` would remove the current directory or the home directory."""
    cwd = Path.cwd().resolve()
    t = target.resolve()
    return t == cwd or t in cwd.parents or t == Path.home().resolve() or t == Path(t.anchor)


def check_target(out: str | os.PathLike, force: bool = False) -> Path:
    """The absolute path of ``out`` if a run may replace it; else :class:`OutputDirError` saying what to do."""
    target = Path(os.path.abspath(out))
    if target.is_symlink():
        raise OutputDirError(f"--out {out} is a symbolic link; give the directory it points to")
    if target.exists() and not target.is_dir():
        raise OutputDirError(f"--out {out} is a file, not a directory; choose a directory")
    if target.is_dir() and _protected(target):
        raise OutputDirError(
            f"--out {out} holds the current or home directory and is never replaced; choose a new directory"
        )
    for p in _INPUTS.get():
        if _inside(p, target):
            raise OutputDirError(
                f"--out {out} holds {p}, which this run reads: the run would replace it; choose another --out "
                "(or move the file out of it)"
            )
    if target.is_dir() and not force and not (target / MARKER).is_file() and any(target.iterdir()):
        raise OutputDirError(
            f"--out {out} is not empty and was not written by mmenv; choose a new or empty directory, "
            "or add --force to replace its content"
        )
    if target.is_dir() and not force and (target / MARKER).is_file():
        foreign = _foreign_file(target)
        if foreign is not None:
            raise OutputDirError(
                f"--out {out} holds {foreign}, which mmenv did not write; move it out, choose another --out, or "
                "add --force to replace the directory's content"
            )
    return target


def _pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except (PermissionError, OSError):
        return True
    return True


def _remove_stale_stages(target: Path) -> None:
    """Delete staging directories of ``target`` left by runs whose process no longer exists."""
    for p in target.parent.glob(f".{target.name}.stage-*"):
        try:
            pid = int(p.name[len(f".{target.name}.stage-") :].split("-", 1)[0])
        except ValueError:
            continue
        if pid != os.getpid() and not _pid_alive(pid):
            shutil.rmtree(p, ignore_errors=True)


def _exchange(a: Path, b: Path) -> bool:
    """Swap two existing paths atomically (Linux ``renameat2(RENAME_EXCHANGE)``); False where unsupported."""
    name = ctypes.util.find_library("c")
    if name is None:
        return False
    try:
        libc = ctypes.CDLL(name, use_errno=True)
        fn = libc.renameat2
    except (OSError, AttributeError):
        return False
    at_fdcwd, rename_exchange = -100, 2
    rc = fn(at_fdcwd, os.fsencode(a), at_fdcwd, os.fsencode(b), ctypes.c_uint(rename_exchange))
    return rc == 0


@contextlib.contextmanager
def _parent_lock(parent: Path) -> Iterator[None]:
    """An exclusive advisory lock on the parent directory while two runs might swap into it."""
    try:
        import fcntl
    except ImportError:  # pragma: no cover - not POSIX: the renames alone
        yield
        return
    fd = os.open(parent, os.O_RDONLY)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)
        yield
    finally:
        os.close(fd)


def _commit(stage: Path, target: Path, force: bool) -> None:
    with _parent_lock(target.parent):
        check_target(target, force=force)
        if not target.exists():
            os.rename(stage, target)
            return
        if _exchange(stage, target):
            shutil.rmtree(stage, ignore_errors=True)  # now holds the previous content
            return
        old = Path(tempfile.mkdtemp(dir=target.parent, prefix=f".{target.name}.old-{os.getpid()}-"))
        os.rmdir(old)
        os.rename(target, old)
        os.rename(stage, target)
        shutil.rmtree(old, ignore_errors=True)


@contextlib.contextmanager
def staged(out: str | os.PathLike | None, force: bool = False, command: str = "") -> Iterator[Path | None]:
    """Yield a fresh staging directory for ``out`` and swap it in when the block succeeds.

    Args:
        out: the final output directory (``--out``); None: nothing is written, None is yielded.
        force: replace a non-empty ``out`` that was not written by mmenv, or holds files mmenv did not write
            (``--force``); never one holding an input of the run (:func:`reading`).
        command: the command name recorded in the marker file.

    Raises:
        OutputDirError: ``out`` is a file, a symbolic link, holds the current or home directory or an input of
            the run, or is a non-empty directory not written by mmenv or holding a file mmenv did not write
            (without ``force``); raised before the block runs.
    """
    if out is None:
        yield None
        return
    target = check_target(out, force=force)
    target.parent.mkdir(parents=True, exist_ok=True)
    _remove_stale_stages(target)
    stage = Path(tempfile.mkdtemp(dir=target.parent, prefix=f".{target.name}.stage-{os.getpid()}-"))
    os.chmod(stage, 0o777 & ~_umask())  # mkdtemp makes it private; the result gets the usual permissions
    try:
        yield stage
        files = sorted(p.relative_to(stage).as_posix() for p in stage.rglob("*") if not p.is_dir())
        marker = {
            "command": command,
            "written_utc": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
            "files": [f for f in files if f != MARKER],
        }
        atomic_write_text(stage / MARKER, json.dumps(marker) + "\n")
        _commit(stage, target, force)
    except BaseException:
        shutil.rmtree(stage, ignore_errors=True)
        raise
