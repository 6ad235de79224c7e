#!/usr/bin/env python3
"""IPPO on the cloud-scheduling workload, written as a JAX / JaxMARL user
would: the baseline that `experiments/speed.py` times dgpg against.

The environment (docs/environment.md) is vectorised in jax.numpy over E
environments, N agents and M pools; the rollout of T steps is a
`jax.lax.scan`; GAE is a reverse `lax.scan`; the actor and the critic are
per-agent MLPs (N parameter sets, `D -> 64 -> 64 -> M` and `-> 1`, tanh,
stacked on a leading agent axis, `jax.vmap` over the agents on agent-major
(N, B, d) activations); PPO-clip with
`epochs` full-batch epochs (one minibatch), optax Adam; everything of an
episode (scenario draw, rollout, GAE, update) is one `jax.jit`-compiled
function. No guidance (plain IPPO).

Settings are experiments/default.yaml's (env and algo sections) except
where the benchmark sets them (E = 16, one minibatch, IPPO, no guidance):
rho 0.8, lambda_mean 1, sigma 0.5, day amplitude 0.25 over D = 200 steps,
phases in [0, 0.5), 4 instance types, 1..4 servers per pool, buffers of 20
steps of service, w_drop 10, unit jobs; lr 5e-4, Adam eps 1e-5, clip 0.2,
gamma 0.99, lambda 0.95, entropy 0.01, value coefficient 1, clipped value
loss with Huber width 10, gradient-norm clipping at 10 per agent network,
value normalisation (ValueNorm, as the MAPPO reference), advantage
normalisation over the batch, orthogonal initialisation (gains 5/3, 0.01, 1).

What differs from dgpg's environment (same sizes, same kind of per-step
work, same observation and action shapes, not bitwise the same numbers):
jax.random's Poisson sampler and key splitting instead of Philox with
exact inversion tables; the scenario (rates, phases, pools) is drawn
inside the jitted episode from jax.random instead of Philox keyed by
seed; no bursts, unit job sizes only (the default config); queues held as
float32 (exact integers at these sizes); the whole batch goes through each
epoch at once (dgpg streams it in chunks of algo.chunk samples). dgpg also
runs work this baseline does not: the paired p* reference episode, the
model's p*(s) at every step, the per-agent gradient-variance estimate and
its HDF5 log.

Usage: jax_ppo.py [--n N] [--e E] [--t T] [--episodes K] [--warmup W]
                  [--threads K] [--seed S] [--json]
Prints agent-steps per second (E N T / wall seconds per episode) for each
timed episode after the warm-up episode(s), the median, and the
compilation time separately; the last line is `RESULT {json}`.
"""
import json
import math
import os
import sys
import time

from common import ALGO, ENV, VALUE_NORM_BETA, argument_parser, check_sizes, obs_dim


def parse_args(argv=None):
    p = argument_parser(__doc__, "untimed episodes after compilation (default 1)",
                        "CPU cores the process may use (default every core)")
    args = p.parse_args(argv)
    check_sizes(p, args)
    if args.warmup < 0 or args.threads < 0:
        p.error("--warmup and --threads must be at least 0")
    return args


def limit_threads(threads):
    """Pins the process to `threads` cores before jax starts: XLA's CPU
    thread pool is sized from the cores the process may run on."""
    if threads and hasattr(os, "sched_setaffinity"):
        cores = sorted(os.sched_getaffinity(0))
        os.sched_setaffinity(0, cores[:threads])
    if threads == 1:
        os.environ["XLA_FLAGS"] = (os.environ.get("XLA_FLAGS", "") +
                                   " --xla_cpu_multi_thread_eigen=false"
                                   " intra_op_parallelism_threads=1").strip()


if __name__ == "__main__":
    ARGS = parse_args()
    limit_threads(ARGS.threads)

import jax  # noqa: E402
import jax.numpy as jnp  # noqa: E402
import numpy as np  # noqa: E402
import optax  # noqa: E402

# ---------------------------------------------------------------- networks
def init_mlp(key, N, sizes, out_gain):
    """Per-agent MLP: for each layer W (N, d_in, d_out), b (N, d_out);
    orthogonal weights (gain 5/3 for tanh layers, out_gain for the head)."""
    params = []
    keys = jax.random.split(key, len(sizes) - 1)
    for layer, (d_in, d_out) in enumerate(zip(sizes[:-1], sizes[1:])):
        gain = out_gain if layer == len(sizes) - 2 else 5.0 / 3.0
        init = jax.nn.initializers.orthogonal(scale=gain)
        w = jax.vmap(lambda k: init(k, (d_in, d_out), jnp.float32))(
            jax.random.split(keys[layer], N))
        params.append({"w": w, "b": jnp.zeros((N, d_out), jnp.float32)})
    return params


def mlp_one(params, x):
    """One agent's MLP on x (B, d_in) -> (B, d_out)."""
    for layer, p in enumerate(params):
        x = x @ p["w"] + p["b"]
        if layer < len(params) - 1:
            x = jnp.tanh(x)
    return x


# x (N, B, d_in) -> (N, B, d_out): agent n's network on x[n]. Agent-major,
# vmapped over the agents' stacked parameters (JaxMARL style); measured
# 2.8x faster forward + backward than einsums over a (B, N, d) layout.
mlp = jax.vmap(mlp_one)


# ------------------------------------------------------------- environment
def draw_scenarios(key, E, N, M):
    """One scenario per environment (docs/environment.md, "Scenario")."""
    k_z, k_phase, k_servers = jax.random.split(key, 3)
    sigma = ENV["lambda_sigma"]
    z = jax.random.normal(k_z, (E, N))
    base = ENV["lambda_mean"] * jnp.exp(sigma * z - 0.5 * sigma * sigma)
    phase = ENV["phase_spread"] * jax.random.uniform(k_phase, (E, N))
    vcpus = 2.0 ** (1 + jnp.arange(M) % ENV["instance_types"])
    servers = 1.0 + jnp.floor(jax.random.uniform(k_servers, (E, M)) * ENV["servers_max"])
    raw = vcpus * servers
    mu_total = base.sum(1) / ENV["rho"]                         # unit jobs: size_mean 1
    mu = raw * (mu_total / raw.sum(1))[:, None]
    buffer = jnp.maximum(1.0, jnp.ceil(ENV["buffer_steps"] * mu))
    return dict(base=base, phase=phase, lambda_bar=base.mean(1), mu=mu, mu_total=mu_total,
                share=mu / mu_total[:, None], buffer=buffer)


def arrivals(sc, key, step):
    """Rates lambda_i(t) (E, N), Lambda(t) (E), the day's sin/cos and the
    work w_i(t) ~ Poisson(lambda_i(t)) (unit jobs)."""
    D = ENV["day_length"]
    day = (step % D).astype(jnp.float32) / D
    rate = sc["base"] * (1.0 + ENV["day_amplitude"] *
                         jnp.sin(2.0 * jnp.pi * (day + sc["phase"])))
    work = jax.random.poisson(key, rate).astype(jnp.float32)
    return rate, rate.sum(1), jnp.sin(2.0 * jnp.pi * day), jnp.cos(2.0 * jnp.pi * day), work


def observe(sc, queue, rate, big_lambda, day_sin, day_cos, work):
    """Observation (E, N, 5 + 2M): own rate and work relative to the mean
    rate, time of day, load Lambda/sum mu, per pool Q/mu and mu share."""
    E, N = rate.shape
    M = queue.shape[1]
    lam_bar = sc["lambda_bar"][:, None]
    own = jnp.stack([rate / lam_bar, work / lam_bar], -1)                     # (E, N, 2)
    common = jnp.concatenate([
        jnp.stack([day_sin * jnp.ones(E), day_cos * jnp.ones(E),
                   big_lambda / sc["mu_total"]], -1),
        jnp.stack([queue / sc["mu"], sc["share"]], -1).reshape(E, 2 * M)], -1)  # (E, 3 + 2M)
    return jnp.concatenate([own, jnp.broadcast_to(common[:, None, :], (E, N, 3 + 2 * M))], -1)


def serve(sc, key, queue, work, actions, big_lambda):
    """Dispatch, Poisson service, buffers and drops; the shared reward."""
    M = queue.shape[1]
    dispatched = jnp.einsum("en,enm->em", work, jax.nn.one_hot(actions, M, dtype=jnp.float32))
    capacity = jax.random.poisson(key, sc["mu"]).astype(jnp.float32)
    present = queue + dispatched
    left = present - jnp.minimum(present, capacity)
    dropped = jnp.maximum(left - sc["buffer"], 0.0)
    queue = left - dropped
    reward = -(queue.sum(1) + ENV["drop_weight"] * dropped.sum(1)) / big_lambda
    return queue, reward


# --------------------------------------------------------------------- PPO
def gae(rewards, values, bootstrap, gamma, lam):
    """GAE along axis 0 (reverse lax.scan): delta_t = r_t + gamma V_{t+1} -
    V_t, A_t = delta_t + gamma lam A_{t+1}, V_T = bootstrap (time limit).
    rewards and values (T, ...), bootstrap (...). Returns (A, A + V)."""
    def body(carry, x):
        next_adv, next_value = carry
        r, v = x
        adv = r + gamma * next_value - v + gamma * lam * next_adv
        return (adv, v), adv
    _, adv = jax.lax.scan(body, (jnp.zeros_like(bootstrap), bootstrap), (rewards, values),
                          reverse=True)
    return adv, adv + values


def huber(e, delta):
    return jnp.where(jnp.abs(e) <= delta, 0.5 * e * e, delta * (jnp.abs(e) - 0.5 * delta))


def ppo_loss(params, batch, clip, entropy_coef, value_coef, huber_delta):
    """Sum over agents of each agent's mean over its decisions of the
    PPO-clip loss, minus entropy_coef times the entropy, plus value_coef
    times the clipped Huber value loss (MAPPO). Agent-major batch: obs
    (N, B, D), actions (N, B) int, logp, adv, value_old and ret (N, B)
    (ret: normalised targets). Returns (loss, stats)."""
    logits = mlp(params["actor"], batch["obs"])
    logp_all = jax.nn.log_softmax(logits)
    logp = jnp.take_along_axis(logp_all, batch["actions"][..., None], -1)[..., 0]
    ratio = jnp.exp(logp - batch["logp"])
    adv = batch["adv"]
    policy = -jnp.minimum(ratio * adv, jnp.clip(ratio, 1.0 - clip, 1.0 + clip) * adv)
    entropy = -(jnp.exp(logp_all) * logp_all).sum(-1)
    value = mlp(params["critic"], batch["obs"])[..., 0]
    old = batch["value_old"]
    clipped = old + jnp.clip(value - old, -clip, clip)
    value_loss = jnp.maximum(huber(value - batch["ret"], huber_delta),
                             huber(clipped - batch["ret"], huber_delta))
    per_agent = (policy.mean(1) - entropy_coef * entropy.mean(1) +
                 value_coef * value_loss.mean(1))
    return per_agent.sum(), {"policy_loss": policy.mean(), "value_loss": value_loss.mean(),
                             "entropy": entropy.mean()}


def clip_per_agent(grads, max_norm):
    """Global gradient-norm clipping of each agent's network (its own
    policy), the actor's and the critic's separately, as dgpg does."""
    def clip_net(net):
        sq = sum(jnp.sum(g.reshape(g.shape[0], -1) ** 2, 1) for g in jax.tree.leaves(net))
        norm = jnp.sqrt(sq)
        scale = jnp.where(norm > max_norm, max_norm / (norm + 1e-6), 1.0)
        return jax.tree.map(lambda g: g * scale.reshape((-1,) + (1,) * (g.ndim - 1)), net)
    return {k: clip_net(v) for k, v in grads.items()}


def value_norm_moments(vn):
    d = jnp.maximum(vn["debias"], 1e-5)
    mean = vn["mean"] / d
    return mean, jnp.sqrt(jnp.maximum(vn["mean_sq"] / d - mean * mean, 1e-2))


def make_trainer(N, E, T, M, epochs):
    optimiser = optax.adam(ALGO["lr"], eps=ALGO["adam_eps"])

    def init(key):
        k_actor, k_critic = jax.random.split(key)
        H, D = ALGO["hidden"], obs_dim(M)
        params = {"actor": init_mlp(k_actor, N, [D, H, H, M], 0.01),
                  "critic": init_mlp(k_critic, N, [D, H, H, 1], 1.0)}
        vn = {k: jnp.zeros(N, jnp.float32) for k in ("mean", "mean_sq", "debias")}
        return {"params": params, "opt": optimiser.init(params), "vn": vn}

    def episode(state, key, episode_index):
        params = state["params"]
        k_scenario, k_steps, k_last = jax.random.split(key, 3)
        sc = draw_scenarios(k_scenario, E, N, M)
        queue0 = jnp.zeros((E, M), jnp.float32)
        first = episode_index * T

        def step(queue, x):
            t, k = x
            k_arr, k_act, k_srv = jax.random.split(k, 3)
            rate, big_lambda, s, c, work = arrivals(sc, k_arr, first + t)
            obs = observe(sc, queue, rate, big_lambda, s, c, work).transpose(1, 0, 2)  # (N, E, D)
            logits = mlp(params["actor"], obs)
            actions = jax.random.categorical(k_act, logits)                          # (N, E)
            logp = jnp.take_along_axis(jax.nn.log_softmax(logits), actions[..., None], -1)[..., 0]
            value = mlp(params["critic"], obs)[..., 0]
            queue, reward = serve(sc, k_srv, queue, work, actions.T, big_lambda)
            return queue, (obs, actions, logp, value, reward)

        queue, (obs, actions, logp, values, rewards) = jax.lax.scan(
            step, queue0, (jnp.arange(T), jax.random.split(k_steps, T)))
        rate, big_lambda, s, c, work = arrivals(sc, k_last, first + T)
        last_obs = observe(sc, queue, rate, big_lambda, s, c, work).transpose(1, 0, 2)
        last_value = mlp(params["critic"], last_obs)[..., 0]                         # (N, E)

        # GAE on denormalised values; ValueNorm update; normalised targets
        mean, sd = value_norm_moments(state["vn"])
        seen = state["vn"]["debias"] > 0
        mean, sd = jnp.where(seen, mean, 0.0), jnp.where(seen, sd, 1.0)
        # values (T, N, E); rewards (T, E), shared by the agents
        mean, sd = mean[:, None], sd[:, None]
        adv, ret = gae(jnp.broadcast_to(rewards[:, None, :], values.shape), values * sd + mean,
                       last_value * sd + mean, ALGO["gamma"], ALGO["gae_lambda"])
        b = VALUE_NORM_BETA
        vn = {"mean": b * state["vn"]["mean"] + (1 - b) * ret.mean((0, 2)),
              "mean_sq": b * state["vn"]["mean_sq"] + (1 - b) * (ret * ret).mean((0, 2)),
              "debias": b * state["vn"]["debias"] + (1 - b)}
        mean, sd = value_norm_moments(vn)
        ret = (ret - mean[:, None]) / sd[:, None]
        adv = (adv - adv.mean()) / (adv.std() + 1e-5)

        def agent_major(x):  # (T, N, E, ...) -> (N, T E, ...)
            return jnp.moveaxis(x, 1, 0).reshape((N, T * E) + x.shape[3:])
        batch = {"obs": agent_major(obs), "actions": agent_major(actions),
                 "logp": agent_major(logp), "adv": agent_major(adv),
                 "value_old": agent_major(values), "ret": agent_major(ret)}
        grad_fn = jax.value_and_grad(ppo_loss, has_aux=True)

        def epoch(carry, _):
            params, opt = carry
            (_, stats), grads = grad_fn(params, batch, ALGO["clip"], ALGO["entropy_coef"],
                                        ALGO["value_coef"], ALGO["huber_delta"])
            grads = clip_per_agent(grads, ALGO["max_grad_norm"])
            updates, opt = optimiser.update(grads, opt, params)
            return (optax.apply_updates(params, updates), opt), stats

        (params, opt), stats = jax.lax.scan(epoch, (params, state["opt"]), None, length=epochs)
        stats = jax.tree.map(lambda x: x[-1], stats)
        stats["reward"] = rewards.mean()
        return {"params": params, "opt": opt, "vn": vn}, stats

    return init, jax.jit(episode, donate_argnums=0)


def main(args):
    N, E, T, M = args.n, args.e, args.t, args.m
    say = (lambda *a: None) if args.json else (lambda *a: print(*a, flush=True))
    threads = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()
    say(f"jax_ppo: IPPO, no guidance, N = {N}, E = {E}, T = {T}, M = {M}, {args.epochs} epochs "
        f"x 1 minibatch, hidden {ALGO['hidden']} x 2, {threads} thread(s), jax {jax.__version__} "
        f"on {jax.devices()[0].platform}")
    init, episode = make_trainer(N, E, T, M, args.epochs)
    key = jax.random.PRNGKey(args.seed)
    key, k_init = jax.random.split(key)
    state = init(k_init)
    start = time.perf_counter()
    compiled = episode.lower(state, key, jnp.int32(0)).compile()
    compile_s = time.perf_counter() - start
    say(f"compilation: {compile_s:.2f} s")
    rates, seconds = [], []
    for k in range(args.warmup + args.episodes):
        key, k_ep = jax.random.split(key)
        start = time.perf_counter()
        state, stats = compiled(state, k_ep, jnp.int32(k))
        stats = jax.device_get(stats)
        jax.block_until_ready(state)
        wall = time.perf_counter() - start
        rate = E * N * T / wall
        timed = k >= args.warmup
        if timed:
            rates.append(rate)
            seconds.append(wall)
        say(f"episode {k + 1}{'' if timed else ' (warm-up)'}: {wall:.2f} s, {rate:.4g} "
            f"agent-steps/s, reward {float(stats['reward']):.4f}, policy loss "
            f"{float(stats['policy_loss']):.4f}, value loss {float(stats['value_loss']):.4f}, "
            f"entropy {float(stats['entropy']):.4f}")
        if not all(math.isfinite(float(v)) for v in stats.values()):
            print("jax_ppo: NaN or Inf in the episode's statistics", file=sys.stderr)
            return 1
    median = float(np.median(rates))
    say(f"agent-steps/s: {median:.4g} (median of {len(rates)} timed episode(s))")
    print("RESULT " + json.dumps({
        "impl": "jax", "version": jax.__version__, "n": N, "e": E, "t": T, "m": M,
        "epochs": args.epochs, "threads": threads, "compile_seconds": compile_s,
        "episode_seconds": seconds, "agent_steps_per_s": median}), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main(ARGS))
