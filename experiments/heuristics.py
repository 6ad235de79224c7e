#!/usr/bin/env python3
"""Against the heuristics, on clusters never seen in training: DG-PG with the
state-dependent reference, DG-PG with the static p*, MAPPO and IPPO, all
trained across scenarios (env.scenarios = sampled: every environment and
episode its own pools, rates and phases), then evaluated by `dgpg eval`
beside every heuristic on held-out scenarios (eval.seed 5000 onwards; the
training scenarios' seeds are disjoint from every configurable seed by
construction). The same training runs give claim 3 (episodes to converge
against N, the rule of tools/dgpg_results.py fixed before any run).

Settings, the same for every method and fixed before these runs (chosen on
N = 50 against held-out seeds 1000..1015, not the ones reported here; see
docs/RESULTS.md): algo.lr = 0.002 for every method, and for DG-PG a
constant guidance weight alpha = 0.9. Every other key is the default
config's.

--env hetcloud runs the same study on the heterogeneous two-resource cloud
(docs/hetcloud.md) with the same settings, fixed before its first run:
DG-PG (its model's two-resource guidance), MAPPO and IPPO against random,
first_fit, best_fit (the paper's baseline, global information) and the
model's p*, at N = 20, 50 and 200 (its full size has no larger N).

  .venv/bin/python3 experiments/heuristics.py [--size smoke|quick|full] [--env cloud|hetcloud]
"""
import math

import numpy as np
from scipy import stats

import study

SIZES = {
    "smoke": {"N": [5], "large_N": [], "seeds": [1], "large_seeds": [], "episodes": 2,
              "E": {5: 4}, "T": 20, "eval_E": 2, "scenarios": 2},
    "quick": {"N": [20, 50], "large_N": [], "seeds": [1, 2], "large_seeds": [],
              "episodes": 20, "E": {20: 32, 50: 32}, "T": 200, "eval_E": 8, "scenarios": 16},
    # the size: every method at N = 20, 50, 200 with 3 seeds; DG-PG
    # (state) and MAPPO at N = 500 and 1500 with 2 seeds
    "full": {"N": [20, 50, 200], "large_N": [500, 1500], "seeds": [1, 2, 3],
             "large_seeds": [1, 2], "episodes": 20,
             "E": {20: 32, 50: 32, 200: 16, 500: 16, 1500: 16}, "T": 200, "eval_E": 8,
             "scenarios": 16},
}
COMMON = ["env.scenarios=sampled", "algo.lr=0.002"]
DGPG = ["algo.guide=dgpg", "algo.critic=mappo", "algo.alpha_schedule=constant",
        "algo.alpha_start=0.9"]
PPO = {"MAPPO": ["algo.guide=none", "algo.critic=mappo"],
       "IPPO": ["algo.guide=none", "algo.critic=ippo"]}
# per environment: the trained methods, those also run at the large N, the
# heuristics, and the baseline every cost is divided by
SETUPS = {
    "cloud": {"methods": {"DG-PG (state)": DGPG + ["model.reference=state"],
                          "DG-PG (static)": DGPG + ["model.reference=static"], **PPO},
              "large": ["DG-PG (state)", "MAPPO"],
              "heuristics": ["random", "capacity", "round_robin", "jsq", "power_of_two",
                             "pstar", "pstar_state", "led"],
              "baseline": "led"},
    "hetcloud": {"methods": {"DG-PG": DGPG, **PPO}, "large": ["DG-PG", "MAPPO"],
                 "heuristics": ["random", "first_fit", "best_fit", "pstar"],
                 "baseline": "best_fit"},
}
METHODS = SETUPS["cloud"]["methods"]
EVAL_SEED = 5000


def slug(label):
    return label.replace(" (", "-").replace(")", "").replace(" ", "-")


def runs_at(p, n, setup=SETUPS["cloud"]):
    """(method, seed) pairs trained at N = n."""
    methods, seeds = ((setup["methods"], p["seeds"]) if n in p["N"]
                      else (setup["large"], p["large_seeds"]))
    return [(m, s) for m in methods for s in seeds]


def plan_runs(p):
    """(N, E, episodes) of every training run (cloud), for experiments/plan.py."""
    return [(n, p["E"][n], p["episodes"]) for n in p["N"] + p["large_N"] for _ in runs_at(p, n)]


def run_name(method, n, seed):
    return f"{slug(method)}-n{n}-s{seed}"


def mean_ci(values):
    """Mean and the half width of its 95% Student-t interval."""
    v = np.asarray(values, float)
    if len(v) < 2:
        return float(v.mean()), math.nan
    return float(v.mean()), float(stats.t.ppf(0.975, len(v) - 1) * v.std(ddof=1) / math.sqrt(len(v)))


def paired_ratio(cost, base_cost):
    """mean_ci of cost / base_cost per scenario, over the scenarios where the
    baseline's cost is positive (a baseline with neither waiting nor
    rejection leaves the ratio undefined); (nan, nan) if there is none."""
    keep = np.asarray(base_cost) > 0
    if not keep.any():
        return math.nan, math.nan
    return mean_ci(np.asarray(cost)[keep] / np.asarray(base_cost)[keep])


def read_eval(path):
    """{policy name: per-scenario cost (K)} from an eval.h5 (dgpg_analysis)."""
    import dgpg_analysis  # the tools' path makes it importable (study.py)
    table = dgpg_analysis.load_eval(path).per_scenario
    return {p: g.sort_values("scenario_seed")["cost"].to_numpy()
            for p, g in table.groupby("policy", sort=False)}


def main():
    s = study.Study("heuristics", SIZES, __doc__.split("\n")[0])
    setup = SETUPS[s.env]
    methods, heuristics, base = setup["methods"], setup["heuristics"], setup["baseline"]
    p = s.p if s.env == "cloud" else dict(s.p, large_N=[], large_seeds=[])
    all_n = p["N"] + p["large_N"]
    jobs = []
    for n in sorted(all_n, reverse=True):  # the longest runs first
        env = [f"env.n_agents={n}", f"env.n_envs={p['E'][n]}", f"env.horizon={p['T']}"]
        for method, seed in runs_at(p, n, setup):
            jobs.append((run_name(method, n, seed),
                         COMMON + methods[method] + env + [f"train.seed={seed}"],
                         p["episodes"]))
    logs = s.train_all(jobs)
    s.report(list(logs.values()))

    # held-out evaluation: per N, every heuristic and every trained run on
    # the same scenarios, environments and service draws
    costs, numbers = {}, {"eval_seed": EVAL_SEED, "scenarios": p["scenarios"]}
    texts = []
    for n in all_n:
        costs[n] = {}
        # one `dgpg eval` per method (its seeds beside every heuristic): the
        # scenarios, environments, draws and action seeds are the same in
        # each, so the heuristics' rows repeat exactly and every ratio is
        # paired; one eval per method keeps eval.policies short
        for m in methods:
            runs = [run_name(mm, n, seed) for mm, seed in runs_at(p, n, setup) if mm == m]
            if not runs:
                continue
            name = f"eval_n{n}_{slug(m)}"
            text = s.eval([f"env.n_agents={n}", f"env.n_envs={p['eval_E']}",
                           f"env.horizon={p['T']}", f"eval.seed={EVAL_SEED}",
                           f"eval.scenarios={p['scenarios']}",
                           "eval.policies=" + ",".join(heuristics + [f"run:{s.run_dir(r)}"
                                                                    for r in runs])], name)
            texts.append(f"N = {n}, {m}:\n\n```\n{text}```")
            per_policy = read_eval(f"{s.out}/{name}.h5")
            for h in heuristics:
                if h in costs[n]:
                    assert np.array_equal(costs[n][h], per_policy[h]), f"{h} differs between evals"
                costs[n][h] = per_policy[h]
            # the seed average, per scenario
            costs[n][m] = np.mean([per_policy[f"run:{r}"] for r in runs], axis=0)

    # cost relative to the baseline (LED, Best-Fit) and to p*, paired per
    # scenario, 95% t intervals over scenarios
    labels = list(methods) + heuristics
    rows = []
    for label in labels:
        row = [label]
        for n in all_n:
            if label not in costs[n]:
                row += ["", ""]
                continue
            over_base = paired_ratio(costs[n][label], costs[n][base])
            pstar = paired_ratio(costs[n][label], costs[n]["pstar"])
            numbers.setdefault(f"cost_over_{base}", {})[f"{label}/N={n}"] = over_base
            numbers.setdefault("cost_over_pstar", {})[f"{label}/N={n}"] = pstar
            row += [f"{over_base[0]:.3f} ± {over_base[1]:.3f}", f"{pstar[0]:.3f} ± {pstar[1]:.3f}"]
        rows.append(row)
    header = ["policy"] + [f"{q} N={n}" for n in all_n for q in (f"/{base}", "/p*")]

    # claim 3: episodes to converge, from the same runs' training logs
    conv_rows = []
    for m in methods:
        for n in all_n:
            pairs = [(mm, seed) for mm, seed in runs_at(p, n, setup) if mm == m]
            if not pairs:
                continue
            rs = study.load(logs[run_name(m, n, seed)] for _, seed in pairs)
            conv = [r.converged_at() for r in rs]
            final = [float(np.mean(r.cost_ratio()[-3:])) for r in rs]
            numbers.setdefault("converged_at", {})[f"{m}/N={n}"] = conv
            numbers.setdefault("final_training_cost_ratio", {})[f"{m}/N={n}"] = final
            conv_rows.append([m, n, " ".join(str(c) if c else f">{p['episodes']}" for c in conv),
                              f"{sum(c is not None for c in conv)}/{len(conv)}",
                              " ".join(f"{f:.3f}" for f in final)])
    figure(s, all_n, costs, labels, methods, base)
    md = (f"Environment `{s.env}`. Trained {p['episodes']} episodes across sampled scenarios (T = {p['T']}; E per N: "
          f"{p['E']}); methods at N = {p['N']} with seeds {p['seeds']}, "
          f"{setup['large']} at N = {p['large_N']} with seeds {p['large_seeds']}. Held out: "
          f"{p['scenarios']} scenarios from eval.seed = {EVAL_SEED}, E = {p['eval_E']} "
          "environments each. A trained method's cost per scenario is the mean over its "
          "seeds; each cell is the mean over scenarios of the paired ratio with its 95% "
          "Student-t half width, over the scenarios where the denominator's cost is "
          "positive (" + ", ".join(f"N = {n}: {int((costs[n][base] > 0).sum())} of "
                                   f"{len(costs[n][base])}" for n in all_n) +
          f" for {base}).\n\n" + study.table(header, rows) +
          "\n\nClaim 3 from the same runs: episodes to converge (cost/p* <= 1.05 for 3 "
          "consecutive episodes on the training scenarios, p* the environment's pstar "
          "policy (the model's) on the same draws; '>K' not within K), and the final "
          "training cost/p* (mean of "
          "the last 3 episodes) per seed:\n\n" +
          study.table(["method", "N", "converged at (per seed)", "converged",
                       "final cost/p* (per seed)"], conv_rows) +
          "\n\nThe `dgpg eval` tables:\n\n" + "\n\n".join(texts))
    s.finish(md, numbers)


def figure(s, all_n, costs, labels, methods, base):
    """figures/cost_vs_n.png: held-out cost over the baseline's against N."""
    import os
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    import figure_sidecar  # tools/, on the path through study
    os.makedirs(os.path.join(s.out, "figures"), exist_ok=True)
    fig, ax = plt.subplots(figsize=(7.5, 4.8))
    for label in labels:
        ns = [n for n in all_n if label in costs[n]
              and not math.isnan(paired_ratio(costs[n][label], costs[n][base])[0])]
        if not ns:
            continue
        ys = [paired_ratio(costs[n][label], costs[n][base]) for n in ns]
        trained = label in methods
        ax.errorbar(ns, [y[0] for y in ys], yerr=[0 if math.isnan(y[1]) else y[1] for y in ys],
                    marker="o" if trained else ".", lw=2 if trained else 1,
                    ls="-" if trained else "--", label=label, capsize=3)
    ax.set_xscale("log")
    ax.set_yscale("log")
    ax.set_xlabel("N (agents)")
    ax.set_ylabel(f"held-out cost / {base}'s cost")
    ax.set_title("Cost on held-out scenarios against N (95% t intervals over scenarios)")
    ax.legend(fontsize=7, ncol=2)
    fig.tight_layout()
    # with figures/cost_vs_n.png.json describing it (tools/figure_sidecar.py)
    figure_sidecar.savefig(fig, os.path.join(s.out, "figures", "cost_vs_n.png"), dpi=110)
    plt.close(fig)


if __name__ == "__main__":
    main()
