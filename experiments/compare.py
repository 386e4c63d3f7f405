"""The compare study (same code as ``mmenv compare``)."""

from mmenv.cli import run_command

if __name__ == "__main__":
    raise SystemExit(run_command("compare"))
