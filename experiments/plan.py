#!/usr/bin/env python3
"""The size of every study at every size: training runs, agent-steps
(N x E x T x episodes, summed over runs), and the hours that takes at a
given training rate (default 2.6e5 agent-steps/s, `dgpg bench train` on the
2-core CI machine at N >= 200; small N runs slower per agent-step, so read
the hours as a lower bound there).

  .venv/bin/python3 experiments/plan.py [--rate AGENT_STEPS_PER_S]
"""
import argparse
import importlib
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))


def runs_and_steps(name, p, methods, mod):
    if hasattr(mod, "plan_runs"):  # a study that sizes its own runs: (N, E, episodes)
        runs = mod.plan_runs(p)
        return len(runs), sum(n * e * p["T"] * eps for n, e, eps in runs)
    if name == "variance_scaling":
        runs = [(n, p["episodes"]) for n in p["N"] for _ in p["seeds"] for _ in methods]
    elif name == "sample_complexity":
        runs = [(n, p["episodes"]) for n in p["N"] for _ in p["seeds"] for _ in methods]
    else:  # equilibria
        runs = [(p["N"], p["episodes"])] * (3 * len(p["seeds"])) + \
               [(p["N"], p["continue"])] * len(p["seeds"])
    return len(runs), sum(n * p["E"] * p["T"] * eps for n, eps in runs)


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--rate", type=float, default=2.6e5)
    a = ap.parse_args()
    print(f"{'study':20s} {'size':6s} {'runs':>5s} {'agent-steps':>12s} {'hours':>8s}")
    for name in ["variance_scaling", "sample_complexity", "equilibria", "heuristics"]:
        mod = importlib.import_module(name)
        for size in [z for z in ["smoke", "quick", "medium", "full"] if z in mod.SIZES]:
            n, steps = runs_and_steps(name, mod.SIZES[size], getattr(mod, "METHODS", [0, 0, 0]),
                                      mod)
            print(f"{name:20s} {size:6s} {n:5d} {steps:12.3g} {steps / a.rate / 3600:8.2f}")


if __name__ == "__main__":
    main()
