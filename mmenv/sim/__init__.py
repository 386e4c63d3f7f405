"""The simulation core: the one fill rule, the env step kernels, the market kernels and the quote rules.

Everything here runs on struct-of-arrays state over N paths and is compiled with numba. Modules:
:mod:`~mmenv.sim.fills` (``match_and_settle``, the one fill and accounting rule), :mod:`~mmenv.sim.env_step`
(the env step kernels over N paths), :mod:`~mmenv.sim.core` (``SimulationCore``, the state and the loop
that drives those kernels), :mod:`~mmenv.sim.model_step` (the model market's
branch-free fused step), :mod:`~mmenv.sim.market_kernels` (mid and order-flow kernels of every market
kind), :mod:`~mmenv.sim.task` (action map, observation, reward), :mod:`~mmenv.sim.single_path` (the single
env's packed step), :mod:`~mmenv.sim.shards` (deterministic threading over paths),
:mod:`~mmenv.sim.shard_choice` (one thread or shards, step by step, by measurement),
:mod:`~mmenv.sim.thread_layer` (numba's threading layer and its wait settings) and
:mod:`~mmenv.sim.quote_rules` (the AS family as compiled rules, ``QuoteRule`` and ``RulePolicy``).

Submodules load on first use (``import mmenv.sim`` does not import numba).
"""
