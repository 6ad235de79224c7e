#!/usr/bin/env python3
"""Each study driver of experiments/ runs end to end at its smoke size
(training runs, `dgpg report` table and figures, the summary), and a second
invocation retrains nothing (resumability). `dgpg report` on a small log
prints its table and writes its figures; its convergence column agrees
with tools/dgpg_results.py, the other implementation of the same rule,
and both with the rule worked by hand on a crafted sequence.

Figures: each is a whole PNG (signature, IHDR, IEND) whose size in pixels
is the one its description gives, and its description (NAME.png.json,
tools/figure_sidecar.py, taken from the matplotlib Figure before saving)
shows what the study's files hold, recomputed here with h5py and numpy
from the training logs and eval tables (not through tools/): the axes
(one per N for the learning curves, titles, labels, scales), one series
per method (the guidance form, critic, static reference and parameter
sharing of the run's config), each series' number of points and the range
of its data: the mean over seeds of cost / cost(p*) per episode and its
band; the episode-1 per-agent gradient variance and the SNR (ratio of the
means over seeds); episodes to converge (the rule of docs/RESULTS.md,
written here) or the run's length where it did not; the learned and p*
action distributions at the largest N; the held-out cost over LED's with
its 95% Student-t interval.
Usage: test_experiments.py DGPG_BINARY
"""
import glob
import math
import json
import os
import re
import struct
import subprocess
import sys
import tempfile

import h5py
import numpy as np
from scipy import stats

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
sys.path.insert(0, os.path.join(ROOT, "tools"))
sys.path.insert(0, HERE)
import dgpg_results  # noqa: E402
from tap import check, finish  # noqa: E402


def driver(dgpg, name, out, env="cloud"):
    return subprocess.run([sys.executable, os.path.join(ROOT, "experiments", f"{name}.py"),
                           "--size", "smoke", "--out", out, "--dgpg", dgpg, "--jobs", "2",
                           "--env", env], capture_output=True, text=True, timeout=600)


PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"


def png_size(path):
    """(width, height) from the IHDR chunk of a whole PNG file, else None."""
    with open(path, "rb") as f:
        data = f.read()
    if data[:8] != PNG_SIGNATURE or data[12:16] != b"IHDR" or data[-8:-4] != b"IEND":
        return None
    return struct.unpack(">II", data[16:24])


def close(a, b, rel=1e-9):
    return a is not None and b is not None and all(
        abs(x - y) <= rel * max(1.0, abs(y)) for x, y in zip(a, b)) and len(a) == len(b)


def same_ranges(got, want, rel=1e-9):
    """Two lists of number tuples equal up to order, within rel."""
    got, want = sorted(got), sorted(want)
    return len(got) == len(want) and all(close(g, w, rel) for g, w in zip(got, want))


def span(values):
    v = np.asarray(values, float)
    return [float(v.min()), float(v.max())]


class Log:
    """What a figure is drawn from, read from one training log with h5py."""

    def __init__(self, path):
        with h5py.File(path, "r") as f:  # a finished log opens plainly
            c = {k: str(v) for k, v in f["config"].attrs.items()}
            self.cost_ratio = f["episode/cost_ratio"][()]
            agent = {k: f["agent"][k][()] for k in f["agent"]}
        self.episodes = len(self.cost_ratio)
        self.n = int(c["env.n_agents"])
        self.env_name = c["env.name"]
        guide = c["algo.guide"]
        # a method: guidance form, critic, the static reference where guided,
        # parameter sharing (docs/training.md)
        self.method = (guide, c["algo.critic"],
                       c.get("model.reference", "") if guide != "none" else "",
                       c.get("algo.share_params", "false"))
        self.variance = float(np.mean(agent["grad_variance"][0])) if self.episodes else None
        self.mean_sq = float(np.mean(agent["grad_mean_sq"][0])) if self.episodes else None
        self.probs = agent["action_probs"][-1].mean(axis=0) if self.episodes else None
        self.pstar = (agent["pstar_probs"][-1].mean(axis=0)
                      if self.episodes and "pstar_probs" in agent else None)

    def converged_at(self):
        """docs/RESULTS.md: the first episode from which cost / cost(p*) stays
        <= 1.05 for 3 consecutive episodes (1-based), or None."""
        r = self.cost_ratio
        for e in range(len(r) - 2):
            if all(r[e:e + 3] <= 1.05):
                return e + 1
        return None


def by_method(logs):
    groups = {}
    for log in logs:
        groups.setdefault(log.method, []).append(log)
    return groups


def seeds_in(label):
    """k of a learning curve's label "METHOD (k seeds)", -1 without one."""
    m = re.search(r"\((\d+) seeds\)$", label)
    return int(m.group(1)) if m else -1


def labelled(axes, kind):
    return [s for s in axes["series"] if s["kind"] == kind and s["label"]]


def check_learning_curves(where, meta, logs):
    sizes = sorted({log.n for log in logs})
    axes = meta["axes"]
    check(f"{where}: one panel per N {sizes}",
          [a["title"] for a in axes] == [f"N = {n}" for n in sizes], [a["title"] for a in axes])
    for a, n in zip(axes, sizes):
        want_lines, want_bands = [], []
        for runs in by_method([log for log in logs if log.n == n and log.episodes]).values():
            length = min(log.episodes for log in runs)
            c = np.array([log.cost_ratio[:length] for log in runs])
            want_lines.append((len(runs), 1, length, *span(c.mean(axis=0))))
            if len(runs) > 1:
                want_bands.append((1, length, float(c.min()), float(c.max())))
        got = [(seeds_in(s["label"]), *s["x"], *s["y"]) for s in labelled(a, "line")]
        check(f"{where} N = {n}: a line per method, the mean over its seeds of cost / cost(p*)",
              same_ranges(got, want_lines), f"{got} vs {want_lines}")
        bands = [(*s["x"], *s["y"]) for s in a["series"] if s["kind"] == "band"]
        check(f"{where} N = {n}: a band from the lowest to the highest seed where there are two",
              same_ranges(bands, want_bands), f"{bands} vs {want_bands}")
        check(f"{where} N = {n}: axes labels and log scale",
              (a["xlabel"], a["ylabel"], a["yscale"]) == ("episode", "cost / cost(p*)", "log"))


def check_scaling(where, meta, logs, quantity):
    (a,) = meta["axes"]
    want, fits = [], 0
    for runs in by_method([log for log in logs if log.episodes]).values():
        if quantity == "variance":
            pts = [(log.n, log.variance) for log in runs]
        else:  # per N: the mean over seeds of the signal over the mean of the noise
            pts = [(n, np.mean([r.mean_sq for r in runs if r.n == n]) /
                    np.mean([r.variance for r in runs if r.n == n]))
                   for n in sorted({r.n for r in runs})]
        pts = [(n, y) for n, y in pts if np.isfinite(y) and y > 0]
        if pts:
            xs, ys = zip(*pts)
            want.append((len(pts), *span(xs), *span(ys)))
            fits += len(pts) >= 3 and len(set(xs)) >= 2
    got = [(s["n"], *s["x"], *s["y"]) for s in labelled(a, "scatter")]
    check(f"{where}: a scatter per method of its episode-1 {quantity} against N",
          same_ranges(got, want), f"{got} vs {want}")
    slopes = [s for s in a["series"] if s["kind"] == "line" and not s["label"]]
    check(f"{where}: a fitted line and slope per method with 3 points or more ({fits})",
          len(slopes) == fits and sum("slope" in t for t in a["legend"]) == fits)
    check(f"{where}: log-log against N", (a["xscale"], a["yscale"], a["xlabel"]) ==
          ("log", "log", "N (agents)"))


def check_converge(where, meta, logs):
    (a,) = meta["axes"]
    done, censored = [], []
    for runs in by_method(logs).values():
        at = [log.converged_at() for log in runs]
        ys = [c for c in at if c is not None]
        if ys:
            done.append((len(ys), *span(ys)))
        ys = [log.episodes for log, c in zip(runs, at) if c is None]
        if ys:
            censored.append((len(ys), *span(ys)))
    series = labelled(a, "scatter")
    got_done = [(s["n"], *s["y"]) for s in series if not s["label"].endswith("not converged")]
    got_censored = [(s["n"], *s["y"]) for s in series if s["label"].endswith("not converged")]
    check(f"{where}: converged runs at the episode they converged",
          same_ranges(got_done, done), f"{got_done} vs {done}")
    check(f"{where}: the others at their length, marked not converged",
          same_ranges(got_censored, censored), f"{got_censored} vs {censored}")


def check_action_probs(where, meta, logs):
    (a,) = meta["axes"]
    logs = [log for log in logs if log.pstar is not None]
    n_max = max(log.n for log in logs)
    at = by_method([log for log in logs if log.n == n_max])
    bars = labelled(a, "bars")
    m = len(logs[0].pstar)
    check(f"{where}: p* and one bar set per method at N = {n_max}, {m} pools each",
          a["title"].endswith(f"N = {n_max}") and len(bars) == 1 + len(at)
          and all(s["n"] == m for s in bars), [(s["label"], s["n"]) for s in bars])
    pstar = [s for s in bars if s["label"] == "p*"]
    check(f"{where}: p*'s bars are a run's mean p* over agents",
          len(pstar) == 1 and any(close(pstar[0]["y"], span(log.pstar))
                                  for runs in at.values() for log in runs))
    methods = [s for s in bars if s["label"] != "p*"]
    check(f"{where}: each method's bars are one of its runs' mean action distribution",
          all(any(close(s["y"], span(log.probs)) for log in runs for s in methods)
              for runs in at.values()), [s["y"] for s in methods])


def check_cost_vs_n(where, meta, out, base="led"):
    (a,) = meta["axes"]
    heuristics, methods = {}, []
    for path in sorted(glob.glob(os.path.join(out, "eval_n*_*.h5"))):
        n = int(re.search(r"eval_n(\d+)_", path).group(1))
        with h5py.File(path, "r") as f:
            names = [p.decode() if isinstance(p, bytes) else p for p in f["eval/policy"][()]]
            cost = f["eval/cost"][()]
        # the study's rule: the scenarios where the baseline's cost is positive
        keep = cost[names.index(base)] > 0
        if not keep.any():
            continue
        cost = cost[:, keep]
        rel = cost / cost[names.index(base)]
        k = rel.shape[1]
        t = stats.t.ppf(0.975, k - 1) if k > 1 else math.nan

        def point(r):
            # one scenario has no interval: the figure draws the point alone
            half = t * r.std(ddof=1) / np.sqrt(k) if k > 1 else 0.0
            return (n, r.mean(), r.mean() - half, r.mean() + half)
        for i, name in enumerate(names):
            if not name.startswith("run:"):
                heuristics[name] = point(rel[i])
        runs = [i for i, name in enumerate(names) if name.startswith("run:")]
        methods.append(point(cost[runs].mean(axis=0) / cost[names.index(base)]))
    series = labelled(a, "errorbar")
    got_h = {s["label"]: (*s["x"], *s["y"], *(s["bars"] or [])) for s in series
             if s["label"] in heuristics}
    want_h = {h: (p[0], p[0], p[1], p[1], p[2], p[3]) for h, p in heuristics.items()}
    check(f"{where}: each heuristic's mean held-out cost over {base}'s and its 95% t interval",
          got_h.keys() == want_h.keys() and all(close(got_h[h], want_h[h]) for h in want_h),
          f"{got_h} vs {want_h}")
    got_m = [(*s["x"], *s["y"], *(s["bars"] or [])) for s in series
             if s["label"] not in heuristics]
    want_m = [(p[0], p[0], p[1], p[1], p[2], p[3]) for p in methods]
    check(f"{where}: each trained method's (mean over its seeds) likewise",
          same_ranges(got_m, want_m), f"{got_m} vs {want_m}")
    check(f"{where}: log-log against N", (a["xscale"], a["yscale"], a["xlabel"]) ==
          ("log", "log", "N (agents)"))


def check_figure(where, path):
    """The PNG is whole and as large as its description says; the description."""
    size, meta = png_size(path), None
    if os.path.exists(path + ".json"):
        with open(path + ".json") as f:
            meta = json.load(f)
    ok = size is not None and meta is not None and all(
        p > 0 and abs(s - p) <= 1 for s, p in zip(size, meta["pixels"]))
    check(f"{where}: a whole PNG of the size its description gives", ok,
          f"IHDR {size}, described {meta and meta['pixels']}")
    return meta if ok else None


def check_figures(name, out, pngs, logs, base="led"):
    checks = {"learning_curves.png": check_learning_curves,
              "variance_vs_n.png": lambda w, m, lg: check_scaling(w, m, lg, "variance"),
              "snr_vs_n.png": lambda w, m, lg: check_scaling(w, m, lg, "snr"),
              "converge_vs_n.png": check_converge,
              "action_probs.png": check_action_probs,
              "cost_vs_n.png": lambda w, m, lg: check_cost_vs_n(w, m, out, base)}
    for png in pngs:
        meta = check_figure(f"{name}: {png}", os.path.join(out, "figures", png))
        if meta:
            checks[png](f"{name}: {png}", meta, logs)


def find_logs(out):
    return sorted(os.path.join(root, "log.h5") for root, _, files in os.walk(out)
                  if "log.h5" in files)


def main():
    dgpg = sys.argv[1]
    scratch = tempfile.mkdtemp(prefix="dgpg-experiments-")
    # the convergence rule by hand: <= 1.05 at episodes 3, 4, 5 -> 3
    check("converged_at by hand", dgpg_results.converged_at([2, 1.2, 1.05, 1.0, 0.9, 1.3]) == 3)
    check("not converged: never 3 in a row",
          dgpg_results.converged_at([1.0, 1.0, 1.2, 1.0, 1.0]) is None)
    several_n = ["learning_curves.png", "variance_vs_n.png", "snr_vs_n.png", "converge_vs_n.png",
                 "action_probs.png"]
    figures = {"variance_scaling": several_n,
               "sample_complexity": several_n,
               "equilibria": ["learning_curves.png", "action_probs.png"],
               "heuristics": ["learning_curves.png", "action_probs.png", "cost_vs_n.png"]}
    # the studies of the second environment: heuristics against Best-Fit
    for name, pngs in [("heuristics", figures["heuristics"]),
                       ("sample_complexity", figures["sample_complexity"])]:
        out = os.path.join(scratch, name + "-hetcloud")
        r = driver(dgpg, name, out, "hetcloud")
        check(f"{name} --env hetcloud: smoke run exits 0", r.returncode == 0, r.stderr[-600:])
        logs_here = [Log(p) for p in find_logs(out)]
        check(f"{name} --env hetcloud: its runs are hetcloud's",
              logs_here and all(log.env_name == "hetcloud" for log in logs_here))
        check_figures(name + " --env hetcloud", out, pngs, logs_here, base="best_fit")
    for name, pngs in figures.items():
        out = os.path.join(scratch, name)
        r = driver(dgpg, name, out)
        check(f"{name}: smoke run exits 0", r.returncode == 0, r.stderr[-600:])
        summary = os.path.join(out, "summary.md")
        check(f"{name}: summary.md with a table",
              os.path.exists(summary) and "|---|" in open(summary).read())
        check_figures(name, out, pngs, [Log(p) for p in find_logs(out)])
        again = driver(dgpg, name, out)
        check(f"{name}: a second invocation retrains nothing",
              again.returncode == 0 and " train " not in again.stdout
              and "resume" not in again.stdout, again.stdout[-300:])
    # dgpg report on one small log of the variance study, and on several
    logs = find_logs(os.path.join(scratch, "variance_scaling"))
    r = subprocess.run([dgpg, "report", logs[0], "--figures", os.path.join(scratch, "one")],
                       capture_output=True, text=True)
    check("report of one log: summary", r.returncode == 0 and "cost / cost(p*)" in r.stdout,
          r.stderr)
    meta = check_figure("report of one log: learning_curves.png",
                        os.path.join(scratch, "one", "learning_curves.png"))
    if meta:
        check_learning_curves("report of one log: learning_curves.png", meta, [Log(logs[0])])
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
