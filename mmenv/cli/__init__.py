"""The ``mmenv`` command: :mod:`~mmenv.cli.app` (one subcommand per study) and :mod:`~mmenv.cli.errors`
(one-line errors and exit statuses). ``python -m mmenv.cli`` runs it too.
"""

from __future__ import annotations

from mmenv.cli.app import COMMANDS, build_parser, main, run_command

__all__ = ["COMMANDS", "build_parser", "main", "run_command"]
