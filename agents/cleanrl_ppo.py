"""CleanRL-style PPO on ``gymnasium.vector``: one readable file, continuous actions, our native vector env.

Follows CleanRL's ``ppo_continuous_action.py`` (Huang et al. 2022, "CleanRL: High-quality Single-file
Implementations of Deep Reinforcement Learning Algorithms", JMLR 23(274)): a dataclass of arguments, one
visible seeding block, a Gaussian actor and a critic (tanh MLPs, orthogonal init), GAE, the clipped PPO
objective (Schulman et al. 2017, eq. 7), advantage normalisation, value loss, gradient clipping, linear
learning-rate annealing. It runs on any ``gymnasium.vector.VectorEnv``; by default
``gymnasium.make_vec("mmenv/MarketMaking-v0", vectorization_mode="vector_entry_point")``, the native vector
env (``"sync"`` / ``"async"`` give Gymnasium's Sync/AsyncVectorEnv over single envs).

Gymnasium >= 1.0 vector envs autoreset in NEXT_STEP mode: the step after an episode ends only resets that
sub-env (reward 0, action ignored). Such steps are not transitions: they are masked out of the loss, and the
terminal step before them is not bootstrapped (``terminated``: reaching T ends the problem).

The env is built with ``obs_mode="normalized"`` (unless ``env_kwargs`` says otherwise): it divides the
observation by fixed, documented scales (not learned statistics), so the policy's inputs are O(1):
q / q_max, (T - t) / T, (s - s0) / (sigma sqrt(T)), sigma / sigma (:meth:`mmenv.sim.task.TaskParams.observation_scale`).
Rewards are divided by ``reward_scale``.

Command line (CleanRL style: one flag per field of :class:`Args`, defaults shown by ``--help``)::

    python -m agents.cleanrl_ppo --total-timesteps 200000 --num-envs 32 --seed 1
    python -m agents.cleanrl_ppo --env-kwargs '{"reward": "pnl", "sigma": 1.0}' --no-anneal-lr

``torch`` is imported when this module is imported (the ``rl`` extra); ``import agents`` does not import it.
"""

from __future__ import annotations

import argparse
import ast
import inspect
import itertools
import json
import time
from dataclasses import dataclass, field, fields
from typing import Any

import gymnasium as gym
import numpy as np
import torch
from torch import nn
from torch.distributions.normal import Normal

import mmenv

__all__ = ["Args", "main", "parse_args", "train"]


@dataclass
class Args:
    """Arguments of one run (CleanRL style: one field per knob, with its meaning)."""

    seed: int = 0
    """seed of numpy, torch and the env's generator"""
    total_timesteps: int = 200_000
    """env steps summed over the parallel envs"""
    num_envs: int = 32
    """parallel episodes"""
    num_steps: int = 200
    """steps per env per rollout"""
    vectorization_mode: str = "vector_entry_point"
    """gymnasium.make_vec mode: "vector_entry_point" (native), "sync" or "async\""""
    learning_rate: float = 3e-4
    """Adam step size"""
    anneal_lr: bool = True
    """anneal the learning rate linearly to 0"""
    gamma: float = 1.0
    """discount (1: the undiscounted finite-horizon objective)"""
    gae_lambda: float = 0.95
    """GAE lambda"""
    num_minibatches: int = 4
    """minibatches per epoch"""
    update_epochs: int = 5
    """epochs per rollout"""
    clip_coef: float = 0.2
    """PPO clip epsilon"""
    ent_coef: float = 0.0
    """entropy bonus"""
    vf_coef: float = 0.5
    """value loss coefficient"""
    max_grad_norm: float = 0.5
    """gradient clipping norm"""
    reward_scale: float = 1.0
    """rewards are divided by this"""
    hidden: int = 64
    """width of the two hidden layers"""
    env_kwargs: dict[str, Any] = field(
        default_factory=lambda: {"reward": "penalized", "phi": 0.2, "alpha": 0.1}
    )
    """arguments of mmenv/MarketMaking-v0"""


def layer_init(layer: nn.Linear, std: float = np.sqrt(2), bias: float = 0.0) -> nn.Linear:
    """Orthogonal weights, constant bias (CleanRL)."""
    nn.init.orthogonal_(layer.weight, std)
    nn.init.constant_(layer.bias, bias)
    return layer


class Agent(nn.Module):
    """Gaussian actor (state-independent log std) and critic."""

    def __init__(self, obs_dim: int, act_dim: int, hidden: int) -> None:
        super().__init__()
        self.critic = nn.Sequential(
            layer_init(nn.Linear(obs_dim, hidden)),
            nn.Tanh(),
            layer_init(nn.Linear(hidden, hidden)),
            nn.Tanh(),
            layer_init(nn.Linear(hidden, 1), std=1.0),
        )
        self.actor_mean = nn.Sequential(
            layer_init(nn.Linear(obs_dim, hidden)),
            nn.Tanh(),
            layer_init(nn.Linear(hidden, hidden)),
            nn.Tanh(),
            layer_init(nn.Linear(hidden, act_dim), std=0.01),
        )
        self.actor_logstd = nn.Parameter(torch.full((1, act_dim), -1.0))

    def get_value(self, x: torch.Tensor) -> torch.Tensor:
        return self.critic(x)

    def get_action_and_value(self, x: torch.Tensor, action: torch.Tensor | None = None):
        mean = self.actor_mean(x)
        dist = Normal(mean, self.actor_logstd.expand_as(mean).exp())
        if action is None:
            action = dist.sample()
        return action, dist.log_prob(action).sum(1), dist.entropy().sum(1), self.critic(x)


def train(args: Args) -> dict[str, Any]:
    """Run PPO; returns {"agent", "curve": [(global_step, mean episode return)], "seconds"}."""
    # ---- seeding (one visible block)
    rng = np.random.default_rng(args.seed)
    torch.manual_seed(args.seed)
    torch.use_deterministic_algorithms(True)

    envs = gym.make_vec(
        mmenv.ENV_ID,
        num_envs=args.num_envs,
        vectorization_mode=args.vectorization_mode,
        **{"obs_mode": "normalized", **args.env_kwargs},
    )
    envs.action_space.seed(int(rng.integers(2**31)))
    n, s = args.num_envs, args.num_steps
    batch_size = n * s
    minibatch_size = batch_size // args.num_minibatches
    num_iterations = max(1, args.total_timesteps // batch_size)
    obs_dim = envs.single_observation_space.shape[0]
    act_dim = envs.single_action_space.shape[0]
    agent = Agent(obs_dim, act_dim, args.hidden)
    optimizer = torch.optim.Adam(agent.parameters(), lr=args.learning_rate, eps=1e-5)

    obs = torch.zeros((s, n, obs_dim))
    actions = torch.zeros((s, n, act_dim))
    logprobs = torch.zeros((s, n))
    rewards = torch.zeros((s, n))
    terms = torch.zeros((s, n))
    valid = torch.zeros((s, n), dtype=torch.bool)
    values = torch.zeros((s, n))

    seed = int(rng.integers(2**31))
    seeds = seed if args.vectorization_mode == "vector_entry_point" else [seed + i for i in range(n)]
    raw, _ = envs.reset(seed=seeds)
    next_obs = torch.as_tensor(raw)
    autoresetting = np.zeros(n, dtype=bool)  # this step only resets the sub-env (NEXT_STEP mode)
    ep_ret = np.zeros(n)
    curve: list[tuple[int, float]] = []
    global_step = 0
    t0 = time.perf_counter()
    for it in range(num_iterations):
        if args.anneal_lr:
            optimizer.param_groups[0]["lr"] = args.learning_rate * (1.0 - it / num_iterations)
        finished: list[float] = []
        for t in range(s):
            global_step += n
            obs[t] = next_obs
            valid[t] = torch.as_tensor(~autoresetting)
            with torch.no_grad():
                action, logprob, _, value = agent.get_action_and_value(next_obs)
            values[t], actions[t], logprobs[t] = value.flatten(), action, logprob
            raw, reward, term, trunc, _ = envs.step(action.numpy())
            reward = np.where(autoresetting, 0.0, reward)
            rewards[t] = torch.as_tensor(reward / args.reward_scale, dtype=torch.float32)
            done = np.logical_or(term, trunc) & ~autoresetting
            terms[t] = torch.as_tensor(done, dtype=torch.float32)
            ep_ret += reward
            finished.extend(ep_ret[done].tolist())
            ep_ret[done] = 0.0
            autoresetting = done
            next_obs = torch.as_tensor(raw)
        curve.append((global_step, float(np.mean(finished)) if finished else float("nan")))

        with torch.no_grad():  # GAE; an autoreset step is cut out: the terminal step before it has no future
            next_value = agent.get_value(next_obs).reshape(1, -1)
            adv = torch.zeros_like(rewards)
            last = torch.zeros(n)
            for t in reversed(range(s)):
                nv = next_value if t == s - 1 else values[t + 1]
                nonterminal = 1.0 - terms[t]
                delta = rewards[t] + args.gamma * nv * nonterminal - values[t]
                last = delta + args.gamma * args.gae_lambda * nonterminal * last
                last = torch.where(valid[t], last, torch.zeros_like(last))
                adv[t] = last
            returns = adv + values

        keep = valid.reshape(-1)
        b_obs = obs.reshape(-1, obs_dim)[keep]
        b_act = actions.reshape(-1, act_dim)[keep]
        b_logp, b_adv = logprobs.reshape(-1)[keep], adv.reshape(-1)[keep]
        b_ret = returns.reshape(-1)[keep]
        m = b_obs.shape[0]
        for _ in range(args.update_epochs):
            order = torch.as_tensor(rng.permutation(m))
            for start in range(0, m, minibatch_size):
                mb = order[start : start + minibatch_size]
                _, newlogp, entropy, newv = agent.get_action_and_value(b_obs[mb], b_act[mb])
                ratio = (newlogp - b_logp[mb]).exp()
                a = b_adv[mb]
                a = (a - a.mean()) / (a.std() + 1e-8)
                pg_loss = torch.max(
                    -a * ratio, -a * ratio.clamp(1 - args.clip_coef, 1 + args.clip_coef)
                ).mean()
                v_loss = 0.5 * ((newv.view(-1) - b_ret[mb]) ** 2).mean()
                loss = pg_loss - args.ent_coef * entropy.mean() + args.vf_coef * v_loss
                optimizer.zero_grad()
                loss.backward()
                nn.utils.clip_grad_norm_(agent.parameters(), args.max_grad_norm)
                optimizer.step()
    envs.close()
    return {"agent": agent, "curve": curve, "seconds": time.perf_counter() - t0}


def _field_docs(cls: type) -> dict[str, str]:
    """The docstring under each dataclass field (CleanRL's convention), read from the class source."""
    tree = ast.parse(inspect.getsource(cls))
    body = tree.body[0].body
    docs = {}
    for node, nxt in itertools.pairwise(body):
        if (
            isinstance(node, ast.AnnAssign)
            and isinstance(node.target, ast.Name)
            and isinstance(nxt, ast.Expr)
            and isinstance(nxt.value, ast.Constant)
            and isinstance(nxt.value.value, str)
        ):
            docs[node.target.id] = nxt.value.value
    return docs


def parse_args(argv: list[str] | None = None) -> Args:
    """:class:`Args` from the command line: one ``--flag`` per field, its docstring as help, defaults shown."""
    parser = argparse.ArgumentParser(
        prog="python -m agents.cleanrl_ppo",
        description="CleanRL-style PPO on mmenv/MarketMaking-v0 (native vector env); prints the learning curve.",
        formatter_class=argparse.ArgumentDefaultsHelpFormatter,
    )
    docs = _field_docs(Args)
    defaults = Args()
    for f in fields(Args):
        flag = "--" + f.name.replace("_", "-")
        default = getattr(defaults, f.name)
        helptext = docs.get(f.name, "")
        if isinstance(default, bool):
            parser.add_argument(flag, action=argparse.BooleanOptionalAction, default=default, help=helptext)
        elif isinstance(default, dict):
            parser.add_argument(
                flag, type=json.loads, default=default, metavar="JSON", help=helptext + " (a JSON object)"
            )
        else:
            parser.add_argument(flag, type=type(default), default=default, help=helptext)
    ns = parser.parse_args(argv)
    if not isinstance(ns.env_kwargs, dict):
        parser.error(f"--env-kwargs must be a JSON object, got {ns.env_kwargs!r}")
    return Args(**vars(ns))


def main(argv: list[str] | None = None) -> int:
    """Parse the command line, train, print the learning curve."""
    args = parse_args(argv)
    out = train(args)
    for step, ret in out["curve"]:
        print(f"step {step:>9,d}  mean episode reward {ret:8.3f}")
    print(f"trained {args.total_timesteps:,} steps in {out['seconds']:.1f} s")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
