"""Vector env / core: path-steps per second with the AS agent at N = 1,000 and 10,000, and peak memory.

Target: >= 30 million path-steps/s at N = 10,000 on this 2-core machine. Two figures per N:

* core: :class:`mmenv.core.SimulationCore` stepped by the AS agent (market draws, matching, accounting);
* vector env: the same through :class:`mmenv.vector_env.MarketMakingVectorEnv` (plus the action map,
  rewards, observations, autoreset and the ``info`` dict of arrays).
"""

from __future__ import annotations

import numpy as np

from agents import AvellanedaStoikovAgent, QuoteState
from benchmarks._util import peak_rss_mib, rate
from mmenv.config import MarketParams
from mmenv.core import SimulationCore
from mmenv.markets import ModelMarket
from mmenv.vector_env import MarketMakingVectorEnv


def main() -> None:
    agent = AvellanedaStoikovAgent(gamma=0.1, k=1.5)
    for n in (1_000, 10_000):
        p = MarketParams()
        core = SimulationCore(ModelMarket(p, n), q_max=p.q_max)
        rng = np.random.default_rng(0)
        core.reset(rng)

        def core_block(core=core, rng=rng, n=n) -> int:
            m = core.market
            for _ in range(50):
                if core.state.step[0] >= core.n_steps:
                    core.reset(rng)
                db, da = agent.quote(QuoteState(core.state.q, core.time_remaining(), m.mid, m.sigma, m.s0))
                core.step(db, da, rng)
            return 50 * n

        env = MarketMakingVectorEnv(num_envs=n, action_mode="depth")
        env.reset(seed=0)
        c = env.core

        def env_block(env=env, c=c, n=n) -> int:
            for _ in range(50):
                st = QuoteState(c.state.q, c.time_remaining(), c.market.mid, c.market.sigma, c.market.s0)
                db, da = agent.quote(st)
                env.step(np.stack([db, da], axis=-1))
            return 50 * n

        rc, rv = rate(core_block), rate(env_block)
        print(
            f"AS agent, N={n:>6,}: core {rc / 1e6:6.2f} M path-steps/s   vector env {rv / 1e6:6.2f} M "
            f"path-steps/s   peak RSS {peak_rss_mib():.0f} MiB"
        )


if __name__ == "__main__":
    main()
