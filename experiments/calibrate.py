"""Calibrate lambda(d) = A exp(-k d) and sigma (same as `mmenv calibrate`)."""

from mmenv.cli import run_command

if __name__ == "__main__":
    raise SystemExit(run_command("calibrate"))
