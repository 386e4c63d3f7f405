"""Errors of the ``mmenv`` command: one line on stderr, exit status 2 for bad input, 1 for a failed run.

Every failure of a command ends in one line ``mmenv <command>: error: <what>; <what to do>`` on stderr:

* exit status **2**, usage and input errors: a bad argument (argparse, or a value outside its range checked
  by :func:`check_args` before anything runs: ``--seed -1``, ``--paths 0``, a non-finite float), a missing
  or unreadable file, a file whose content is invalid (``ValueError`` and its subclasses: bar validation,
  parse errors), a refused ``--out`` (:class:`mmenv.outdir.OutputDirError`), a missing optional extra
  (the message names the ``pip install -e ".[extra]"`` to run);
* exit status **1**, runtime failures: anything else (a network failure, a calibration that does not
  converge, an internal error);
* exit status **130** after Ctrl-C (the previous content of ``--out`` is left as it was).

``--debug`` (or the environment variable ``MMENV_DEBUG=1``) prints the traceback before the line. Library
messages that name a Python parameter (``ticks_per_bar``) get the command's flag added (``--ticks-per-bar``);
a message that does not say what to do gets the general advice (``see mmenv <command> --help``).

Warnings raised while a command runs are held back: a failed run prints its one error line and nothing
before it; a successful one prints each warning once, at the end, as ``mmenv <command>: warning: <what>``.
The files and folders given to a command (its path arguments other than ``--out``) are declared as its
inputs (:func:`mmenv.outdir.reading`): an ``--out`` that holds one of them is refused before anything runs.
"""

from __future__ import annotations

import argparse
import math
import os
import re
import signal
import sys
import threading
import traceback
import warnings
from collections.abc import Callable
from typing import Any

from mmenv.outdir import OutputDirError, reading

__all__ = [
    "ARG_RULES",
    "EXTRAS",
    "OneLineParser",
    "check_args",
    "debug_requested",
    "describe",
    "run_guarded",
]

#: importable module -> the extra of pyproject.toml that installs it.
EXTRAS: dict[str, str] = {
    "yfinance": "data",
    "stable_baselines3": "rl",
    "torch": "rl",
    "ray": "ray",
    "databento": "databento",
    "hypothesis": "dev",
    "pytest": "dev",
}

#: argument dest -> (test of one value, what the value must be). Lists are checked element by element.
ARG_RULES: dict[str, tuple[Callable[[Any], bool], str]] = {
    "seed": (lambda v: 0 <= v < 2**63, "a seed must be an integer in [0, 2^63)"),
    "seeds": (lambda v: 0 <= v < 2**63, "seeds must be integers in [0, 2^63)"),
    "eval_seed": (lambda v: 0 <= v < 2**63, "a seed must be an integer in [0, 2^63)"),
    "paths": (lambda v: 2 <= v <= 10_000_000, "must be in [2, 10^7] (standard errors need 2 paths)"),
    "days": (lambda v: 1 <= v <= 10_000, "must be in [1, 10000]"),
    "n_gamma": (lambda v: 2 <= v <= 10_000, "must be in [2, 10000]"),
    "timesteps": (lambda v: v >= 1, "must be >= 1"),
    "n_envs": (lambda v: 1 <= v <= 1_000_000, "must be in [1, 10^6]"),
    "eval_episodes": (lambda v: 2 <= v <= 10_000_000, "must be in [2, 10^7]"),
    "num_cpus": (lambda v: v >= 1, "must be >= 1"),
    "ticks_per_bar": (lambda v: 4 <= v <= 10_000, "each bound must be in [4, 10000] trades per bar"),
    "sampling_s": (lambda v: v > 0, "must be > 0 seconds"),
    "max_gap_s": (lambda v: v > 0, "must be > 0 seconds"),
    "dt": (lambda v: v > 0, "must be > 0 seconds"),
    "k": (lambda v: v > 0, "must be > 0"),
    "tick_k": (lambda v: v > 0, "must be > 0"),
    "gamma": (lambda v: v > 0, "must be > 0"),
    "gammas": (lambda v: v > 0, "must be > 0"),
    "gamma_min": (lambda v: v > 0, "must be > 0"),
    "gamma_max": (lambda v: v > 0, "must be > 0"),
    "risk": (lambda v: v > 0, "must be > 0"),
    "order_size": (lambda v: v > 0, "must be > 0"),
    "q_max": (lambda v: v > 0, "must be > 0"),
    "share": (lambda v: 0 < v <= 1, "must be in (0, 1]"),
    "decision_seconds": (lambda v: v >= 0, "must be >= 0"),
    "latency_seconds": (lambda v: v >= 0, "must be >= 0"),
    "latency_table": (lambda v: v >= 0, "latencies must be >= 0"),
    "horizon_seconds": (lambda v: v > 0, "must be > 0"),
    "markouts": (lambda v: v > 0, "horizons must be > 0"),
    "phi": (lambda v: v >= 0, "must be >= 0"),
    "alpha": (lambda v: v >= 0, "must be >= 0"),
}


def debug_requested(argv: list[str]) -> bool:
    """``--debug`` among the arguments or ``MMENV_DEBUG`` set to anything but '', '0', 'false', 'no'."""
    env = os.environ.get("MMENV_DEBUG", "").strip().lower()
    return "--debug" in argv or env not in ("", "0", "false", "no")


class OneLineParser(argparse.ArgumentParser):
    """An argparse parser whose errors are one line: ``<prog>: error: <message>; see <prog> --help``."""

    def error(self, message: str):  # type: ignore[override]
        """Print the one-line error and exit with status 2."""
        self.exit(2, f"{self.prog}: error: {message}; see {self.prog} --help\n")


def _flag(parser: argparse.ArgumentParser, dest: str) -> str:
    for action in parser._actions:
        if action.dest == dest and action.option_strings:
            return max(action.option_strings, key=len)
    return "--" + dest.replace("_", "-")


def check_args(parser: argparse.ArgumentParser, args: argparse.Namespace) -> None:
    """Refuse out-of-range values before the command runs (``parser.error``: one line, exit status 2).

    Every float argument must be finite; the arguments named in :data:`ARG_RULES` must satisfy their rule.
    """
    for action in parser._actions:
        value = getattr(args, action.dest, None)
        if value is None or not action.option_strings or isinstance(value, bool):
            continue
        values = list(value) if isinstance(value, (list, tuple)) else [value]
        flag = max(action.option_strings, key=len)
        for v in values:
            if isinstance(v, float) and not math.isfinite(v):
                parser.error(f"argument {flag}: must be a finite number, got {v}")
        rule = ARG_RULES.get(action.dest)
        if rule is None:
            continue
        test, what = rule
        for v in values:
            if isinstance(v, (int, float)) and not test(v):
                parser.error(f"argument {flag}: {what}, got {v}")
    lo_hi = getattr(args, "ticks_per_bar", None)
    if lo_hi is not None and len(lo_hi) == 2 and lo_hi[0] > lo_hi[1]:
        parser.error(
            f"argument {_flag(parser, 'ticks_per_bar')}: LO must be <= HI, got {lo_hi[0]} > {lo_hi[1]}"
        )


def _missing_extra(exc: BaseException) -> str | None:
    """The module of a missing optional extra in the exception chain of ``exc``, else None."""
    seen = set()
    e: BaseException | None = exc
    while e is not None and id(e) not in seen:
        seen.add(id(e))
        if isinstance(e, ModuleNotFoundError) and e.name:
            root = e.name.split(".")[0]
            if root in EXTRAS:
                return root
        e = e.__cause__ or e.__context__
    return None


def _with_flags(message: str, parser: argparse.ArgumentParser | None) -> str:
    """Add the command's flag after each Python parameter name of ``message`` (``ticks_per_bar`` -> flag)."""
    if parser is None:
        return message
    for action in parser._actions:
        if not action.option_strings or "_" not in action.dest:
            continue
        flag = max(action.option_strings, key=len)
        message = re.sub(
            rf"(?<![-\w]){re.escape(action.dest)}\b(?! \(--)", f"{action.dest} ({flag})", message
        )
    return message


def _given_by(text: str, parser: argparse.ArgumentParser | None, args: argparse.Namespace | None) -> str:
    """`` (given by --flag)`` when a path argument's value appears in ``text``, else ''."""
    if parser is None or args is None:
        return ""
    for action in parser._actions:
        value = getattr(args, action.dest, None)
        values = value if isinstance(value, (list, tuple)) else [value]
        for v in values:
            if isinstance(v, os.PathLike) and action.option_strings and str(v) in text:
                return f" (given by {max(action.option_strings, key=len)})"
    return ""


def _cli_advice(text: str) -> str:
    """Library advice that names Python calls, rewritten with the command's flags."""
    if "load_bars" not in text and "read_bars_csv" not in text:
        return text
    from mmenv.data.bars.validate import CLI_REMEDY, REMEDY

    return text.replace(REMEDY, CLI_REMEDY).replace(
        "Run load_bars once online to fill the cache.",
        "Run the command once without --offline to fill the cache.",
    )


def _with_advice(text: str, parser: argparse.ArgumentParser | None) -> str:
    """``text`` followed by ``; see <prog> --help`` unless it already says what to do (``<what>; <do>``)."""
    if "; " in text:
        return text
    return f"{text}; see {parser.prog} --help" if parser is not None else f"{text}; check the input"


def describe(
    exc: BaseException,
    parser: argparse.ArgumentParser | None = None,
    args: argparse.Namespace | None = None,
) -> tuple[int, str]:
    """Exit status and the one-line message of an exception raised by a command: ``<what>; <what to do>``.

    ``parser`` and ``args`` (the command's) let the message name the flag of a parameter or of a path.
    """
    if isinstance(exc, KeyboardInterrupt):
        return 130, "interrupted; the output directory was left as it was before this run"
    module = _missing_extra(exc)
    if module is not None:
        extra = EXTRAS[module]
        return 2, (
            f"this command needs {module}, which is not installed; install the {extra} extra: "
            f'pip install -e ".[{extra}]" (from a clone) or pip install "mmenv[{extra}]"'
        )
    text = _cli_advice(" ".join(str(exc).split()) or type(exc).__name__)
    if isinstance(exc, OutputDirError):
        return 2, text
    if isinstance(exc, OSError) and exc.filename is not None:
        what = {
            FileNotFoundError: "file not found",
            IsADirectoryError: "is a directory, not a file",
            NotADirectoryError: "a part of this path is not a directory",
            PermissionError: "permission denied",
        }.get(type(exc), exc.strerror or type(exc).__name__)
        name = str(exc.filename)
        return 2, f"{name}: {what}{_given_by(name, parser, args)}; check the path"
    if isinstance(exc, (FileNotFoundError, IsADirectoryError, NotADirectoryError, PermissionError)):
        return 2, f"{text}{_given_by(text, parser, args)}; check the path"
    if isinstance(exc, UnicodeDecodeError):
        return 2, f"cannot decode text as {exc.encoding}: {text}; save the file as UTF-8"
    if isinstance(exc, MemoryError):
        return 1, f"out of memory ({text}); run a smaller problem (fewer --paths, --days or strategies)"
    code = getattr(exc, "exit_code", None)
    if isinstance(code, int):
        return code, _with_advice(_with_flags(text, parser), parser)
    if isinstance(exc, ValueError):
        return 2, _with_advice(_with_flags(text, parser), parser)
    return 1, f"{type(exc).__name__}: {_with_flags(text, parser)}; run again with --debug for the traceback"


def _inputs(parser: argparse.ArgumentParser | None, args: argparse.Namespace | None) -> list[os.PathLike]:
    """The path arguments of a command other than ``--out`` (its inputs)."""
    if parser is None or args is None:
        return []
    out = []
    for action in parser._actions:
        if action.dest in ("out", "readme") or not action.option_strings:
            continue
        value = getattr(args, action.dest, None)
        for v in value if isinstance(value, (list, tuple)) else [value]:
            if isinstance(v, os.PathLike):
                out.append(v)
    return out


def run_guarded(
    prog: str,
    fn: Callable[[], int],
    debug: bool,
    parser: argparse.ArgumentParser | None = None,
    args: argparse.Namespace | None = None,
) -> int:
    """Run ``fn``; on an exception print the one-line error (and the traceback when ``debug``) and return
    its exit status (:func:`describe`)."""
    interrupted = []

    def on_sigint(signum, frame):  # remember the Ctrl-C, then interrupt as Python does by default
        interrupted.append(signum)
        raise KeyboardInterrupt

    in_main = threading.current_thread() is threading.main_thread()
    previous = signal.signal(signal.SIGINT, on_sigint) if in_main else None
    try:
        with warnings.catch_warnings(record=True) as caught, reading(_inputs(parser, args)):
            code = int(fn() or 0)  # warnings recorded under the filters in force, printed after a success
        for message in dict.fromkeys(" ".join(str(w.message).split()) for w in caught):
            print(f"{prog}: warning: {message}", file=sys.stderr)
        return code
    except SystemExit as exc:
        if exc.code is None or isinstance(exc.code, int):
            return int(exc.code or 0)
        print(f"{prog}: error: {_with_advice(str(exc.code), parser)}", file=sys.stderr)
        return 2
    except BaseException as exc:
        if in_main:  # a second Ctrl-C while the error is reported must not kill the process
            signal.signal(signal.SIGINT, signal.SIG_IGN)
        if debug:
            traceback.print_exc()
        # An interrupt can surface as another exception (e.g. a numba compilation cut short raises
        # RuntimeError later): once Ctrl-C was pressed, the run is reported as interrupted.
        code, message = describe(KeyboardInterrupt() if interrupted else exc, parser, args)
        print(f"{prog}: error: {message}", file=sys.stderr)
        return code
    finally:
        if in_main and previous is not None and not interrupted:
            signal.signal(signal.SIGINT, previous)
