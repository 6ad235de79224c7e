#!/usr/bin/env python3
"""Claim 2 (equilibria): evidence that the guidance does not move the fixed
point. Per seed, at one N:
  DG-PG->0       DG-PG whose alpha decays linearly from 0.9 to 0 (at the end
                 of training it is plain PPO);
  DG-PG a=0.5    DG-PG with a constant alpha of 0.5 (the guidance never off);
  PPO            plain PPO (MAPPO critic) from the same initialisation;
  PPO from DG-PG PPO started from DG-PG->0's final networks (train.init_from):
                 if the guidance had moved the fixed point away from PPO's,
                 PPO would move the policy away again.
Reported: each run's final cost / cost(p*) (mean of its last 3 episodes), the
total-variation distance of its mean action distribution to p*, and the
trained policies beside every heuristic on held-out scenarios.

  .venv/bin/python3 experiments/equilibria.py [--size smoke|quick|full]
"""
import numpy as np

import study

SIZES = {
    "smoke": {"N": 5, "seeds": [1], "episodes": 3, "continue": 2, "E": 4, "T": 20,
              "scenarios": 2},
    "quick": {"N": 20, "seeds": [1, 2, 3], "episodes": 20, "continue": 10, "E": 32, "T": 200,
              "scenarios": 5},
    "full": {"N": 50, "seeds": [1, 2, 3, 4, 5], "episodes": 40, "continue": 20, "E": 32,
             "T": 200, "scenarios": 10},
}


def main():
    s = study.Study("equilibria", SIZES, __doc__.split("\n")[0])
    p = s.p
    base = [f"env.n_agents={p['N']}", f"env.n_envs={p['E']}", f"env.horizon={p['T']}"]
    first = []
    for seed in p["seeds"]:
        sd = base + [f"train.seed={seed}"]
        first += [(f"dgpg0-s{seed}", sd + ["algo.guide=dgpg", "algo.alpha_schedule=linear",
                                           "algo.alpha_start=0.9", "algo.alpha_end=0"],
                   p["episodes"]),
                  (f"dgpg05-s{seed}", sd + ["algo.guide=dgpg", "algo.alpha_schedule=constant",
                                            "algo.alpha_start=0.5"], p["episodes"]),
                  (f"ppo-s{seed}", sd + ["algo.guide=none"], p["episodes"])]
    logs = s.train_all(first)
    second = [(f"ppo_from_dgpg0-s{seed}",
               base + [f"train.seed={seed}", "algo.guide=none",
                       f"train.init_from={s.run_dir(f'dgpg0-s{seed}')}"], p["continue"])
              for seed in p["seeds"]]
    logs.update(s.train_all(second))
    s.report(list(logs.values()))
    labels = {"dgpg0": "DG-PG->0", "dgpg05": "DG-PG a=0.5", "ppo": "PPO",
              "ppo_from_dgpg0": "PPO from DG-PG->0"}
    rows, numbers = [], {}
    for key, label in labels.items():
        rs = study.load(logs[f"{key}-s{seed}"] for seed in p["seeds"])
        final = [float(np.mean(r.cost_ratio()[-3:])) for r in rs]
        start = [float(r.cost_ratio()[0]) for r in rs]
        tv = [r.action_distance() for r in rs]
        numbers[label] = {"first": start, "final": final, "tv_to_pstar": tv}
        rows.append([label, " ".join(f"{x:.3f}" for x in start),
                     " ".join(f"{x:.3f}" for x in final),
                     f"{np.mean(final):.3f} ± {np.std(final):.3f}",
                     f"{np.mean(tv):.3f}"])
    policies = ["random", "capacity", "round_robin", "jsq", "power_of_two", "led", "pstar"]
    seed = p["seeds"][0]
    runs = [f"run:{s.run_dir(f'{k}-s{seed}')}" for k in labels]
    text = s.eval([f"env.n_agents={p['N']}", f"env.n_envs={p['E']}", f"env.horizon={p['T']}",
                   f"eval.scenarios={p['scenarios']}",
                   "eval.policies=" + ",".join(policies + runs)], "eval_heldout")
    md = (f"N = {p['N']}, E = {p['E']}, T = {p['T']}, {p['episodes']} episodes "
          f"(PPO from DG-PG->0: {p['continue']} more), seeds {p['seeds']}; cost/p* per seed, "
          "final = mean of the last 3 episodes; TV: total-variation distance of the mean "
          "action distribution (last episode) to p*, mean over agents and seeds.\n\n" +
          study.table(["run", "first cost/p* (per seed)", "final cost/p* (per seed)",
                       "final (mean ± sd)", "TV to p*"], rows) +
          f"\n\nHeld-out scenarios (seed {seed}'s trained policies beside the heuristics):\n\n"
          "```\n" + text + "```")
    s.finish(md, numbers)


if __name__ == "__main__":
    main()
