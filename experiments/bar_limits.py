"""What 1-minute bars hide, measured on the synthetic market (same code as ``mmenv bar-limits``)."""

from mmenv.cli import run_command

if __name__ == "__main__":
    raise SystemExit(run_command("bar-limits"))
