"""The Gymnasium environments and their runners.

:mod:`~mmenv.envs.env` (``MarketMakingEnv``, registered as ``mmenv/MarketMaking-v0``),
:mod:`~mmenv.envs.vector_env` (``MarketMakingVectorEnv``, its native vector env),
:mod:`~mmenv.envs.render` (the ``rgb_array`` frame) and :mod:`~mmenv.envs.rollout` (a policy on N paths,
recorded for the analytics). Submodules load on first use.
"""
