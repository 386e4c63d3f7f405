"""What 1-minute bars hide, measured on the synthetic market (same code as ``mmenv bar-limits``)."""

from mmenv.studies.bar_limits import main

if __name__ == "__main__":
    raise SystemExit(main())
