#!/usr/bin/env python3
"""dgpg's training speed against what a user of the field would write
instead: IPPO in JAX (experiments/baselines/jax_ppo.py) and in eager
PyTorch (experiments/baselines/torch_ppo.py), the same workload.

At each N (default 200 and 1500), with E = 16, T = 200, M = 8, 5 epochs x
1 minibatch, IPPO critic, no guidance, every implementation on the same
cores and threads, it runs
  dgpg bench train --n N --set env.n_envs=16 --set algo.minibatches=1
                   --set algo.critic=ippo --set algo.guide=none ...
and the two baselines ALTERNATELY (dgpg, jax, torch at each N, then the
next round), R rounds (default 2), so that drifts in the machine's load
fall on all three alike. It prints the median agent-steps per second of
each (E N T per episode over wall seconds per episode) and the ratios
dgpg/jax and dgpg/torch, with the machine (CPU model, cores, AVX2 and
AVX-512F), the versions and the date, and writes the same as JSON (--out).

What each figure counts:
* dgpg: `dgpg bench train`'s agent-steps/s column: every episode of the run
  (1 + --episodes of them), rollout + update + everything else its
  training loop does (the paired p* reference episode, p*(s) at every
  step, the per-agent gradient-variance estimate, logging): the first
  episode is included, there is no compilation to exclude.
* jax: episodes after compilation (timed separately, `jax_compile_seconds`)
  and one untimed warm-up episode; the median over the timed episodes.
* torch: after one untimed warm-up episode of min(T, 20) steps (eager mode
  compiles nothing; a short episode runs every kernel once); the median
  over the timed episodes.

JSON (--out FILE): {"date", "machine": {"cpu_model", "cores", "avx2",
"avx512f"}, "threads", "versions": {"dgpg", "git", "jax", "torch",
"python"}, "config": {"n", "e", "t", "m", "epochs", "minibatches",
"critic", "guide", "rounds", "episodes"}, "results": [{"n", "dgpg", "jax",
"torch", "dgpg_over_jax", "dgpg_over_torch", "runs": {"dgpg": [...],
"jax": [...], "torch": [...]} (each round's agent-steps/s),
"jax_compile_seconds": [...], "wall_seconds": {"dgpg", "jax", "torch"}
(each round's process wall time)}], "total_seconds"}. Rates are
agent-steps per second; "dgpg", "jax", "torch" are the medians over rounds.

Usage: speed.py [--n 200,1500] [--rounds R] [--episodes K] [--threads K]
                [--dgpg PATH] [--out FILE] [--quick]
--quick: N = 20, T = 20, one round (well under a minute; the smoke test).
A full run takes about 10-15 minutes on 2 cores.
"""
import argparse
import datetime
import json
import os
import platform
import re
import statistics
import subprocess
import sys
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
BASELINES = os.path.join(ROOT, "experiments", "baselines")
IMPLS = ("dgpg", "jax", "torch")


def parse_args(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--n", default="200,1500", help="comma-separated agent counts")
    p.add_argument("--rounds", type=int, default=2, help="rounds of (dgpg, jax, torch)")
    p.add_argument("--episodes", type=int, default=1,
                   help="timed episodes per run (dgpg trains 1 + this many)")
    p.add_argument("--threads", type=int, default=0,
                   help="threads and cores of every run (default every core)")
    p.add_argument("--dgpg", default=os.path.join(ROOT, "build", "dgpg"), help="dgpg binary")
    p.add_argument("--out", help="write the results as JSON to this file")
    p.add_argument("--quick", action="store_true", help="N = 20, T = 20, one round")
    p.add_argument("--e", type=int, default=16, help=argparse.SUPPRESS)
    p.add_argument("--t", type=int, default=200, help=argparse.SUPPRESS)
    args = p.parse_args(argv)
    if args.quick:
        args.n, args.t, args.rounds = "20", 20, 1
    try:
        args.sizes = [int(x) for x in args.n.split(",")]
    except ValueError:
        p.error(f"--n '{args.n}': allowed: comma-separated integers")
    if any(n < 2 for n in args.sizes) or args.rounds < 1 or args.episodes < 1:
        p.error("allowed: N >= 2, --rounds >= 1, --episodes >= 1")
    available = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()
    if args.threads < 0 or args.threads > available:
        p.error(f"--threads {args.threads}: allowed: 0 (every core) to {available}")
    args.threads = args.threads or available
    if not os.access(args.dgpg, os.X_OK):
        p.error(f"--dgpg {args.dgpg}: not an executable (build dgpg first)")
    return args


def machine():
    model, flags = "unknown", set()
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                key, _, value = line.partition(":")
                if key.strip() == "model name" and model == "unknown":
                    model = value.strip()
                elif key.strip() == "flags" and not flags:
                    flags = set(value.split())
    except OSError:
        model = platform.processor() or "unknown"
    return {"cpu_model": model, "cores": os.cpu_count(), "avx2": "avx2" in flags,
            "avx512f": "avx512f" in flags}


def pinned(threads):
    """preexec_fn: the child runs on the first `threads` cores only."""
    def pin():
        if hasattr(os, "sched_setaffinity"):
            os.sched_setaffinity(0, sorted(os.sched_getaffinity(0))[:threads])
    return pin


def run(cmd, threads):
    env = dict(os.environ, OMP_NUM_THREADS=str(threads))
    start = time.perf_counter()
    proc = subprocess.run(cmd, capture_output=True, text=True, env=env,
                          preexec_fn=pinned(threads), timeout=3600)
    wall = time.perf_counter() - start
    if proc.returncode != 0:
        sys.stderr.write(proc.stdout[-3000:] + proc.stderr[-3000:])
        raise SystemExit(f"speed: {' '.join(cmd)} failed with exit code {proc.returncode}")
    return proc.stdout, wall


def dgpg_rate(args, n):
    cmd = [args.dgpg, "bench", "train", "--n", str(n), "--set", f"env.n_envs={args.e}",
           "--set", "algo.minibatches=1", "--set", "algo.critic=ippo", "--set", "algo.guide=none",
           "--set", "algo.epochs=5", "--set", f"env.horizon={args.t}",
           "--set", f"train.episodes={1 + args.episodes}", "--set", "backend.kind=cpu",
           "--set", f"backend.threads={args.threads}"]
    out, wall = run(cmd, args.threads)
    # the table: N, agent-steps/s, update GFLOP/s, share of SGEMM, seconds/episode
    rows = [line.split() for line in out.splitlines()
            if re.match(r"^\s*\d+\s+[0-9.eE+-]+\s+[0-9.eE+-]+\s+[0-9.]+%\s+[0-9.eE+-]+\s*$", line)]
    rates = [float(r[1]) for r in rows if int(r[0]) == n]
    if len(rates) != 1:
        raise SystemExit(f"speed: no agent-steps/s row for N = {n} in dgpg's output:\n{out}")
    return {"rate": rates[0], "wall": wall}


def baseline_rate(args, impl, n):
    script = os.path.join(BASELINES, f"{impl}_ppo.py")
    cmd = [sys.executable, script, "--n", str(n), "--e", str(args.e), "--t", str(args.t),
           "--epochs", "5", "--episodes", str(args.episodes), "--warmup", "1",
           "--threads", str(args.threads), "--json"]
    if impl == "torch":
        cmd += ["--warmup-t", str(min(args.t, 20))]
    out, wall = run(cmd, args.threads)
    lines = [line for line in out.splitlines() if line.startswith("RESULT ")]
    if not lines:
        raise SystemExit(f"speed: no RESULT line from {impl}_ppo.py:\n{out}")
    result = json.loads(lines[-1][len("RESULT "):])
    return {"rate": float(result["agent_steps_per_s"]), "wall": wall,
            "compile": float(result.get("compile_seconds", 0.0)), "version": result["version"]}


def dgpg_version(path):
    try:
        out = subprocess.run([path, "--version"], capture_output=True, text=True,
                             timeout=60).stdout
        first = out.splitlines()[0] if out else ""
    except (OSError, subprocess.SubprocessError):
        first = ""
    return first.split()[-1] if first else "unknown"


def git_commit():
    try:
        head = subprocess.run(["git", "-C", ROOT, "rev-parse", "--short", "HEAD"],
                              capture_output=True, text=True, timeout=30).stdout.strip()
        dirty = subprocess.run(["git", "-C", ROOT, "status", "--porcelain", "--", "src",
                                "kernels", "include"], capture_output=True, text=True,
                               timeout=30).stdout.strip()
        return head + ("-dirty" if dirty else "") if head else "unknown"
    except (OSError, subprocess.SubprocessError):
        return "unknown"


def main(argv=None):
    args = parse_args(argv)
    start = time.perf_counter()
    mach = machine()
    date = datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds")
    print(f"speed: IPPO, no guidance, E = {args.e}, T = {args.t}, M = 8, 5 epochs x 1 minibatch, "
          f"N = {', '.join(map(str, args.sizes))}, {args.rounds} round(s) of dgpg, jax, torch, "
          f"{args.episodes} timed episode(s) each, {args.threads} thread(s)", flush=True)
    runs = {n: {impl: [] for impl in IMPLS} for n in args.sizes}
    versions = {"dgpg": dgpg_version(args.dgpg), "git": git_commit(),
                "python": platform.python_version()}
    for r in range(args.rounds):
        for n in args.sizes:
            for impl in IMPLS:
                res = dgpg_rate(args, n) if impl == "dgpg" else baseline_rate(args, impl, n)
                if "version" in res:
                    versions[impl] = res["version"]
                runs[n][impl].append(res)
                extra = f", compilation {res['compile']:.1f} s" if impl == "jax" else ""
                print(f"  round {r + 1}, N = {n:5d}, {impl:5s}: {res['rate']:10.4g} agent-steps/s "
                      f"(process {res['wall']:.1f} s{extra})", flush=True)
    results = []
    for n in args.sizes:
        med = {impl: statistics.median(x["rate"] for x in runs[n][impl]) for impl in IMPLS}
        results.append({
            "n": n, **med,
            "dgpg_over_jax": med["dgpg"] / med["jax"], "dgpg_over_torch": med["dgpg"] / med["torch"],
            "runs": {impl: [x["rate"] for x in runs[n][impl]] for impl in IMPLS},
            "jax_compile_seconds": [x["compile"] for x in runs[n]["jax"]],
            "wall_seconds": {impl: [x["wall"] for x in runs[n][impl]] for impl in IMPLS}})
    total = time.perf_counter() - start
    report = {
        "date": date, "machine": mach, "threads": args.threads, "versions": versions,
        "config": {"n": args.sizes, "e": args.e, "t": args.t, "m": 8, "epochs": 5,
                   "minibatches": 1, "critic": "ippo", "guide": "none", "rounds": args.rounds,
                   "episodes": args.episodes},
        "results": results, "total_seconds": total}

    print()
    print(f"machine: {mach['cpu_model']}, {mach['cores']} cores, avx2 "
          f"{'yes' if mach['avx2'] else 'no'}, avx512f {'yes' if mach['avx512f'] else 'no'}; "
          f"{args.threads} thread(s) for every run")
    print(f"versions: dgpg {versions['dgpg']} ({versions['git']}), jax {versions.get('jax')}, "
          f"torch {versions.get('torch')}, python {versions['python']}; {date}")
    print(f"median agent-steps/s over {args.rounds} round(s) (E N T per episode / wall seconds "
          f"per episode)")
    print(f"{'N':>6} {'dgpg':>12} {'jax':>12} {'torch':>12} {'dgpg/jax':>9} {'dgpg/torch':>11}")
    for row in results:
        print(f"{row['n']:>6} {row['dgpg']:>12.4g} {row['jax']:>12.4g} {row['torch']:>12.4g} "
              f"{row['dgpg_over_jax']:>9.2f} {row['dgpg_over_torch']:>11.2f}")
    print(f"total {total:.0f} s")
    if args.out:
        with open(args.out, "w") as f:
            json.dump(report, f, indent=2)
            f.write("\n")
        print(f"wrote {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
