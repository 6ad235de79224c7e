#!/usr/bin/env python3
"""The batch `dgpg train` builds, recomputed from its definitions.

Usage: test_train_batch.py DGPG_BINARY SCRATCH_DIR

One episode per guidance form (none, dgpg, target, descent, cv; IPPO and
MAPPO critics) with `train.dump_batch`, which writes the batch as the
trainer holds it after the advantages. From the dumped rewards, critic
outputs, probabilities, actions, p* and dC/dp, and from the settings this
test passes on the command line (never from the file's config), numpy
recomputes:
  * GAE with the gamma and lambda given (they differ, so that reading one
    for the other shows), on values denormalised by the fresh value
    normaliser (mean 0, sd 1 before its first update), bootstrapped at the
    time limit: the closed form A_t = sum_l (gamma lambda)^l delta_{t+l};
  * the return targets standardised by MAPPO's ValueNorm after its first
    update (debiased running moments equal the batch's; variance floored
    at 1e-2);
  * the advantage normalised over the whole batch (population sd + 1e-5)
    and broadcast to the agents under a central critic;
  * each form's guidance term from its definition (cv: -<g, e_a - p>;
    target: ||p - p*(s)||; descent: ||g||), its scale 1 / RMS over the
    batch (descent: RMS per entry of g), the mix (dgpg:
    (1 - alpha) A - alpha s G; cv: A - alpha s G; the others leave A);
  * alpha as given; log p of each action from the probabilities; the
    episode's logged cost as minus the mean reward of the batch.
Tolerances: float32 storage of sums of O(10) terms, rtol 1e-5 with atol
1e-5 (advantages, returns) or 1e-6 (probabilities); alpha exactly.
"""
import os
import subprocess
import sys

import h5py
import numpy as np

import tap

GAMMA, LAMBDA, ALPHA = 0.95, 0.7, 0.6
T, E, N = 20, 4, 5
BASE = ["--set", "backend.threads=1", "--set", f"env.n_agents={N}", "--set", f"env.n_envs={E}",
        "--set", f"env.horizon={T}", "--set", "env.day_length=40", "--set", "train.episodes=1",
        "--set", "algo.minibatches=2", "--set", f"algo.gamma={GAMMA}",
        "--set", f"algo.gae_lambda={LAMBDA}", "--set", "algo.alpha_schedule=constant",
        "--set", f"algo.alpha_start={ALPHA}"]


def check(ok, what):
    tap.check(what, bool(ok))


def close(what, got, want, rtol=1e-5, atol=1e-5):
    got, want = np.asarray(got, np.float64), np.asarray(want, np.float64)
    if got.shape != want.shape:
        check(False, f"{what}: shape {got.shape} != {want.shape}")
        return
    diff = np.abs(got - want)
    check(bool(np.all(diff <= atol + rtol * np.abs(want))),
              f"{what} (max abs diff {diff.max():.2e})")


def gae(rewards, values):
    """rewards (T, E), values (T + 1, E, V) in reward units -> (T, E, V)."""
    delta = rewards[:, :, None] + GAMMA * values[1:] - values[:-1]
    adv = np.zeros_like(delta)
    for t in range(delta.shape[0]):
        for l in range(delta.shape[0] - t):
            adv[t] += (GAMMA * LAMBDA) ** l * delta[t + l]
    return adv


def check_run(dgpg, scratch, guide, critic):
    tag = f"{guide}/{critic}"
    name = f"batch_{guide}_{critic}"
    dump = os.path.join(scratch, f"{name}.h5")
    r = subprocess.run([dgpg, "train", "--force", "--set", f"train.name={name}",
                        "--set", f"algo.guide={guide}", "--set", f"algo.critic={critic}",
                        "--set", f"train.dump_batch={dump}"] + BASE,
                       cwd=scratch, capture_output=True, text=True, timeout=300)
    check(r.returncode == 0, f"{tag}: one episode trains and dumps its batch "
              f"({r.stderr.strip()[:300]})")
    if r.returncode != 0:
        return
    with h5py.File(dump, "r") as f:
        d = {k: f[k][()].astype(np.float64) for k in f if isinstance(f[k], h5py.Dataset)}
        attrs = {k: float(v) for k, v in f.attrs.items()}
    with h5py.File(os.path.join(scratch, "runs", name, "log.h5"), "r") as f:
        logged_cost = f["episode/cost"][0]
    M = int(attrs["M"])
    V = 1 if critic == "mappo" else N
    check((attrs["T"], attrs["E"], attrs["N"], attrs["V"]) == (T, E, N, V),
              f"{tag}: batch of T={T}, E={E}, N={N}, V={V}")
    check(attrs["alpha"] == (0.0 if guide == "none" else ALPHA),
              f"{tag}: alpha of the first episode is alpha_start ({attrs['alpha']})")
    rewards = d["rewards"]
    close(f"{tag}: logged cost = minus the batch's mean reward", logged_cost, -rewards.mean())
    # GAE on the critic's outputs (the normaliser is fresh: mean 0, sd 1)
    values = d["values"].reshape(T + 1, E, V)
    adv_raw = gae(rewards, values)
    close(f"{tag}: advantages = GAE(gamma {GAMMA}, lambda {LAMBDA}) of the rewards and values",
          d["adv_raw"].reshape(T, E, V), adv_raw)
    # ValueNorm's first update: the debiased moments are the batch's own
    raw_returns = (adv_raw + values[:-1]).reshape(T * E, V)
    mean = raw_returns.mean(axis=0)
    var = np.maximum((raw_returns ** 2).mean(axis=0) - mean ** 2, 1e-2)
    close(f"{tag}: return targets standardised by the updated value normaliser", d["returns"],
          (raw_returns - mean) / np.sqrt(var))
    # advantage normalisation over the batch, broadcast to the agents
    a = adv_raw.reshape(T * E, V)
    a_norm = (a - a.mean()) / (a.std() + 1e-5)
    a_norm = np.repeat(a_norm, N, axis=1) if V == 1 else a_norm
    probs = d["probs"].reshape(T * E, N, M)
    actions = d["actions"].astype(np.int64)
    close(f"{tag}: probabilities sum to 1", probs.sum(axis=2), np.ones((T * E, N)), atol=1e-6)
    close(f"{tag}: logp = log p(action)", d["logp"],
          np.log(np.take_along_axis(probs, actions[:, :, None], axis=2)[:, :, 0]), atol=1e-5)
    p_star = d["p_star"]
    close(f"{tag}: p* rows sum to 1", p_star.sum(axis=1), np.ones(T * E), atol=1e-5)
    if guide == "none":
        close(f"{tag}: PPO's advantage is the normalised one", d["adv"], a_norm)
        return
    if guide in ("descent", "cv"):
        g = d["grad_p"].reshape(T * E, N, M)
    if guide == "cv":
        want = -(np.take_along_axis(g, actions[:, :, None], axis=2)[:, :, 0]
                 - (probs * g).sum(axis=2))
    elif guide == "target":
        want = np.sqrt(((probs - p_star[:, None, :]) ** 2).sum(axis=2))
    elif guide == "descent":
        want = np.sqrt((g ** 2).sum(axis=2))
    G = d["guidance"]
    if guide != "dgpg":
        close(f"{tag}: guidance term from its definition", G, want, atol=1e-6)
    if guide in ("dgpg", "cv"):
        s = 1.0 / np.sqrt((G ** 2).mean())
        close(f"{tag}: guidance scale = 1 / RMS of the term over the batch", attrs["guide_scale"],
              s)
        mixed = ((1 - ALPHA) * a_norm - ALPHA * s * G if guide == "dgpg"
                 else a_norm - ALPHA * s * G)
        close(f"{tag}: PPO's advantage mixes in the scaled guidance", d["adv"], mixed)
    else:
        close(f"{tag}: PPO's advantage is the normalised one (the term enters the gradient)",
              d["adv"], a_norm)
    if guide == "descent":
        close(f"{tag}: descent scale = 1 / RMS of dC/dp per entry", attrs["descent_scale"],
              1.0 / np.sqrt((g ** 2).mean()))


def main():
    if len(sys.argv) != 3:
        sys.exit("usage: test_train_batch.py DGPG_BINARY SCRATCH_DIR")
    dgpg, scratch = os.path.abspath(sys.argv[1]), sys.argv[2]
    os.makedirs(scratch, exist_ok=True)
    for guide, critic in (("none", "ippo"), ("dgpg", "ippo"), ("dgpg", "mappo"),
                          ("target", "mappo"), ("descent", "ippo"), ("cv", "mappo")):
        check_run(dgpg, scratch, guide, critic)
    # a path that cannot be created stops the run with a message naming the key
    r = subprocess.run([dgpg, "train", "--force", "--set", "train.name=batch_bad",
                        "--set", "train.dump_batch=/nonexistent-dir/batch.h5"] + BASE,
                       cwd=scratch, capture_output=True, text=True, timeout=300)
    check(r.returncode != 0 and "train.dump_batch" in r.stderr and "cannot create" in r.stderr,
              f"an unwritable dump path is refused by name ({r.stderr.strip()[:200]})")
    sys.exit(tap.finish("train_batch"))


if __name__ == "__main__":
    main()
