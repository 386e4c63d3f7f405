"""GARCH(1,1) and HAR-RV volatility forecasts and AS quoting with each sigma (same as `mmenv vol-forecast`)."""

from mmenv.studies.vol_forecast import main

if __name__ == "__main__":
    raise SystemExit(main())
