"""The ``mmenv`` command: one subcommand per study module (``mmenv/studies``)."""

from __future__ import annotations

import argparse
import importlib
import sys

__all__ = ["COMMANDS", "main"]

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
}


def build_parser() -> argparse.ArgumentParser:
    """The top-level parser with a subparser per study."""
    parser = argparse.ArgumentParser(prog="mmenv", description="Inventory-aware market making studies.")
    sub = parser.add_subparsers(dest="command", required=True)
    for name, module in COMMANDS.items():
        mod = importlib.import_module(module)
        doc = (mod.__doc__ or "").strip().splitlines()[0] if mod.__doc__ else ""
        p = sub.add_parser(name, help=doc, description=doc)
        mod.configure_parser(p)
        p.set_defaults(_module=mod)
    return parser


def main(argv: list[str] | None = None) -> int:
    """Parse ``argv`` and run the chosen study; returns the exit status."""
    args = build_parser().parse_args(sys.argv[1:] if argv is None else argv)
    return int(args._module.run(args) or 0)


if __name__ == "__main__":
    raise SystemExit(main())
