"""Reproducible studies: each module defines ``configure_parser``, ``run`` and ``main``.

The ``mmenv`` CLI and the thin scripts in ``experiments/`` call the same functions.
"""
