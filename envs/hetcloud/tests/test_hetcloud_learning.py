#!/usr/bin/env python3
"""DG-PG learns on the heterogeneous cloud at small N, and the trained
policy generalises to clusters it never saw.

Trains DG-PG (MAPPO critic, the model's two-resource guidance at a
constant weight 0.9, lr 0.002: the settings of experiments/heuristics.py)
with N = 5 agents, E = 16 sampled scenarios per episode, T = 200 steps,
15 episodes, seed 1; then `dgpg eval` on 4 held-out scenarios (seeds
7000..7003, never training ones) runs the trained policy beside random
dispatch, the untrained level. Truths and tolerances, fixed before the
first run: on every held-out scenario the trained policy's cost is below a
third of random's (the same scenarios, arrivals and completions: a paired
comparison), and in training the mean cost/p* of the last 3 episodes is
below half that of the first 2. The run takes about 6 s on 2 cores.
Usage: test_hetcloud_learning.py DGPG_BINARY SCRATCH_DIR
"""
import os
import subprocess
import sys

import h5py
import numpy as np

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "..", "..", "tests"))
from tap import check, finish  # noqa: E402

ENV = ["env.name=hetcloud", "model.name=hetcloud_util", "env.n_agents=5", "backend.kind=cpu"]
TRAIN = ["env.n_envs=16", "env.horizon=200", "train.episodes=15", "train.seed=1",
         "algo.lr=0.002", "algo.guide=dgpg", "algo.critic=mappo",
         "algo.alpha_schedule=constant", "algo.alpha_start=0.9", "backend.threads=2"]


def sets(items):
    return [a for s in items for a in ("--set", s)]


def main(dgpg, scratch):
    os.makedirs(scratch, exist_ok=True)
    r = subprocess.run([dgpg, "train", "--force"] +
                       sets(ENV + TRAIN + [f"log.dir={scratch}", "train.name=hetcloud_learn"]),
                       capture_output=True, text=True)
    check("DG-PG trains on hetcloud", r.returncode == 0, r.stderr[-400:])
    if r.returncode != 0:
        return
    run = os.path.join(scratch, "hetcloud_learn")
    with h5py.File(os.path.join(run, "log.h5"), "r") as f:
        ratio = f["episode/cost_ratio"][()]
        columns = f.attrs["env_columns"]
    columns = columns.decode() if isinstance(columns, bytes) else columns
    check("its log holds the environment's columns",
          columns == "delay,reject_rate,cpu_util,mem_util", columns)
    first, last = float(np.mean(ratio[:2])), float(np.mean(ratio[-3:]))
    check(f"training lowers cost/p*: last 3 episodes {last:.3f} < half the first 2 {first:.3f}",
          last < 0.5 * first, ratio)
    out = os.path.join(scratch, "hetcloud_learn_eval.h5")
    r = subprocess.run([dgpg, "eval", "--policy", f"random,run:{run}", "--output", out] +
                       sets(ENV + ["env.n_envs=8", "eval.scenarios=4", "eval.seed=7000",
                                   "backend.threads=2"]), capture_output=True, text=True)
    check("dgpg eval runs the trained policy on held-out scenarios", r.returncode == 0,
          r.stderr[-400:])
    if r.returncode != 0:
        return
    with h5py.File(out, "r") as f:
        names = [n.decode() if isinstance(n, bytes) else n for n in f["eval/policy"][()]]
        cost = f["eval/cost"][()]
    random_cost, trained = cost[names.index("random")], cost[names.index("run:hetcloud_learn")]
    check("held out, the trained policy's cost is below a third of random's on every scenario",
          bool(np.all(trained < random_cost / 3.0)), f"trained {trained}, random {random_cost}")


if __name__ == "__main__":
    if len(sys.argv) != 3:
        sys.exit(__doc__)
    main(sys.argv[1], sys.argv[2])
    sys.exit(finish("hetcloud_learning"))
