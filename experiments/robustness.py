"""The robustness study (same code as ``mmenv robustness``)."""

from mmenv.cli import run_command

if __name__ == "__main__":
    raise SystemExit(run_command("robustness"))
