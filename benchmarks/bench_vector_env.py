"""Vector env / core: path-steps per second with the AS agent at N = 1,000 and 10,000, and peak memory.

Target: >= 30 million path-steps/s at N = 10,000 on this 2-core machine.
"""

from __future__ import annotations

import numpy as np

from agents import AvellanedaStoikovAgent, QuoteState
from benchmarks._util import peak_rss_mib, rate
from mmenv.vector_env import MarketMakingVectorEnv


def main() -> None:
    agent = AvellanedaStoikovAgent(gamma=0.1, k=1.5)
    for n in (1_000, 10_000):
        env = MarketMakingVectorEnv(num_envs=n, action_mode="depth")
        env.reset(seed=0)
        c = env.core

        def block(env=env, c=c, n=n) -> int:
            for _ in range(50):
                st = QuoteState(c.state.q, c.time_remaining(), c.market.mid, c.market.sigma, c.market.s0)
                db, da = agent.quote(st)
                env.step(np.stack([db, da], axis=-1))
            return 50 * n

        r = rate(block)
        print(
            f"vector env, AS agent, N={n:>6,}: {r / 1e6:6.2f} M path-steps/s   peak RSS {peak_rss_mib():.0f} MiB"
        )


if __name__ == "__main__":
    main()
