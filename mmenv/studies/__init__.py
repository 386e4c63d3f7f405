"""The studies behind the ``mmenv`` commands, and the report that gathers them.

One module per command (``replication``, ``calibrate``, ``bar_limits``, ``compare``, ``sensitivity``,
``robustness``, ``backtest``, ``train``, ``sweep``, ``rl_study``, ``vol_forecast`` and the ``report``
package), each defining ``configure_parser(parser)`` and ``run(args)``; the ``mmenv`` CLI
(:data:`mmenv.cli.app.COMMANDS`) and the scripts in ``experiments/`` call them. The real-tape parts of
``backtest``, ``train`` and ``rl-study`` are ``tape_backtest``, ``tape_training`` and ``rl_tapes``. What
several studies share has one home below them: ``sources`` (every data-source flag and loader),
``strategies`` (the strategies and their name tables), ``simulation`` (the simulated markets, running and
scoring a policy), ``tapes`` (the real-tape studies' settings and calibration), ``tape_ppo`` (PPO on a
tape), ``references`` (the optimum and references a learned policy is scored against) and ``common`` (JSON,
standard errors, table cells). The import contract in ``pyproject.toml`` keeps these layers.
"""
