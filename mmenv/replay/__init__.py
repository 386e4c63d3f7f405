"""Replay of real market data: a policy's orders against a recorded tape, with queue-aware fills, latency, a
tick grid, a lot grid and fees.

Modules: :mod:`~mmenv.replay.config` (the settings, ``ReplayConfig``, the queue models, ``TouchRule``),
:mod:`~mmenv.replay.kernel` (the compiled event loop), :mod:`~mmenv.replay.engine` (the rules, ``ReplayState``
and ``replay``), :mod:`~mmenv.replay.accounting` (the accounting in the instrument's settlement currency,
``settle``: inverse contracts in the coin), :mod:`~mmenv.replay.jit_policy` (a policy compiled into the loop,
``JitPolicy``), :mod:`~mmenv.replay.mlp_policy` (a trained MLP actor as one) and :mod:`~mmenv.replay.env`
(the event-clock Gymnasium env). The tape and its loaders are
:mod:`mmenv.data.tape` and :mod:`mmenv.data.loaders`. Submodules load on first use.
"""
