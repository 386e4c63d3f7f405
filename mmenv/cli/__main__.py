"""``python -m mmenv.cli``: the ``mmenv`` command."""

from mmenv.cli.app import main

raise SystemExit(main())
