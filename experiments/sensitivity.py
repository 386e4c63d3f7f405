"""The sensitivity study (same code as ``mmenv sensitivity``)."""

from mmenv.studies.sensitivity import main

if __name__ == "__main__":
    raise SystemExit(main())
