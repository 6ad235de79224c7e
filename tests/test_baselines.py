#!/usr/bin/env python3
"""The speed comparison (experiments/speed.py) and its JAX and PyTorch
baselines (experiments/baselines/): the comparison runs end to end, and
the baselines are real PPO, not stubs.

Checks:
* `speed.py --quick --out FILE` with the built dgpg exits 0; each of the
  three rates (dgpg, jax, torch) is a finite positive number, in the JSON
  and in the printed table; the JSON has the documented fields (date,
  machine with CPU model, cores, avx2, avx512f; threads; versions of dgpg,
  jax, torch, python; config; per N the medians, the ratios, each round's
  rates, JAX's compilation time, wall times; total seconds), the ratios
  are the quotients of the medians, and the medians those of the rounds.
* GAE of each baseline (jax_ppo.gae, a reverse lax.scan; torch_ppo.gae, a
  reverse loop) against the closed form A_t = sum_l (gamma lambda)^l
  delta_{t+l}, delta_t = r_t + gamma V_{t+1} - V_t, V_T the bootstrap,
  written here in numpy; returns = A + V. Float64, random (T, E, N) data.
* The PPO loss (clipped surrogate, entropy bonus, clipped Huber value loss,
  per-agent means summed over agents) of the two baselines on the same
  float64 inputs: the loss values against each other and against a numpy
  forward written here, and the gradients of every parameter of the
  per-agent actor and critic, jax.grad against torch autograd. The inputs
  are built so that every branch is taken: probability ratios inside and
  outside [1 - clip, 1 + clip] with both signs of the advantage, value
  changes inside and outside the value clip, errors inside and outside
  the Huber width.
* The per-agent gradient-norm clipping of the two baselines on the same
  gradients: each agent's actor norm ends at min(norm, max_norm).
Tolerances: float64 throughout; 1e-10 relative (sums of a few hundred
terms in another order), 1e-9 absolute on the loss.
Usage: test_baselines.py DGPG_BINARY
"""
import json
import math
import os
import subprocess
import sys
import tempfile

import numpy as np

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
sys.path.insert(0, HERE)
sys.path.insert(0, os.path.join(ROOT, "experiments", "baselines"))
from tap import check, finish  # noqa: E402

try:
    import jax
    jax.config.update("jax_enable_x64", True)
    import jax.numpy as jnp
    import optax  # noqa: F401  (jax_ppo needs it)
    import torch
except ImportError as e:
    print(f"test_baselines: {e}; install the test requirements: "
          "bash tools/install-deps.sh --test", file=sys.stderr)
    sys.exit(1)

import jax_ppo  # noqa: E402
import torch_ppo  # noqa: E402


def positive(x):
    return isinstance(x, (int, float)) and math.isfinite(x) and x > 0


def check_speed(dgpg):
    with tempfile.TemporaryDirectory() as tmp:
        out = os.path.join(tmp, "speed.json")
        proc = subprocess.run([sys.executable, os.path.join(ROOT, "experiments", "speed.py"),
                               "--quick", "--dgpg", dgpg, "--out", out],
                              capture_output=True, text=True, timeout=600)
        print(proc.stdout, end="")
        check("speed.py --quick exits 0", proc.returncode == 0,
              f"exit {proc.returncode}: {proc.stderr[-2000:]}")
        if proc.returncode != 0 or not os.path.exists(out):
            check("speed.py wrote its JSON", False, out)
            return
        with open(out) as f:
            rep = json.load(f)
    for key in ("date", "machine", "threads", "versions", "config", "results", "total_seconds"):
        check(f"JSON has '{key}'", key in rep, sorted(rep))
    mach = rep.get("machine", {})
    check("machine: cpu_model, cores, avx2, avx512f",
          isinstance(mach.get("cpu_model"), str) and mach["cpu_model"] != "" and
          isinstance(mach.get("cores"), int) and mach["cores"] >= 1 and
          isinstance(mach.get("avx2"), bool) and isinstance(mach.get("avx512f"), bool), mach)
    vers = rep.get("versions", {})
    check("versions of dgpg, jax, torch, python",
          all(isinstance(vers.get(k), str) and vers[k] for k in ("dgpg", "jax", "torch",
                                                                  "python")) and
          vers.get("jax") == jax.__version__ and vers.get("torch") == torch.__version__, vers)
    cfg = rep.get("config", {})
    check("config: the quick size, IPPO, no guidance, 1 minibatch, 5 epochs",
          cfg.get("n") == [20] and cfg.get("t") == 20 and cfg.get("e") == 16 and
          cfg.get("m") == 8 and cfg.get("epochs") == 5 and cfg.get("minibatches") == 1 and
          cfg.get("critic") == "ippo" and cfg.get("guide") == "none" and
          cfg.get("rounds") == 1, cfg)
    check("threads and total_seconds positive",
          isinstance(rep.get("threads"), int) and rep["threads"] >= 1 and
          positive(rep.get("total_seconds")), (rep.get("threads"), rep.get("total_seconds")))
    results = rep.get("results", [])
    check("one result row (N = 20)", len(results) == 1 and results[0].get("n") == 20, results)
    for row in results:
        for impl in ("dgpg", "jax", "torch"):
            check(f"{impl} rate finite and positive", positive(row.get(impl)), row.get(impl))
            runs = row.get("runs", {}).get(impl, [])
            check(f"{impl}: one round's rate, its median the reported rate",
                  len(runs) == 1 and all(positive(r) for r in runs) and
                  positive(row.get(impl)) and float(np.median(runs)) == row[impl], runs)
            walls = row.get("wall_seconds", {}).get(impl, [])
            check(f"{impl}: wall seconds", len(walls) == 1 and all(positive(w) for w in walls),
                  walls)
        ok = all(positive(row.get(k)) for k in ("dgpg", "jax", "torch"))
        check("ratios dgpg/jax and dgpg/torch are the quotients of the medians",
              ok and abs(row.get("dgpg_over_jax", 0) - row["dgpg"] / row["jax"]) <=
              1e-12 * row["dgpg_over_jax"] and
              abs(row.get("dgpg_over_torch", 0) - row["dgpg"] / row["torch"]) <=
              1e-12 * row["dgpg_over_torch"],
              {k: row.get(k) for k in ("dgpg_over_jax", "dgpg_over_torch")})
        compile_s = row.get("jax_compile_seconds", [])
        check("JAX compilation time reported separately",
              len(compile_s) == 1 and all(positive(c) for c in compile_s), compile_s)
        # the printed table's row holds the same three rates
        line = [ln.split() for ln in proc.stdout.splitlines() if ln.split()[:1] == ["20"]]
        check("printed table row for N = 20 with the three rates and two ratios",
              len(line) == 1 and len(line[0]) == 6 and
              all(math.isclose(float(line[0][1 + k]), row[impl], rel_tol=1e-3)
                  for k, impl in enumerate(("dgpg", "jax", "torch"))), line)


def gae_closed_form(r, v, bootstrap, gamma, lam):
    T = r.shape[0]
    v_next = np.concatenate([v[1:], bootstrap[None]], 0)
    delta = r + gamma * v_next - v
    adv = np.zeros_like(v)
    for t in range(T):
        for l in range(T - t):
            adv[t] += (gamma * lam) ** l * delta[t + l]
    return adv


def check_gae():
    rng = np.random.default_rng(7)
    T, E, N = 13, 3, 4
    gamma, lam = 0.99, 0.95
    r = rng.normal(size=(T, E, N))
    v = rng.normal(size=(T, E, N))
    boot = rng.normal(size=(E, N))
    want = gae_closed_form(r, v, boot, gamma, lam)
    adv_j, ret_j = jax_ppo.gae(jnp.asarray(r), jnp.asarray(v), jnp.asarray(boot), gamma, lam)
    adv_t, ret_t = torch_ppo.gae(torch.from_numpy(r), torch.from_numpy(v), torch.from_numpy(boot),
                                 gamma, lam)
    for name, adv, ret in (("jax", np.asarray(adv_j), np.asarray(ret_j)),
                           ("torch", adv_t.numpy(), ret_t.numpy())):
        err = np.max(np.abs(adv - want)) / np.max(np.abs(want))
        check(f"{name} GAE = closed form sum_l (gamma lambda)^l delta_(t+l)",
              adv.dtype == np.float64 and err < 1e-12, f"relative error {err:.3g}")
        check(f"{name} GAE returns = A + V", np.max(np.abs(ret - (want + v))) < 1e-10,
              np.max(np.abs(ret - (want + v))))
    # lambda = 0: one-step TD errors; gamma lambda = 1 would be the Monte Carlo return
    adv0, _ = torch_ppo.gae(torch.from_numpy(r), torch.from_numpy(v), torch.from_numpy(boot),
                            gamma, 0.0)
    adv0j, _ = jax_ppo.gae(jnp.asarray(r), jnp.asarray(v), jnp.asarray(boot), gamma, 0.0)
    td = r + gamma * np.concatenate([v[1:], boot[None]], 0) - v
    check("GAE with lambda = 0 is the TD error (both)",
          np.allclose(adv0.numpy(), td, atol=1e-12) and np.allclose(np.asarray(adv0j), td,
                                                                    atol=1e-12))


def numpy_loss(actor, critic, b, clip, ent, vc, delta):
    def net(params, x):
        for k, p in enumerate(params):
            x = np.einsum("nbd,ndh->nbh", x, p["w"]) + p["b"][:, None, :]
            if k < len(params) - 1:
                x = np.tanh(x)
        return x
    logits = net(actor, b["obs"])
    z = logits - logits.max(-1, keepdims=True)
    logp_all = z - np.log(np.exp(z).sum(-1, keepdims=True))
    logp = np.take_along_axis(logp_all, b["actions"][..., None], -1)[..., 0]
    ratio = np.exp(logp - b["logp"])
    policy = -np.minimum(ratio * b["adv"], np.clip(ratio, 1 - clip, 1 + clip) * b["adv"])
    entropy = -(np.exp(logp_all) * logp_all).sum(-1)
    value = net(critic, b["obs"])[..., 0]
    clipped = b["value_old"] + np.clip(value - b["value_old"], -clip, clip)

    def huber(e):
        return np.where(np.abs(e) <= delta, 0.5 * e * e, delta * (np.abs(e) - 0.5 * delta))
    vl = np.maximum(huber(value - b["ret"]), huber(clipped - b["ret"]))
    loss = (policy.mean(1) - ent * entropy.mean(1) + vc * vl.mean(1)).sum()
    return loss, ratio, value


def check_loss_gradients():
    rng = np.random.default_rng(11)
    N, B, D, H, M = 3, 40, 5 + 2 * 8, 16, 8
    clip, ent, vc, delta = 0.2, 0.01, 1.0, 10.0

    def params(sizes, scale):
        return [{"w": rng.normal(scale=scale / math.sqrt(a), size=(N, a, c)),
                 "b": rng.normal(scale=0.1, size=(N, c))} for a, c in zip(sizes[:-1], sizes[1:])]
    actor = params([D, H, H, M], 1.5)
    critic = params([D, H, H, 1], 1.5)
    obs = rng.normal(size=(N, B, D))
    actions = rng.integers(0, M, size=(N, B))
    # old log-probabilities: the current ones moved by up to +-0.5, so
    # that ratios fall on both sides of the clip range
    _, ratio0, value0 = numpy_loss(actor, critic, {
        "obs": obs, "actions": actions, "logp": np.zeros((N, B)), "adv": np.ones((N, B)),
        "value_old": np.zeros((N, B)), "ret": np.zeros((N, B))}, clip, ent, vc, delta)
    logp_now = np.log(ratio0)
    batch = {"obs": obs, "actions": actions,
             "logp": logp_now + rng.uniform(-0.5, 0.5, size=(N, B)),
             "adv": rng.normal(size=(N, B)),
             "value_old": value0 + rng.uniform(-0.5, 0.5, size=(N, B)),
             "ret": value0 + rng.normal(scale=8.0, size=(N, B))}
    want, ratio, value = numpy_loss(actor, critic, batch, clip, ent, vc, delta)
    outside = (ratio < 1 - clip) | (ratio > 1 + clip)
    vdiff = np.abs(value - batch["value_old"])
    err = np.abs(value - batch["ret"])
    check("the test batch takes every branch (ratio clipped with A > 0 and A < 0, ratio "
          "inside, value clipped and not, Huber both sides)",
          (outside & (batch["adv"] > 0)).any() and (outside & (batch["adv"] < 0)).any() and
          (~outside).any() and (vdiff > clip).any() and (vdiff < clip).any() and
          (err > delta).any() and (err < delta).any())

    jparams = jax.tree.map(jnp.asarray, {"actor": actor, "critic": critic})
    jbatch = {k: jnp.asarray(v) for k, v in batch.items()}
    (jloss, _), jgrad = jax.value_and_grad(jax_ppo.ppo_loss, has_aux=True)(
        jparams, jbatch, clip, ent, vc, delta)

    def torch_net(ps):
        return [{k: torch.tensor(v, dtype=torch.float64, requires_grad=True) for k, v in p.items()}
                for p in ps]
    tactor, tcritic = torch_net(actor), torch_net(critic)
    tbatch = {k: torch.from_numpy(v) for k, v in batch.items()}
    tloss, _ = torch_ppo.ppo_loss(tactor, tcritic, tbatch, clip, ent, vc, delta)
    tloss.backward()
    check("PPO loss: jax = numpy forward", abs(float(jloss) - want) < 1e-9,
          f"{float(jloss)!r} vs {want!r}")
    check("PPO loss: torch = numpy forward", abs(tloss.item() - want) < 1e-9,
          f"{tloss.item()!r} vs {want!r}")
    worst, norm = 0.0, 0.0
    for net, tnet in (("actor", tactor), ("critic", tcritic)):
        for layer, tlayer in zip(jgrad[net], tnet):
            for k in ("w", "b"):
                g_j = np.asarray(layer[k])
                g_t = tlayer[k].grad.numpy()
                scale = max(np.max(np.abs(g_t)), 1e-300)
                worst = max(worst, np.max(np.abs(g_j - g_t)) / scale)
                norm += float(np.sum(g_t ** 2))
    check("PPO loss gradients: jax.grad = torch autograd for every actor and critic "
          "parameter (float64)", worst < 1e-10, f"worst relative difference {worst:.3g}")
    check("the gradient is not trivially zero", norm > 1e-6, norm)

    # per-agent gradient-norm clipping on the same gradients, the limit
    # between the smallest and the middle agent's norm
    before = np.sqrt(sum(np.sum(np.asarray(p[k]).reshape(N, -1) ** 2, 1)
                         for p in jgrad["actor"] for k in ("w", "b")))
    max_norm = float(np.mean(np.sort(before)[:2]))
    jclipped = jax_ppo.clip_per_agent(jgrad, max_norm)
    torch_ppo.clip_per_agent(tactor, max_norm)
    after_j = np.sqrt(sum(np.sum(np.asarray(p[k]).reshape(N, -1) ** 2, 1)
                          for p in jclipped["actor"] for k in ("w", "b")))
    after_t = np.sqrt(sum(np.sum(p[k].grad.numpy().reshape(N, -1) ** 2, 1)
                          for p in tactor for k in ("w", "b")))
    want_norm = np.minimum(before, max_norm * before / (before + 1e-6))
    want_norm = np.where(before > max_norm, want_norm, before)
    check("per-agent clipping: some agents above the limit, some below (test input)",
          (before > max_norm).any() and (before < max_norm).any(), (before, max_norm))
    check("per-agent clipping: jax and torch bring each agent's actor norm to "
          "min(norm, max_norm)", np.allclose(after_j, want_norm, rtol=1e-9) and
          np.allclose(after_t, want_norm, rtol=1e-9), (before, after_j, after_t, max_norm))


def main():
    if len(sys.argv) != 2:
        print(__doc__.strip().splitlines()[-1], file=sys.stderr)
        return 2
    check_gae()
    check_loss_gradients()
    check_speed(os.path.abspath(sys.argv[1]))
    return finish("test_baselines")


if __name__ == "__main__":
    sys.exit(main())
