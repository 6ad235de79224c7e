#!/usr/bin/env python3
"""Figures of `dgpg report` (PNG, matplotlib), drawn from training logs:

  learning_curves.png   cost / cost(p*) per episode, one panel per N, one
                        line per method: the mean over seeds with a band
                        from the lowest to the highest seed
  variance_vs_n.png     per-agent gradient-estimator variance at the initial
                        parameters (episode 1) against N, log-log, with each
                        method's fitted slope and its 95% interval
  snr_vs_n.png          the same for the signal-to-noise ratio (per N, the
                        unbiased squared mean gradient over the variance,
                        each averaged over agents and seeds; non-positive
                        values, signal below noise, are left out)
  converge_vs_n.png     episodes to converge (tools/dgpg_results.py) against
                        N; open markers: runs that had not converged when
                        they ended, drawn at their length
  action_probs.png      the learned mean action distribution against p*,
                        per method at the largest N (last episode)

Figures that need more than one N (or a quantity the logs lack) are
skipped with a line saying why. Beside each PNG, NAME.png.json describes
what it shows: axes, labels, series and their data ranges
(tools/figure_sidecar.py). --summary FILE writes the numbers behind them
as JSON. Usage:
  .venv/bin/python3 tools/report_figures.py --out DIR [--summary FILE] LOG.h5 ...
"""
import argparse
import json
import os
import sys

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
from matplotlib import ticker  # noqa: E402
import numpy as np  # noqa: E402

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import dgpg_results as dr  # noqa: E402
import figure_sidecar  # noqa: E402


def save(fig, out, name, made):
    path = os.path.join(out, name)
    figure_sidecar.savefig(fig, path, dpi=110, tight=True)
    plt.close(fig)
    made.append(path)


def learning_curves(groups, out, made):
    sizes = sorted({r.n_agents for runs in groups.values() for r in runs})
    fig, axes = plt.subplots(1, len(sizes), figsize=(4.2 * len(sizes), 3.4), squeeze=False)
    for ax, n in zip(axes[0], sizes):
        for method, runs in groups.items():
            curves = [r.cost_ratio() for r in runs if r.n_agents == n and r.episodes > 0]
            if not curves:
                continue
            length = min(len(c) for c in curves)
            c = np.array([c[:length] for c in curves])
            x = np.arange(1, length + 1)
            line, = ax.plot(x, c.mean(axis=0), label=f"{method} ({len(curves)} seeds)")
            if len(curves) > 1:
                ax.fill_between(x, c.min(axis=0), c.max(axis=0), alpha=0.2,
                                color=line.get_color())
        ax.axhline(1.0, color="k", lw=0.8, ls=":")
        ax.axhline(dr.CONVERGE_RATIO, color="gray", lw=0.8, ls="--")
        ax.set_yscale("log")
        ax.yaxis.set_major_formatter(ticker.FormatStrFormatter("%g"))
        ax.yaxis.set_minor_formatter(ticker.FormatStrFormatter("%g"))
        ax.xaxis.set_major_locator(ticker.MaxNLocator(integer=True))
        ax.set_title(f"N = {n}")
        ax.set_xlabel("episode")
        ax.set_ylabel("cost / cost(p*)")
        ax.legend(fontsize=7)
    save(fig, out, "learning_curves.png", made)


def scaling(groups, out, made, summary, quantity, name, ylabel):
    fig, ax = plt.subplots(figsize=(5.5, 4))
    fits = {}
    for method, runs in groups.items():
        runs = [r for r in runs if r.episodes > 0]
        if quantity == "snr":
            # per N, a ratio of means over seeds: one run's unbiased signal
            # can be negative, which no log takes
            pts = []
            for n in sorted({r.n_agents for r in runs}):
                at = [r for r in runs if r.n_agents == n]
                var = np.mean([r.grad_variance() for r in at])
                pts.append((n, np.mean([r.snr() * r.grad_variance() for r in at]) / var))
        else:
            pts = [(r.n_agents, getattr(r, quantity)()) for r in runs]
        pts = [(n, y) for n, y in pts if np.isfinite(y) and y > 0]
        if not pts:
            continue
        xs, ys = zip(*pts)
        fit = dr.fit_loglog(xs, ys)
        label = method
        if fit:
            fits[method] = fit
            label += f": slope {fit['slope']:.2f} ± {fit['half_width']:.2f}"
        dots = ax.scatter(xs, ys, s=14, alpha=0.7, label=label)
        if fit:
            grid = np.geomspace(min(xs), max(xs), 20)
            ax.plot(grid, 10 ** (fit["intercept"] + fit["slope"] * np.log10(grid)),
                    color=dots.get_facecolor()[0], lw=1)
    ax.set_xscale("log")
    ax.set_yscale("log")
    ax.set_xlabel("N (agents)")
    ax.set_ylabel(ylabel)
    note = "; values <= 0 (signal below noise) left out" if quantity == "snr" else ""
    ax.set_title(f"{ylabel} at the initial parameters (95% intervals{note})", fontsize=8)
    ax.legend(fontsize=7)
    save(fig, out, name, made)
    summary[quantity + "_fits"] = fits


def converge(groups, out, made, summary):
    fig, ax = plt.subplots(figsize=(5.5, 4))
    table = {}
    for k, (method, runs) in enumerate(groups.items()):
        rows = [(r.n_agents, r.converged_at(), r.episodes, r.seed) for r in runs]
        table[method] = [{"N": n, "seed": s, "converged_at": c, "episodes": e}
                         for n, c, e, s in rows]
        jitter = 1.0 + 0.03 * (k - len(groups) / 2)
        done = [(n * jitter, c) for n, c, e, _ in rows if c is not None]
        censored = [(n * jitter, e) for n, c, e, _ in rows if c is None]
        color = f"C{k}"
        if done:
            ax.scatter(*zip(*done), color=color, label=method)
        if censored:
            ax.scatter(*zip(*censored), facecolors="none", edgecolors=color,
                       label=f"{method}: not converged")
    ax.set_xscale("log")
    ax.set_xlabel("N (agents)")
    ax.set_ylabel("episodes to converge")
    ax.set_title(f"cost/p* <= {dr.CONVERGE_RATIO} for {dr.CONVERGE_SUSTAIN} episodes",
                 fontsize=9)
    ax.legend(fontsize=7)
    save(fig, out, "converge_vs_n.png", made)
    summary["converged_at"] = table


def action_probs(groups, out, made, summary):
    runs = [r for rs in groups.values() for r in rs if "pstar_probs" in r.agent and r.episodes]
    if not runs:
        print("report_figures: action_probs.png skipped: the logs have no pstar_probs")
        return
    n_max = max(r.n_agents for r in runs)
    chosen = {}
    for r in runs:
        if r.n_agents == n_max and r.method not in chosen:
            chosen[r.method] = r
    m = runs[0].agent["pstar_probs"].shape[-1]
    fig, ax = plt.subplots(figsize=(1.2 * m + 3, 3.6))
    width = 0.8 / (len(chosen) + 1)
    pools = np.arange(m)
    first = next(iter(chosen.values()))
    ax.bar(pools, first.agent["pstar_probs"][-1].mean(axis=0), width, color="k", label="p*")
    distances = {}
    for k, (method, r) in enumerate(chosen.items()):
        ax.bar(pools + (k + 1) * width, r.agent["action_probs"][-1].mean(axis=0), width,
               label=f"{method} (TV to p* {r.action_distance():.3f})")
        distances[method] = r.action_distance()
    ax.set_xlabel("pool")
    ax.set_ylabel("probability (mean over agents)")
    ax.set_title(f"action distribution, last episode, N = {n_max}", fontsize=9)
    ax.legend(fontsize=7)
    save(fig, out, "action_probs.png", made)
    summary["action_tv_to_pstar"] = {"N": n_max, "by_method": distances}


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--out", required=True, help="directory for the PNG files")
    ap.add_argument("--summary", help="JSON file for the numbers behind the figures")
    ap.add_argument("logs", nargs="+")
    a = ap.parse_args()
    os.makedirs(a.out, exist_ok=True)
    runs = dr.load_runs(a.logs)
    groups = dr.by_method(runs)
    made, summary = [], {}
    learning_curves(groups, a.out, made)
    if len({r.n_agents for r in runs}) > 1:
        scaling(groups, a.out, made, summary, "grad_variance", "variance_vs_n.png",
                "per-agent gradient variance")
        scaling(groups, a.out, made, summary, "snr", "snr_vs_n.png",
                "per-agent gradient SNR")
        converge(groups, a.out, made, summary)
    else:
        print("report_figures: variance_vs_n.png, snr_vs_n.png, converge_vs_n.png skipped: "
              "the logs cover one N")
    action_probs(groups, a.out, made, summary)
    if a.summary:
        with open(a.summary, "w") as f:
            json.dump(summary, f, indent=1, default=float)
    for path in made:
        print(f"figure: {path}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
