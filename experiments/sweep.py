"""Sweep the AS gamma grid x seeds x markets on Ray Tune (same code as ``mmenv sweep``)."""

from mmenv.studies.sweep import main

if __name__ == "__main__":
    raise SystemExit(main())
