"""Write the study report (same code as ``mmenv report``)."""

from mmenv.studies.report import main

if __name__ == "__main__":
    raise SystemExit(main())
