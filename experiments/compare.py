"""The compare study (same code as ``mmenv compare``)."""

from mmenv.studies.compare import main

if __name__ == "__main__":
    raise SystemExit(main())
