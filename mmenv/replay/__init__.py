"""Replay of real market data: the tape (one representation of top-of-book quotes and trades), its loaders,
and the queue-aware replay engine with latency, a tick grid and fees.

Submodules load on first use: :mod:`mmenv.data.tape`, :mod:`mmenv.data.loaders`,
:mod:`mmenv.replay.engine`.
"""
