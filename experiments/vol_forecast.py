"""GARCH(1,1) and HAR-RV volatility forecasts and AS quoting with each sigma (same as `mmenv vol-forecast`)."""

from mmenv.cli import run_command

if __name__ == "__main__":
    raise SystemExit(run_command("vol-forecast"))
