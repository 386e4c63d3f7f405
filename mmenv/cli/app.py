"""The ``mmenv`` command: one subcommand per study module (``mmenv/studies``).

Errors end in one line on stderr and exit status 2 (bad input) or 1 (failed run); ``--debug`` or
``MMENV_DEBUG=1`` adds the traceback (:mod:`mmenv.cli.errors`). Each command writes its ``--out DIR`` through
:func:`mmenv.outdir.staged` (a private staging directory swapped in when the run succeeds).
"""

from __future__ import annotations

import argparse
import ast
import gc
import importlib
import importlib.util
import sys
from pathlib import Path

from mmenv.cli.errors import OneLineParser, check_args, debug_requested, run_guarded

__all__ = ["COMMANDS", "main", "run_command"]

#: subcommand -> module defining ``configure_parser(parser)`` and ``run(args) -> int``.
COMMANDS: dict[str, str] = {
    "replicate": "mmenv.studies.replication",
    "calibrate": "mmenv.studies.calibrate",
    "bar-limits": "mmenv.studies.bar_limits",
    "compare": "mmenv.studies.compare",
    "sensitivity": "mmenv.studies.sensitivity",
    "robustness": "mmenv.studies.robustness",
    "report": "mmenv.studies.report",
    "backtest": "mmenv.studies.backtest",
    "train": "mmenv.studies.train",
    "sweep": "mmenv.studies.sweep",
    "rl-study": "mmenv.studies.rl_study",
    "vol-forecast": "mmenv.studies.vol_forecast",
    "signal-study": "mmenv.studies.signal_study",
}


class DefaultsHelpFormatter(argparse.ArgumentDefaultsHelpFormatter):
    """``--help`` shows every option's default (so ``--out`` shows the output directory, under ``out/``).

    Options whose help already states the default, and defaults None / False (flags), are left as written.
    """

    def _get_help_string(self, action: argparse.Action) -> str:
        text = action.help or ""
        default = action.default
        if (
            not action.option_strings
            or default is None
            or default is False
            or default is argparse.SUPPRESS
            or "%(default)" in text
            or "default" in text
        ):
            return text
        shown = " ".join(map(str, default)) if isinstance(default, (list, tuple)) else str(default)
        if text.endswith(")") and "(" in text:  # "... (1000)": the default is already in the text
            last = text[text.rindex("(") + 1 : -1]
            try:
                if float(last) == float(default):
                    return text
            except (TypeError, ValueError):
                pass
        return f"{text} (default: {shown})"


def _summary(module: str) -> str:
    """The first line of a study module's docstring, read from its source without importing it."""
    spec = importlib.util.find_spec(module)
    if spec is None or spec.origin is None:
        return ""
    doc = ast.get_docstring(ast.parse(Path(spec.origin).read_text(encoding="utf-8"))) or ""
    return doc.strip().splitlines()[0] if doc.strip() else ""


def build_parser(only: str | None = None, *, light: bool = False) -> argparse.ArgumentParser:
    """The top-level parser with a subparser per study; every ``--help`` shows the defaults.

    ``only``: build just that command's subparser (imports one study module instead of all of them: the
    start-up of a command); None: all of them. ``light``: the commands' names and summaries only, read from
    their sources without importing them (``mmenv --help``, a missing or unknown command).
    """
    parser = OneLineParser(
        prog="mmenv",
        description="Inventory-aware market making studies. Each command writes into --out (default "
        "out/<command>/).",
        formatter_class=DefaultsHelpFormatter,
    )
    _add_common_flags(parser, with_out=False)
    sub = parser.add_subparsers(dest="command", required=True)
    for name, module in COMMANDS.items():
        if only is not None and name != only:
            continue
        if light:
            doc = _summary(module)
            sub.add_parser(name, help=doc, description=doc)
            continue
        mod = importlib.import_module(module)
        doc = (mod.__doc__ or "").strip().splitlines()[0] if mod.__doc__ else ""
        p = sub.add_parser(name, help=doc, description=doc, formatter_class=DefaultsHelpFormatter)
        mod.configure_parser(p)
        _add_common_flags(p, with_out="--out" in p._option_string_actions)
        p.set_defaults(_module=mod, _parser=p)
    return parser


def _add_common_flags(p: argparse.ArgumentParser, with_out: bool) -> None:
    """--debug on every parser; --force on the commands that write an --out directory."""
    p.add_argument(
        "--debug", action="store_true", help="print the traceback of an error (also: MMENV_DEBUG=1)"
    )
    if with_out:
        p.add_argument(
            "--force",
            action="store_true",
            help="replace a non-empty --out directory that was not written by mmenv (the run writes into a "
            "fresh directory beside --out and swaps it in only when it succeeds)",
        )


def main(argv: list[str] | None = None) -> int:
    """Parse ``argv``, check the arguments and run the chosen study; returns the exit status.

    Exit status: 0 success, 2 usage or input error, 1 failed run, 130 interrupted (one line on stderr).
    """
    argv = list(sys.argv[1:] if argv is None else argv)
    first = _pause_collector()
    try:
        command = _command_of(argv)
        args = build_parser(command, light=command is None).parse_args(argv)
        check_args(args._parser, args)
        if first:
            _freeze_start_up()
    except SystemExit as exc:
        return exc.code if isinstance(exc.code, int) else 2
    finally:
        if first:
            gc.enable()
    prog = f"mmenv {args.command}"
    return run_guarded(prog, lambda: args._module.run(args), debug_requested(argv), args._parser, args)


_STARTED = False


def _pause_collector() -> bool:
    """Pause the cyclic garbage collector for the process's first command's start-up; True if paused."""
    global _STARTED
    if _STARTED or not gc.isenabled():
        return False
    _STARTED = True
    gc.disable()
    return True


def _freeze_start_up() -> None:
    """Finish the start-up with the collector paused and freeze what it built (the caller resumes it).

    The imports and numba's one-time initialisation (its typing and lowering registries, on the first call of
    a compiled function; :func:`mmenv.counter_rng.det_log` is one, loaded from numba's cache) allocate about
    a million objects that live for the whole run. With the collector on, the full collections their growth
    triggers cost a large share of a short command's start-up (measured: ``mmenv replicate`` 0.2-0.3 s on
    the 2-core machine). ``gc.freeze`` moves them to the permanent generation, so later collections skip
    them; the collector then runs as usual.
    """
    from mmenv.counter_rng import det_log

    det_log(1.0)
    gc.freeze()


def _command_of(argv: list[str]) -> str | None:
    """The command named by ``argv`` (its first word that is not an option), if it is one of ours."""
    word = next((a for a in argv if not a.startswith("-")), None)
    return word if word in COMMANDS else None


def run_command(name: str, argv: list[str] | None = None) -> int:
    """``mmenv NAME ARGV...`` (the entry point of the scripts in ``experiments/``)."""
    return main([name, *(sys.argv[1:] if argv is None else argv)])


if __name__ == "__main__":
    raise SystemExit(main())
