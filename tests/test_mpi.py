#!/usr/bin/env python3
"""Data parallelism over MPI (src/backends/dist.h), with mpirun from openmpi-bin:
  * one rank under mpirun gives bitwise the log of a plain run;
  * two ranks with the same total E give the same per-episode metrics and
    final parameters as one rank, within float tolerance: the rollouts
    (cost, reward, delay, drops) to 1e-12 relative, because every
    environment and every sampled action is the same; losses, statistics
    and parameters to 1e-5 relative, because gradients are summed per rank
    and then over ranks, in another order than one process sums them;
  * an E that the ranks cannot share equally, and a config that differs
    between ranks, are refused with a message, not a hang;
  * a rank killed with SIGKILL ends the whole job within 60 s.
Skipped (77) where dgpg was built without MPI; fails if it was built with
MPI and mpirun is missing.
Usage: test_mpi.py DGPG_BINARY SCRATCH_DIR
"""
import os
import shutil
import signal
import subprocess
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from cpu_pin import pinned  # noqa: E402
from tap import check, finish  # noqa: E402

import h5py
import numpy as np

ENV = dict(os.environ, OMPI_ALLOW_RUN_AS_ROOT="1", OMPI_ALLOW_RUN_AS_ROOT_CONFIRM="1",
           OMPI_MCA_rmaps_base_oversubscribe="1")
SMALL = ["--set", "env.n_agents=6", "--set", "env.n_envs=4", "--set", "env.horizon=30",
         "--set", "train.episodes=3", "--set", "backend.threads=1", "--set", "log.snapshot_every=1"]
TIMES = {"wall_time", "rollout_seconds", "update_seconds", "agent_steps_per_s"}
ROLLOUT = {"reward", "cost", "cost_pstar", "cost_ratio", "delay", "drop_rate", "alpha"}



def mpirun(np_, dgpg, args, cwd, timeout=300):
    return subprocess.run(["mpirun", "-np", str(np_), dgpg] + pinned(args), cwd=cwd, env=ENV,
                          capture_output=True, text=True, timeout=timeout)


def read(path):
    with h5py.File(path, "r") as f:
        return ({k: f["episode"][k][()] for k in f["episode"] if k not in TIMES},
                f["snapshot/actor_params"][-1])


def rel(a, b):
    return float(np.max(np.abs(a - b) / np.maximum(np.abs(a), 1e-12)))


def main():
    dgpg, scratch = sys.argv[1], sys.argv[2]
    version = subprocess.run([dgpg, "--version"], capture_output=True, text=True).stdout
    if "mpi" not in version:
        print("SKIP test_mpi: dgpg was built without MPI")
        return 77
    if not shutil.which("mpirun"):
        # dgpg has MPI, so the launcher is this test's tool: fail, never skip
        print("not ok - dgpg was built with MPI but mpirun is not on PATH; install it with: "
              "bash tools/install-deps.sh (openmpi-bin)")
        return 1
    shutil.rmtree(scratch, ignore_errors=True)
    os.makedirs(scratch)
    plain = subprocess.run([dgpg] + pinned(["train", "--set", "train.name=plain"] + SMALL), cwd=scratch,
                           capture_output=True, text=True)
    one = mpirun(1, dgpg, ["train", "--set", "train.name=one"] + SMALL, scratch)
    two = mpirun(2, dgpg, ["train", "--set", "train.name=two"] + SMALL, scratch)
    check("plain, 1-rank and 2-rank runs finish",
          plain.returncode == one.returncode == two.returncode == 0,
          (one.stderr + two.stderr)[-500:])
    if plain.returncode or one.returncode or two.returncode:
        return 1
    p, pp = read(os.path.join(scratch, "runs/plain/log.h5"))
    a, pa = read(os.path.join(scratch, "runs/one/log.h5"))
    b, pb = read(os.path.join(scratch, "runs/two/log.h5"))
    check("1 rank under mpirun equals a plain run bitwise",
          all(np.array_equal(p[k], a[k]) for k in p) and np.array_equal(pp, pa))
    worst = max(rel(a[k], b[k]) for k in ROLLOUT)
    check(f"2 ranks: rollout metrics as 1 rank (worst relative difference {worst:.2e} <= 1e-12)",
          worst <= 1e-12)
    worst = max(rel(a[k], b[k]) for k in a if k not in ROLLOUT)
    check(f"2 ranks: losses and statistics within 1e-5 (worst {worst:.2e})", worst <= 1e-5)
    worst = float(np.max(np.abs(pa - pb)) / np.max(np.abs(pa)))
    check(f"2 ranks: final parameters within 1e-5 of the largest (worst {worst:.2e})",
          worst <= 1e-5)

    r = mpirun(2, dgpg, ["train", "--set", "train.name=odd"] + SMALL + ["--set", "env.n_envs=5"],
               scratch, timeout=60)
    check("E not divisible by the ranks: refused, naming it",
          r.returncode != 0 and "divisible by the number of ranks" in r.stderr, r.stderr[-300:])
    r = subprocess.run(["mpirun", "-np", "1", dgpg, "train", "--set", "train.name=mix"] + SMALL +
                       [":", "-np", "1", dgpg, "train", "--set", "train.name=mix"] + SMALL +
                       ["--set", "env.n_agents=7"], cwd=scratch, env=ENV, capture_output=True,
                       text=True, timeout=60)
    check("a config that differs between ranks: refused, naming the rank",
          r.returncode != 0 and "differs from rank 0's" in r.stderr, r.stderr[-300:])

    r = mpirun(2, dgpg, ["eval", "--scenarios", "2", "--output", "-"], scratch, timeout=60)
    check("eval under 2 ranks: refused, naming the commands that run data parallel",
          r.returncode != 0 and "run data parallel" in r.stderr, r.stderr[-300:])

    # a rank that fails on its own before training (its --resume directory
    # is missing) ends the job instead of leaving the other waiting
    r = subprocess.run(["mpirun", "-np", "1", dgpg, "train", "--resume", "runs/one", ":",
                        "-np", "1", dgpg, "train", "--resume", "runs/missing"], cwd=scratch,
                       env=ENV, capture_output=True, text=True, timeout=60)
    check("a rank failing alone before training ends the job", r.returncode != 0,
          r.stderr[-300:])

    # SIGUSR1 to mpirun (which forwards it): every rank stops after the same
    # episode, with a checkpoint, and exits 128 + 10
    proc = subprocess.Popen(["mpirun", "-np", "2", dgpg, "train", "--set", "train.name=usr1"] +
                            SMALL + ["--set", "train.episodes=100000"], cwd=scratch, env=ENV,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    time.sleep(3.0)
    proc.send_signal(signal.SIGUSR1)
    try:
        out, _ = proc.communicate(timeout=60)
    except subprocess.TimeoutExpired:
        proc.kill()
        out = ""
    ckpt = os.path.join(scratch, "runs/usr1/checkpoint.h5")
    check("SIGUSR1 under mpirun: checkpoint, exit 138",
          proc.returncode == 138 and "interrupted" in out and os.path.exists(ckpt),
          f"exit {proc.returncode}")

    # a rank that dies: mpirun ends the others, well within the bound
    proc = subprocess.Popen(["mpirun", "-np", "2", dgpg, "train", "--set", "train.name=die"] +
                            SMALL + ["--set", "train.episodes=1000"], cwd=scratch, env=ENV,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    ranks = []
    for _ in range(100):
        time.sleep(0.2)
        out = subprocess.run(["pgrep", "-f", "train.name=die"], capture_output=True, text=True)
        ranks = [int(x) for x in out.stdout.split() if int(x) != proc.pid]
        if len(ranks) >= 2:
            break
    time.sleep(1.0)
    if ranks:
        os.kill(max(ranks), signal.SIGKILL)
    start = time.time()
    try:
        proc.communicate(timeout=60)
        ended = True
    except subprocess.TimeoutExpired:
        proc.kill()
        ended = False
    check(f"a killed rank ends the job ({time.time() - start:.1f} s, bound 60 s), non-zero exit",
          bool(ranks) and ended and proc.returncode != 0, f"ranks {ranks}")
    return finish("mpi")


if __name__ == "__main__":
    sys.exit(main())
