"""Calibrate lambda(d) = A exp(-k d) and sigma (same as `mmenv calibrate`)."""

from mmenv.studies.calibrate import main

if __name__ == "__main__":
    raise SystemExit(main())
