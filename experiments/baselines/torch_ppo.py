#!/usr/bin/env python3
"""IPPO on the cloud-scheduling workload, written as a PyTorch 2.x user
would: the baseline that `experiments/speed.py` times dgpg against.

Eager mode, CleanRL-style: the environment (docs/environment.md) is
vectorised in torch tensors over E environments, N agents and M pools and
stepped by a Python loop over T steps under `torch.no_grad()` into
preallocated rollout buffers; the actor and the critic are per-agent MLPs
(N parameter sets, `D -> 64 -> 64 -> M` and `-> 1`, tanh) whose weights
are (N, d_in, d_out) tensors applied with `torch.baddbmm` on agent-major
activations (N, B, d); `torch.distributions.Categorical`; GAE by a reverse
Python loop; PPO-clip with `epochs` full-batch epochs (one minibatch),
`torch.optim.Adam`. No guidance (plain IPPO).

Settings are experiments/default.yaml's, as in jax_ppo.py (its docstring
lists them): lr 5e-4, Adam eps 1e-5, clip 0.2, gamma 0.99, lambda 0.95,
entropy 0.01, value coefficient 1, clipped Huber value loss (width 10),
gradient-norm clipping at 10 per agent network, ValueNorm, advantage
normalisation, orthogonal initialisation.

What differs from dgpg's environment: torch's Poisson sampler and
generator instead of Philox with exact inversion tables; the scenario is
drawn from torch's generator at each episode's reset; no bursts, unit job
sizes only (the default config); queues held as float32 (exact integers
at these sizes); the whole batch goes through each epoch at once (dgpg
streams it in chunks of algo.chunk samples). dgpg also runs work this
baseline does not: the paired p* reference episode, the model's p*(s) at
every step, the per-agent gradient-variance estimate and its HDF5 log.

Usage: torch_ppo.py [--n N] [--e E] [--t T] [--episodes K] [--warmup W]
                    [--warmup-t STEPS] [--threads K] [--seed S] [--json]
Prints agent-steps per second (E N T / wall seconds per episode) for each
timed episode after the warm-up episode(s) and the median; the last line
is `RESULT {json}`.
"""
import json
import math
import os
import sys
import time

import numpy as np
import torch
import torch.nn.functional as F
from torch.distributions import Categorical

from common import ALGO, ENV, VALUE_NORM_BETA, argument_parser, check_sizes, obs_dim


def parse_args(argv=None):
    p = argument_parser(__doc__, "untimed episodes first (default 1)",
                        "CPU threads (torch.set_num_threads) and cores (default every core)")
    p.add_argument("--warmup-t", type=int, default=0,
                   help="steps of each warm-up episode (default T; eager mode has nothing "
                        "to compile, so a short one warms the same kernels)")
    args = p.parse_args(argv)
    check_sizes(p, args)
    if args.warmup < 0 or args.threads < 0 or not 0 <= args.warmup_t <= args.t:
        p.error("--warmup and --threads must be at least 0, --warmup-t in [0, T]")
    return args


# ---------------------------------------------------------------- networks
def init_mlp(N, sizes, out_gain, generator=None):
    """Per-agent MLP: per layer {"w": (N, d_in, d_out), "b": (N, d_out)},
    orthogonal weights (gain 5/3 for tanh layers, out_gain for the head)."""
    params = []
    for layer, (d_in, d_out) in enumerate(zip(sizes[:-1], sizes[1:])):
        gain = out_gain if layer == len(sizes) - 2 else 5.0 / 3.0
        w = torch.empty(N, d_in, d_out)
        for n in range(N):
            torch.nn.init.orthogonal_(w[n], gain=gain, generator=generator)
        params.append({"w": w.requires_grad_(), "b": torch.zeros(N, d_out, requires_grad=True)})
    return params


def mlp(params, x):
    """x (N, B, d_in) -> (N, B, d_out): agent n's network on x[n]."""
    for layer, p in enumerate(params):
        x = torch.baddbmm(p["b"].unsqueeze(1), x, p["w"])
        if layer < len(params) - 1:
            x = torch.tanh(x)
    return x


def parameters(*nets):
    return [t for net in nets for layer in net for t in layer.values()]


# ------------------------------------------------------------- environment
class CloudEnv:
    """E environments of N agents and M pools (docs/environment.md)."""

    def __init__(self, E, N, M, generator):
        self.E, self.N, self.M, self.gen = E, N, M, generator

    def reset(self, episode, T):
        """Draws each environment's scenario; empty queues; returns the
        first observation (E, N, 5 + 2M)."""
        E, N, M, g = self.E, self.N, self.M, self.gen
        sigma = ENV["lambda_sigma"]
        z = torch.randn(E, N, generator=g)
        self.base = ENV["lambda_mean"] * torch.exp(sigma * z - 0.5 * sigma * sigma)
        self.phase = ENV["phase_spread"] * torch.rand(E, N, generator=g)
        self.lambda_bar = self.base.mean(1, keepdim=True)
        vcpus = 2.0 ** (1 + torch.arange(M) % ENV["instance_types"])
        servers = 1.0 + torch.floor(torch.rand(E, M, generator=g) * ENV["servers_max"])
        raw = vcpus * servers
        self.mu_total = self.base.sum(1, keepdim=True) / ENV["rho"]   # unit jobs
        self.mu = raw * self.mu_total / raw.sum(1, keepdim=True)
        self.share = self.mu / self.mu_total
        self.buffer = torch.clamp(torch.ceil(ENV["buffer_steps"] * self.mu), min=1.0)
        self.queue = torch.zeros(E, M)
        self.step_index = episode * T
        return self._arrive_and_observe()

    def _arrive_and_observe(self):
        D = ENV["day_length"]
        day = (self.step_index % D) / D
        self.rate = self.base * (1.0 + ENV["day_amplitude"] *
                                 torch.sin(2.0 * math.pi * (day + self.phase)))
        self.big_lambda = self.rate.sum(1, keepdim=True)
        self.work = torch.poisson(self.rate, generator=self.gen)
        E, N, M = self.E, self.N, self.M
        own = torch.stack([self.rate / self.lambda_bar, self.work / self.lambda_bar], -1)
        clock = torch.tensor([math.sin(2.0 * math.pi * day), math.cos(2.0 * math.pi * day)])
        common = torch.cat([clock.expand(E, 2), self.big_lambda / self.mu_total,
                            torch.stack([self.queue / self.mu, self.share], -1).reshape(E, 2 * M)],
                           -1)
        return torch.cat([own, common.unsqueeze(1).expand(E, N, 3 + 2 * M)], -1)

    def step(self, actions):
        """actions (E, N) in [0, M): dispatch, Poisson service, buffers,
        drops; returns (shared reward (E), next observation)."""
        dispatched = torch.zeros(self.E, self.M).scatter_add_(1, actions, self.work)
        capacity = torch.poisson(self.mu, generator=self.gen)
        present = self.queue + dispatched
        left = present - torch.minimum(present, capacity)
        dropped = torch.clamp(left - self.buffer, min=0.0)
        self.queue = left - dropped
        reward = -(self.queue.sum(1) + ENV["drop_weight"] * dropped.sum(1)) / self.big_lambda[:, 0]
        self.step_index += 1
        return reward, self._arrive_and_observe()


# --------------------------------------------------------------------- PPO
def gae(rewards, values, bootstrap, gamma, lam):
    """GAE along dim 0: delta_t = r_t + gamma V_{t+1} - V_t, A_t = delta_t
    + gamma lam A_{t+1}, V_T = bootstrap (time limit). rewards and values
    (T, ...), bootstrap (...). Returns (A, A + V)."""
    adv = torch.zeros_like(values)
    next_adv, next_value = torch.zeros_like(bootstrap), bootstrap
    for t in reversed(range(values.shape[0])):
        delta = rewards[t] + gamma * next_value - values[t]
        next_adv = delta + gamma * lam * next_adv
        adv[t] = next_adv
        next_value = values[t]
    return adv, adv + values


def ppo_loss(actor, critic, batch, clip, entropy_coef, value_coef, huber_delta):
    """Sum over agents of each agent's mean over its decisions of the
    PPO-clip loss, minus entropy_coef times the entropy, plus value_coef
    times the clipped Huber value loss (MAPPO). Agent-major batch: obs
    (N, B, D), actions (N, B) int64, logp, adv, value_old and ret (N, B).
    Returns (loss, stats)."""
    dist = Categorical(logits=mlp(actor, batch["obs"]))
    logp = dist.log_prob(batch["actions"])
    entropy = dist.entropy()
    ratio = torch.exp(logp - batch["logp"])
    adv = batch["adv"]
    policy = -torch.min(ratio * adv, torch.clamp(ratio, 1.0 - clip, 1.0 + clip) * adv)
    value = mlp(critic, batch["obs"]).squeeze(-1)
    old = batch["value_old"]
    clipped = old + torch.clamp(value - old, -clip, clip)
    value_loss = torch.max(
        F.huber_loss(value, batch["ret"], reduction="none", delta=huber_delta),
        F.huber_loss(clipped, batch["ret"], reduction="none", delta=huber_delta))
    per_agent = policy.mean(1) - entropy_coef * entropy.mean(1) + value_coef * value_loss.mean(1)
    return per_agent.sum(), {"policy_loss": policy.mean().item(),
                             "value_loss": value_loss.mean().item(),
                             "entropy": entropy.mean().item()}


@torch.no_grad()
def clip_per_agent(net, max_norm):
    """Global gradient-norm clipping of each agent's network, as dgpg."""
    grads = [t.grad for layer in net for t in layer.values()]
    norm = torch.sqrt(sum(g.reshape(g.shape[0], -1).pow(2).sum(1) for g in grads))
    scale = torch.where(norm > max_norm, max_norm / (norm + 1e-6), torch.ones_like(norm))
    for g in grads:
        g.mul_(scale.reshape((-1,) + (1,) * (g.dim() - 1)))


class Trainer:
    def __init__(self, N, E, T, M, epochs, seed):
        self.N, self.E, self.T, self.M, self.epochs = N, E, T, M, epochs
        self.gen = torch.Generator().manual_seed(seed)
        torch.manual_seed(seed)
        H, D = ALGO["hidden"], obs_dim(M)
        self.D = D
        self.actor = init_mlp(N, [D, H, H, M], 0.01, self.gen)
        self.critic = init_mlp(N, [D, H, H, 1], 1.0, self.gen)
        self.opt = torch.optim.Adam(parameters(self.actor, self.critic), lr=ALGO["lr"],
                                    eps=ALGO["adam_eps"])
        self.env = CloudEnv(E, N, M, self.gen)
        self.vn = {k: torch.zeros(N, dtype=torch.float64) for k in ("mean", "mean_sq", "debias")}
        # rollout buffers, agent-major within a step
        self.obs = torch.zeros(T, N, E, D)
        self.actions = torch.zeros(T, N, E, dtype=torch.int64)
        self.logp = torch.zeros(T, N, E)
        self.values = torch.zeros(T, N, E)
        self.rewards = torch.zeros(T, E)

    def value_norm_moments(self):
        d = self.vn["debias"].clamp(min=1e-5)
        mean = self.vn["mean"] / d
        return mean, torch.sqrt((self.vn["mean_sq"] / d - mean * mean).clamp(min=1e-2))

    def episode(self, k, steps=None):
        """One episode of `steps` (default T) steps: rollout, GAE, update."""
        N, E, T = self.N, self.E, steps or self.T
        with torch.no_grad():
            obs = self.env.reset(k, T)
            for t in range(T):
                x = obs.transpose(0, 1)                              # (N, E, D)
                dist = Categorical(logits=mlp(self.actor, x))
                action = dist.sample()                               # (N, E)
                self.obs[t] = x
                self.actions[t] = action
                self.logp[t] = dist.log_prob(action)
                self.values[t] = mlp(self.critic, x).squeeze(-1)
                self.rewards[t], obs = self.env.step(action.T.contiguous())
            last_value = mlp(self.critic, obs.transpose(0, 1)).squeeze(-1)   # (N, E)
            # GAE on denormalised values; ValueNorm update; normalised targets
            if self.vn["debias"][0] > 0:
                mean, sd = self.value_norm_moments()
            else:
                mean, sd = torch.zeros(N, dtype=torch.float64), torch.ones(N, dtype=torch.float64)
            mean, sd = mean.float()[:, None], sd.float()[:, None]
            rewards, values = self.rewards[:T], self.values[:T]
            adv, ret = gae(rewards.unsqueeze(1).expand(T, N, E), values * sd + mean,
                           last_value * sd + mean, ALGO["gamma"], ALGO["gae_lambda"])
            b = VALUE_NORM_BETA
            self.vn["mean"] = b * self.vn["mean"] + (1 - b) * ret.double().mean((0, 2))
            self.vn["mean_sq"] = b * self.vn["mean_sq"] + (1 - b) * ret.double().pow(2).mean((0, 2))
            self.vn["debias"] = b * self.vn["debias"] + (1 - b)
            mean, sd = self.value_norm_moments()
            ret = (ret - mean.float()[:, None]) / sd.float()[:, None]
            adv = (adv - adv.mean()) / (adv.std() + 1e-5)

            def agent_major(x):  # (T, N, E, ...) -> (N, T E, ...)
                return x.transpose(0, 1).reshape((N, T * E) + x.shape[3:])
            batch = {"obs": agent_major(self.obs[:T]), "actions": agent_major(self.actions[:T]),
                     "logp": agent_major(self.logp[:T]), "adv": agent_major(adv),
                     "value_old": agent_major(values), "ret": agent_major(ret)}
        for _ in range(self.epochs):
            loss, stats = ppo_loss(self.actor, self.critic, batch, ALGO["clip"],
                                   ALGO["entropy_coef"], ALGO["value_coef"], ALGO["huber_delta"])
            self.opt.zero_grad()
            loss.backward()
            clip_per_agent(self.actor, ALGO["max_grad_norm"])
            clip_per_agent(self.critic, ALGO["max_grad_norm"])
            self.opt.step()
        stats["reward"] = rewards.mean().item()
        return stats


def main(args):
    if args.threads and hasattr(os, "sched_setaffinity"):
        os.sched_setaffinity(0, sorted(os.sched_getaffinity(0))[:args.threads])
    if args.threads:
        torch.set_num_threads(args.threads)
    threads = torch.get_num_threads()
    N, E, T, M = args.n, args.e, args.t, args.m
    say = (lambda *a: None) if args.json else (lambda *a: print(*a, flush=True))
    say(f"torch_ppo: IPPO, no guidance, N = {N}, E = {E}, T = {T}, M = {M}, {args.epochs} "
        f"epochs x 1 minibatch, hidden {ALGO['hidden']} x 2, {threads} thread(s), "
        f"torch {torch.__version__} (eager, CPU)")
    trainer = Trainer(N, E, T, M, args.epochs, args.seed)
    rates, seconds = [], []
    for k in range(args.warmup + args.episodes):
        timed = k >= args.warmup
        steps = T if timed or not args.warmup_t else args.warmup_t
        start = time.perf_counter()
        stats = trainer.episode(k, steps)
        wall = time.perf_counter() - start
        rate = E * N * steps / wall
        if timed:
            rates.append(rate)
            seconds.append(wall)
        say(f"episode {k + 1}{'' if timed else f' (warm-up, {steps} steps)'}: {wall:.2f} s, {rate:.4g} "
            f"agent-steps/s, reward {stats['reward']:.4f}, policy loss "
            f"{stats['policy_loss']:.4f}, value loss {stats['value_loss']:.4f}, "
            f"entropy {stats['entropy']:.4f}")
        if not all(math.isfinite(v) for v in stats.values()):
            print("torch_ppo: NaN or Inf in the episode's statistics", file=sys.stderr)
            return 1
    median = float(np.median(rates))
    say(f"agent-steps/s: {median:.4g} (median of {len(rates)} timed episode(s))")
    print("RESULT " + json.dumps({
        "impl": "torch", "version": torch.__version__, "n": N, "e": E, "t": T, "m": M,
        "epochs": args.epochs, "threads": threads, "compile_seconds": 0.0,
        "episode_seconds": seconds, "agent_steps_per_s": median}), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main(parse_args()))
