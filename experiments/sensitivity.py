"""The sensitivity study (same code as ``mmenv sensitivity``)."""

from mmenv.cli import run_command

if __name__ == "__main__":
    raise SystemExit(run_command("sensitivity"))
