#!/usr/bin/env python3
"""Each study driver of experiments/ runs end to end at its smoke size
(training runs, `dgpg report` table and figures, the summary), and a second
invocation retrains nothing (resumability). `dgpg report` on a small log
prints its table and writes its figures; its convergence column agrees
with tools/dgpg_results.py, the other implementation of the same rule,
and both with the rule worked by hand on a crafted sequence.
Usage: test_experiments.py DGPG_BINARY
"""
import os
import subprocess
import sys
import tempfile

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
sys.path.insert(0, os.path.join(ROOT, "tools"))
sys.path.insert(0, HERE)
import dgpg_results  # noqa: E402
from tap import check, finish  # noqa: E402


def driver(dgpg, name, out):
    return subprocess.run([sys.executable, os.path.join(ROOT, "experiments", f"{name}.py"),
                           "--size", "smoke", "--out", out, "--dgpg", dgpg, "--jobs", "2"],
                          capture_output=True, text=True, timeout=600)


def main():
    dgpg = sys.argv[1]
    scratch = tempfile.mkdtemp(prefix="dgpg-experiments-")
    # the convergence rule by hand: <= 1.05 at episodes 3, 4, 5 -> 3
    check("converged_at by hand", dgpg_results.converged_at([2, 1.2, 1.05, 1.0, 0.9, 1.3]) == 3)
    check("not converged: never 3 in a row",
          dgpg_results.converged_at([1.0, 1.0, 1.2, 1.0, 1.0]) is None)
    figures = {"variance_scaling": ["variance_vs_n.png", "snr_vs_n.png", "learning_curves.png"],
               "sample_complexity": ["converge_vs_n.png", "learning_curves.png"],
               "equilibria": ["learning_curves.png", "action_probs.png"],
               "heuristics": ["learning_curves.png", "action_probs.png", "cost_vs_n.png"]}
    for name, pngs in figures.items():
        out = os.path.join(scratch, name)
        r = driver(dgpg, name, out)
        check(f"{name}: smoke run exits 0", r.returncode == 0, r.stderr[-600:])
        summary = os.path.join(out, "summary.md")
        check(f"{name}: summary.md with a table",
              os.path.exists(summary) and "|---|" in open(summary).read())
        for png in pngs:
            path = os.path.join(out, "figures", png)
            check(f"{name}: figure {png}", os.path.exists(path) and os.path.getsize(path) > 5000)
        again = driver(dgpg, name, out)
        check(f"{name}: a second invocation retrains nothing",
              again.returncode == 0 and " train " not in again.stdout
              and "resume" not in again.stdout, again.stdout[-300:])
    # dgpg report on one small log of the variance study, and on several
    logs = sorted(os.path.join(root, "log.h5")
                  for root, _, files in os.walk(os.path.join(scratch, "variance_scaling"))
                  if "log.h5" in files)
    r = subprocess.run([dgpg, "report", logs[0], "--figures", os.path.join(scratch, "one")],
                       capture_output=True, text=True)
    check("report of one log: summary and figures",
          r.returncode == 0 and "cost / cost(p*)" in r.stdout
          and os.path.exists(os.path.join(scratch, "one", "learning_curves.png")), r.stderr)
    r = subprocess.run([dgpg, "report", *logs, "--no-figures"], capture_output=True, text=True)
    rows = [line.split() for line in r.stdout.splitlines() if line and line.split()[0] != "run"
            and not line.startswith("converged")]
    check("report of several logs: one row each", r.returncode == 0 and len(rows) == len(logs),
          r.stdout[-400:])
    runs = dgpg_results.load_runs(logs)
    c_rule = [row[8] for row in rows]
    py_rule = [str(run.converged_at()) if run.converged_at() else "no" for run in runs]
    check("report's convergence column agrees with tools/dgpg_results.py",
          c_rule == py_rule, f"{c_rule} {py_rule}")
    return finish("experiments")


if __name__ == "__main__":
    sys.exit(main())
