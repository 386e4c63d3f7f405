"""The robustness study (same code as ``mmenv robustness``)."""

from mmenv.studies.robustness import main

if __name__ == "__main__":
    raise SystemExit(main())
