#!/usr/bin/env python3
"""Claim 1 (variance scaling): the per-agent policy-gradient estimator's
variance against N, for PPO and each guidance form, at the initial
parameters, with the log-log slope and its 95% interval; and the
signal-to-noise ratio (squared norm of the mean gradient over the
variance), since the shared reward is scale-free in N.

Each run trains a few episodes; the trainer logs, every episode, the trace
of the covariance of each agent's gradient estimated from
algo.variance_groups disjoint groups of environments (docs/training.md).
Episode 1 is at the orthogonal initialisation, the same for every method,
so it is the figure compared here.

  .venv/bin/python3 experiments/variance_scaling.py [--size smoke|quick|full]
"""
import numpy as np

import study

SIZES = {
    "smoke": {"N": [5, 10, 20], "seeds": [1], "episodes": 1, "E": 4, "T": 20},
    "quick": {"N": [5, 10, 20, 50, 100, 200], "seeds": [1, 2, 3], "episodes": 1, "E": 32,
              "T": 200},
    # quick plus N = 500 and 1500 (the same runs: --out the quick directory keeps them)
    "medium": {"N": [5, 10, 20, 50, 100, 200, 500, 1500], "seeds": [1, 2, 3], "episodes": 1,
               "E": 32, "T": 200},
    "full": {"N": [5, 10, 20, 50, 100, 200, 500, 1500], "seeds": [1, 2, 3, 4, 5],
             "episodes": 3, "E": 32, "T": 200},
}
METHODS = {"PPO": "none", "dgpg": "dgpg", "target": "target", "descent": "descent", "cv": "cv"}


def main():
    s = study.Study("variance_scaling", SIZES, __doc__.split("\n")[0])
    p = s.p
    jobs = []
    for label, guide in METHODS.items():
        for n in p["N"]:
            for seed in p["seeds"]:
                jobs.append((f"{label}-n{n}-s{seed}",
                             [f"algo.guide={guide}", f"env.n_agents={n}", f"train.seed={seed}",
                              f"env.n_envs={p['E']}", f"env.horizon={p['T']}",
                              f"algo.variance_groups={min(p['E'], 8)}"],
                             p["episodes"]))
    logs = s.train_all(jobs)
    s.report(list(logs.values()))
    runs = study.load(logs.values())
    groups = study.dgpg_results.by_method(runs)
    rows, numbers = [], {}
    for method, rs in groups.items():
        var = study.dgpg_results.fit_loglog([r.n_agents for r in rs],
                                            [r.grad_variance() for r in rs])
        # SNR: fitted on the per-N ratio of means over seeds (a single run's
        # unbiased signal can be negative, which no log takes)
        snr_by_n = {n: float(np.mean([r.snr() * r.grad_variance() for r in rs if r.n_agents == n])
                             / np.mean([r.grad_variance() for r in rs if r.n_agents == n]))
                    for n in p["N"]}
        positive = [(n, y) for n, y in snr_by_n.items() if y > 0]
        snr = study.dgpg_results.fit_loglog(*zip(*positive)) if len(positive) >= 3 else None
        numbers[method] = {"variance_slope": var, "snr_slope": snr,
                           "by_N": {n: {"variance": float(np.mean([r.grad_variance() for r in rs
                                                                   if r.n_agents == n])),
                                        "snr": snr_by_n[n]}
                                    for n in p["N"]}}

        def fmt(fit):
            return f"{fit['slope']:.2f} ± {fit['half_width']:.2f}" if fit else "n/a"
        rows.append([method, fmt(var), fmt(snr)] +
                     [f"{numbers[method]['by_N'][n]['variance']:.3g} / "
                      f"{numbers[method]['by_N'][n]['snr']:.3g}" for n in p["N"]])
    md = ("Per-agent gradient variance and SNR at the initial parameters (episode 1), "
          f"mean over {len(p['seeds'])} seed(s); E = {p['E']}, T = {p['T']}. Slopes: OLS of "
          "log10 y on log10 N, 95% t interval: the variance over every (N, seed) run; the SNR "
          "(unbiased squared mean gradient over variance, both averaged over agents and seeds) "
          "over the per-N values that are positive.\n\n" +
          study.table(["method", "variance slope", "SNR slope"] +
                      [f"N={n}: var / SNR" for n in p["N"]], rows))
    s.finish(md, numbers)


if __name__ == "__main__":
    main()
