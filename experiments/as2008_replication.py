"""Reproduce Avellaneda & Stoikov (2008) Tables 1-3 (same code as ``mmenv replicate``)."""

from mmenv.cli import run_command

if __name__ == "__main__":
    raise SystemExit(run_command("replicate"))
