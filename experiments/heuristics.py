#!/usr/bin/env python3
"""Against the heuristics: DG-PG, MAPPO and IPPO trained on the training
scenario (env.seed), then evaluated by `dgpg eval` beside every heuristic
(random, capacity, round_robin, jsq, power_of_two, led, pstar) on the same
scenarios: held-out ones (eval.seed 1000 onwards) and, separately, the
training scenario itself (eval.seed = env.seed) with its successor.

  .venv/bin/python3 experiments/heuristics.py [--size smoke|quick|full]
"""
import study

SIZES = {
    "smoke": {"N": 5, "seed": 1, "episodes": 2, "E": 4, "T": 20, "scenarios": 2},
    "quick": {"N": 20, "seed": 1, "episodes": 20, "E": 32, "T": 200, "scenarios": 8},
    "full": {"N": 50, "seed": 1, "episodes": 40, "E": 32, "T": 200, "scenarios": 20},
}
METHODS = {"DG-PG": ["algo.guide=dgpg", "algo.critic=mappo"],
           "MAPPO": ["algo.guide=none", "algo.critic=mappo"],
           "IPPO": ["algo.guide=none", "algo.critic=ippo"]}
HEURISTICS = ["random", "capacity", "round_robin", "jsq", "power_of_two", "led", "pstar"]


def main():
    s = study.Study("heuristics", SIZES, __doc__.split("\n")[0])
    p = s.p
    env = [f"env.n_agents={p['N']}", f"env.n_envs={p['E']}", f"env.horizon={p['T']}"]
    jobs = [(label, sets + env + [f"train.seed={p['seed']}"], p["episodes"])
            for label, sets in METHODS.items()]
    logs = s.train_all(jobs)
    s.report(list(logs.values()))
    policies = "eval.policies=" + ",".join(HEURISTICS + [f"run:{s.run_dir(m)}" for m in METHODS])
    held_out = s.eval(env + [policies, f"eval.scenarios={p['scenarios']}"], "eval_heldout")
    training = s.eval(env + [policies, "eval.scenarios=2", "eval.seed=1"], "eval_training")
    runs = study.load(logs[m] for m in METHODS)
    rows = [[m, f"{r.cost_ratio()[0]:.3f}", f"{sum(r.cost_ratio()[-3:]) / 3:.3f}",
             r.converged_at() or f">{r.episodes}"] for m, r in zip(METHODS, runs)]
    # per scenario: the training scenario (seed 1) apart from its successor
    import h5py
    with h5py.File(f"{s.out}/eval_training.h5", "r") as f:
        names = [n.decode() if isinstance(n, bytes) else str(n) for n in f["eval/policy"][()]]
        ratio = f["eval/cost_ratio"][()]
        delay = f["eval/mean_delay"][()]
    per_scenario = study.table(
        ["policy", "cost/p* on the training scenario (seed 1)", "mean delay there (steps)",
         "cost/p* on seed 2 (held out)"],
        [[n, f"{ratio[k][0]:.3f}", f"{delay[k][0]:.3f}", f"{ratio[k][1]:.3f}"]
         for k, n in enumerate(names)])
    md = (f"N = {p['N']}, E = {p['E']}, T = {p['T']}; each method trained {p['episodes']} "
          f"episodes on scenario env.seed = 1 (train.seed {p['seed']}). Rows run:... are the "
          "trained policies, sampled as in training.\n\nIn training (cost/p* on the training "
          "scenario's own episodes):\n\n" +
          study.table(["method", "first", "final (mean of last 3)", "converged at"], rows) +
          "\n\n"
          f"Held-out scenarios:\n\n```\n{held_out}```\n\n"
          f"Per scenario, the training scenario apart from a held-out one (from "
          f"eval_training.h5):\n\n{per_scenario}")
    s.finish(md, {"held_out": held_out, "training": training})


if __name__ == "__main__":
    main()
