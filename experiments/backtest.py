"""Tick backtest of market-making strategies (see mmenv.studies.backtest); same as `mmenv backtest`."""

from mmenv.studies.backtest import main

if __name__ == "__main__":
    raise SystemExit(main())
