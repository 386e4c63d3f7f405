"""Write the study report (same code as ``mmenv report``)."""

from mmenv.cli import run_command

if __name__ == "__main__":
    raise SystemExit(run_command("report"))
