"""Sweep the AS gamma grid x seeds x markets on Ray Tune (same code as ``mmenv sweep``)."""

from mmenv.cli import run_command

if __name__ == "__main__":
    raise SystemExit(run_command("sweep"))
