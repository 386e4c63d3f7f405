"""Reproduce Avellaneda & Stoikov (2008) Tables 1-3 (same code as ``mmenv replicate``)."""

from mmenv.studies.replication import main

if __name__ == "__main__":
    raise SystemExit(main())
