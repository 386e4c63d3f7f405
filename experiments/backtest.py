"""Tick backtest of market-making strategies (see mmenv.studies.backtest); same as `mmenv backtest`."""

from mmenv.cli import run_command

if __name__ == "__main__":
    raise SystemExit(run_command("backtest"))
