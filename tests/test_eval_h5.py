#!/usr/bin/env python3
"""`dgpg eval` writes a self-describing HDF5 table that h5py reads back.

Checks, against truths computed here from the per-scenario values: every
dataset carries units and a description; shapes are (policies, scenarios);
each *_mean is the mean over scenarios and each *_ci95 the half width of
the 95% Student-t interval (t quantile for 2 degrees of freedom from
statistical tables, 4.302652729749464); each other policy's cost ratio is
its cost over p*'s cost on the same scenario, p*'s read from its row; a
second evaluation of the other policies without p* among them (and in
another order) gives each the same per-scenario cost (the comparison is
paired: same scenarios, arrivals and service draws whoever else is
evaluated) and cost ratios equal to those costs over p*'s per-scenario
costs from the first file, so the ratio's denominator is p*'s cost even
where p* is no row; the config attributes hold the values given on the
command line; the printed table shows the file's means (led's delay,
random's and led's cost ratios); a bad policy name is refused with exit
code 2 and no file is left behind.
Usage: test_eval_h5.py DGPG_BINARY SCRATCH_DIR
"""
import os
import subprocess
import sys

import h5py
import numpy as np

T_975_DF2 = 4.302652729749464


def main(dgpg, scratch):
    os.makedirs(scratch, exist_ok=True)
    out = os.path.join(scratch, "eval_test.h5")
    if os.path.exists(out):
        os.remove(out)
    # a CPU test: backend.kind auto would pick a device where one is visible
    common = ["--scenarios", "3", "--set", "env.n_envs=4", "--set", "env.horizon=50",
              "--set", "env.n_agents=12", "--set", "backend.kind=cpu"]
    run = subprocess.run([dgpg, "eval", "--policy", "random,led,pstar", "--output", out] + common,
                         capture_output=True, text=True)
    assert run.returncode == 0, run.stderr
    # the same scenarios without p* as a row, the policies in another order
    out_no_pstar = os.path.join(scratch, "eval_test_no_pstar.h5")
    if os.path.exists(out_no_pstar):
        os.remove(out_no_pstar)
    run_no_pstar = subprocess.run([dgpg, "eval", "--policy", "led,random", "--output",
                                   out_no_pstar] + common, capture_output=True, text=True)
    assert run_no_pstar.returncode == 0, run_no_pstar.stderr
    counts = {"passed": 0, "failed": 0}

    def check(cond, what, detail=""):
        print(("ok - " if cond else "not ok - ") + what + ("" if cond else f" {detail}"))
        counts["passed" if cond else "failed"] += 1

    with h5py.File(out, "r") as f:
        check(f["config"].attrs["env.n_agents"] == "12", "config attribute env.n_agents = 12")
        check(f["config"].attrs["env.horizon"] == "50", "config attribute env.horizon = 50")
        ev = f["eval"]
        policies = [p.decode() if isinstance(p, bytes) else p for p in ev["policy"][()]]
        check(policies == ["random", "led", "pstar"], f"policy rows {policies}")
        for name, obj in ev.items():
            if name == "policy":
                check("description" in obj.attrs, f"{name} has a description")
                continue
            check("units" in obj.attrs and "description" in obj.attrs,
                  f"{name} has units and description")
        for metric in ["delay", "drop_rate", "cost", "cost_ratio", "queued", "arrived",
                       "admitted", "dropped", "served"]:
            per = ev[metric][()]
            check(per.shape == (3, 3), f"{metric} shape {per.shape}")
            check(np.allclose(ev[metric + "_mean"][()], per.mean(axis=1), rtol=1e-12, atol=0),
                  f"{metric}_mean is the mean over scenarios")
            half = T_975_DF2 * per.std(axis=1, ddof=1) / np.sqrt(3)
            check(np.allclose(ev[metric + "_ci95"][()], half, rtol=1e-9, atol=1e-15),
                  f"{metric}_ci95 is the Student-t half width")
        # the metrics from the raw sums, by their definitions
        queued, arrived = ev["queued"][()], ev["arrived"][()]
        dropped, served = ev["dropped"][()], ev["served"][()]
        check(np.array_equal(ev["admitted"][()], arrived - dropped),
              "admitted = arrived - dropped, exactly (integers in doubles)")
        check(np.allclose(ev["delay"][()], queued / (arrived - dropped), rtol=1e-12),
              "mean delay = backlog / admitted work (Little's law, drops excluded)")
        check(np.allclose(ev["drop_rate"][()], dropped / arrived, rtol=1e-12),
              "drop rate = dropped / arrived")
        check(np.all(served + dropped <= arrived + 1e-9) and np.all(arrived > 0),
              "served + dropped <= arrived (the rest is still queued)")
        check(np.allclose(ev["cost_ratio"][:2], ev["cost"][:2] / ev["cost"][2], rtol=1e-12),
              "random's and led's cost ratio = cost / cost of p* (its row) on the same scenario")
        check(ev["scenario_seed"].dtype == np.int64 and
              list(ev["scenario_seed"][()]) == [1000, 1001, 1002], "scenario seeds as int64")
        check(np.all(ev["drop_rate"][()] >= 0) and np.all(ev["delay"][()] >= 0),
              "delays and drop rates are non-negative")
        led_delay = ev["delay_mean"][1]
        check(f"{led_delay:.4f}" in run.stdout, "printed table shows led's mean delay")
        printed = {line.split()[0]: line.split() for line in run.stdout.splitlines()
                   if line.split() and line.split()[0] in policies}
        for k, p in enumerate(policies[:2]):
            want = f"{ev['cost_ratio_mean'][k]:.4f}"
            check(p in printed and printed[p][-3] == want,
                  f"printed table shows {p}'s mean cost ratio {want}", printed.get(p))
        costs = {p: ev["cost"][k] for k, p in enumerate(policies)}

    with h5py.File(out_no_pstar, "r") as f:
        ev = f["eval"]
        rows = [p.decode() if isinstance(p, bytes) else p for p in ev["policy"][()]]
        check(rows == ["led", "random"], f"policy rows without p* {rows}")
        check(all(np.array_equal(ev["cost"][k], costs[p]) for k, p in enumerate(rows)),
              "without p* and in another order, led's and random's per-scenario costs repeat "
              "exactly (paired scenarios)")
        check(np.allclose(ev["cost_ratio"][()], ev["cost"][()] / costs["pstar"], rtol=1e-12),
              "without p* as a row, cost ratio = cost / p*'s cost on the same scenario from "
              "the first file")

    bad = os.path.join(scratch, "eval_bad.h5")
    run = subprocess.run([dgpg, "eval", "--policy", "random,nosuch", "--output", bad],
                         capture_output=True, text=True)
    check(run.returncode == 2, f"unknown policy exits 2 (got {run.returncode})")
    check("nosuch" in run.stderr and "allowed:" in run.stderr, "message names the policy")
    check(not os.path.exists(bad) and not os.path.exists(bad + ".tmp"), "no file left behind")
    print(f"eval_h5: {counts['passed']} passed, {counts['failed']} failed")
    return counts["failed"]


if __name__ == "__main__":
    sys.exit(1 if main(sys.argv[1], sys.argv[2]) else 0)
