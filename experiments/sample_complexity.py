#!/usr/bin/env python3
"""Claim 3 (sample complexity): episodes to converge against N for DG-PG,
MAPPO and IPPO with identical networks and hyperparameters (the default
config's), several seeds each. "Converged" is defined once, before any
run, in docs/RESULTS.md and tools/dgpg_results.py: the first episode from
which cost / cost(p*) stays at or below 1.05 for 3 consecutive episodes.
Runs that do not converge within the budget are reported as censored at
their length, never dropped.

  .venv/bin/python3 experiments/sample_complexity.py [--size smoke|quick|full]

Claim 3 at the paper's scale (N = 500 and 1500, trained across scenarios
with the state reference) comes from the runs of experiments/heuristics.py
--size full, which tabulates episodes to converge by the same rule.
"""
import numpy as np

import study

SIZES = {
    "smoke": {"N": [5, 10], "seeds": [1], "episodes": 3, "E": 4, "T": 20},
    "quick": {"N": [5, 20, 50], "seeds": [1, 2, 3], "episodes": 20, "E": 32, "T": 200},
    # quick plus N = 100 and 200 (the same runs: --out the quick directory keeps them)
    "medium": {"N": [5, 20, 50, 100, 200], "seeds": [1, 2, 3], "episodes": 20, "E": 32,
               "T": 200},
    "full": {"N": [5, 20, 50, 100, 200, 1500], "seeds": [1, 2, 3, 4, 5], "episodes": 40,
             "E": 32, "T": 200},
}
METHODS = {"DG-PG": ["algo.guide=dgpg", "algo.critic=mappo"],
           "MAPPO": ["algo.guide=none", "algo.critic=mappo"],
           "IPPO": ["algo.guide=none", "algo.critic=ippo"]}


def main():
    s = study.Study("sample_complexity", SIZES, __doc__.split("\n")[0])
    p = s.p
    jobs = []
    # largest N first: the longest runs start early when they run in parallel
    for n in sorted(p["N"], reverse=True):
        for label, sets in METHODS.items():
            for seed in p["seeds"]:
                jobs.append((f"{label}-n{n}-s{seed}",
                             sets + [f"env.n_agents={n}", f"train.seed={seed}",
                                     f"env.n_envs={p['E']}", f"env.horizon={p['T']}"],
                             p["episodes"]))
    logs = s.train_all(jobs)
    s.report(list(logs.values()))
    rows, numbers = [], {}
    for label in METHODS:
        for n in p["N"]:
            rs = study.load(logs[f"{label}-n{n}-s{seed}"] for seed in p["seeds"])
            conv = [r.converged_at() for r in rs]
            final = [float(np.mean(r.cost_ratio()[-3:])) for r in rs]
            done = [c for c in conv if c is not None]
            numbers[f"{label}/N={n}"] = {"converged_at": conv, "final_cost_ratio": final}
            rows.append([label, n, " ".join(str(c) if c else f">{p['episodes']}" for c in conv),
                         f"{len(done)}/{len(conv)}",
                         f"{np.median(done):.1f}" if done else "n/a",
                         f"{np.mean(final):.3f} ± {np.std(final):.3f}"])
    # claim 1 during training: the per-agent gradient SNR at every episode
    # after the first (ratio of means over agents, episodes and seeds)
    snr_rows = []
    for label in METHODS:
        row = [label]
        for n in p["N"]:
            rs = study.load(logs[f"{label}-n{n}-s{seed}"] for seed in p["seeds"])
            signal = [float(np.mean(r.agent["grad_mean_sq"][e])) for r in rs
                      for e in range(1, r.episodes)]
            noise = [float(np.mean(r.agent["grad_variance"][e])) for r in rs
                     for e in range(1, r.episodes)]
            snr = float(np.mean(signal) / np.mean(noise)) if noise else float("nan")
            numbers.setdefault("snr_during_training", {})[f"{label}/N={n}"] = snr
            row.append(f"{snr:.3g}")
        values = [numbers["snr_during_training"][f"{label}/N={n}"] for n in p["N"]]
        fit = study.dgpg_results.fit_loglog(p["N"], values)
        row.append(f"{fit['slope']:.2f} ± {fit['half_width']:.2f}" if fit else "n/a")
        snr_rows.append(row)
    md = (f"Episodes to converge (cost/p* <= 1.05 for 3 episodes), E = {p['E']}, T = {p['T']}, "
          f"budget {p['episodes']} episodes, seeds {p['seeds']}; every seed listed "
          "('>K': not converged within K).\n\n" +
          study.table(["method", "N", "episodes to converge (per seed)", "converged",
                       "median (converged)", "final cost/p* (mean of last 3, mean ± sd)"], rows) +
          "\n\nPer-agent gradient SNR during training (episodes 2 onwards): the unbiased "
          "squared mean gradient over the variance, each averaged over agents, episodes and "
          "seeds; the slope is the OLS of log SNR on log N over the per-N values, 95% t "
          "interval:\n\n" +
          study.table(["method"] + [f"N={n}" for n in p["N"]] + ["slope"], snr_rows))
    s.finish(md, numbers)


if __name__ == "__main__":
    main()
