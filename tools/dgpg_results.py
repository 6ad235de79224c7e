"""What the studies measure, computed once from the training logs (read by
the dgpg_analysis package, python/):
convergence, per-agent gradient variance and SNR, log-log slopes with
their confidence intervals, the learned action distribution against p*.
tools/report_figures.py draws from these; experiments/ drivers tabulate
them; src/cli/report.c applies the same convergence rule (docs/RESULTS.md).
"""
import math
import os
import sys

import numpy as np
from scipy import stats

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import _analysis_path  # noqa: E402,F401
import dgpg_analysis  # noqa: E402

# "Converged" (docs/RESULTS.md, fixed before any study ran): the first
# episode from which cost / cost(p*) stays at or below CONVERGE_RATIO for
# CONVERGE_SUSTAIN consecutive episodes; cost(p*) is the analytical static
# policy's cost on the same arrivals and service draws, so the comparison
# is paired within each episode.
CONVERGE_RATIO = 1.05
CONVERGE_SUSTAIN = 3


def converged_at(cost_ratio):
    """1-based episode at which the run converged, or None (censored)."""
    run = 0
    for e, r in enumerate(cost_ratio):
        run = run + 1 if r <= CONVERGE_RATIO else 0
        if run == CONVERGE_SUSTAIN:
            return e - CONVERGE_SUSTAIN + 2
    return None


class Run:
    """One training log: its config, per-episode scalars, per-agent tensors."""

    def __init__(self, path):
        self.path = path
        log = dgpg_analysis.load_log(path)
        self.config = dict(log.config_text)  # the text `dgpg config` prints
        self.episode = {k: log.episodes[k].to_numpy() for k in log.episodes.columns}
        self.agent = {k: a.values for k, a in log.agents.items()}
        self.episodes = len(log.episodes)
        c = self.config
        self.n_agents = int(c["env.n_agents"])
        self.seed = int(c["train.seed"])
        self.guide = c["algo.guide"]
        self.critic = c["algo.critic"]
        self.shared = c.get("algo.share_params", "false") == "true"
        self.name = os.path.basename(os.path.dirname(os.path.abspath(path)))

    @property
    def method(self):
        """The method's label: guidance form and critic (PPO: guide none)."""
        guide = "PPO" if self.guide == "none" else self.guide
        # a guided run's model reference, where it is not the default state
        if self.guide != "none" and self.config.get("model.reference", "state") == "static":
            guide += "-static"
        label = f"{guide}/{self.critic}"
        return label + "/shared" if self.shared else label

    def cost_ratio(self):
        return self.episode["cost_ratio"]

    def converged_at(self):
        return converged_at(self.cost_ratio())

    def grad_variance(self, episode=0):
        """Mean over agents of the per-agent gradient-estimator variance."""
        return float(np.mean(self.agent["grad_variance"][episode]))

    def snr(self, episode=0):
        """Signal-to-noise ratio of the per-agent gradient: the mean over
        agents of the (unbiased) squared norm of the mean gradient, over the
        mean over agents of its variance. A ratio of means, because the
        unbiased signal of one agent can be negative where it is below the
        noise."""
        v = float(np.mean(self.agent["grad_variance"][episode]))
        m = float(np.mean(self.agent["grad_mean_sq"][episode]))
        return m / v if v > 0 else math.nan

    def action_distance(self, episode=-1):
        """Mean over agents of the total-variation distance between the
        agent's mean action distribution and p*."""
        p = self.agent["action_probs"][episode]
        q = self.agent["pstar_probs"][episode]
        return float(np.mean(0.5 * np.abs(p - q).sum(axis=1)))


def load_runs(paths):
    return [Run(p) for p in paths]


def fit_loglog(xs, ys, level=0.95):
    """OLS of log10 y on log10 x: slope, its half-width at `level` (Student
    t, n - 2 degrees of freedom) and the intercept; None with fewer than 3
    points or any non-positive value."""
    xs, ys = np.asarray(xs, float), np.asarray(ys, float)
    if len(xs) < 3 or (xs <= 0).any() or (ys <= 0).any() or len(set(xs)) < 2:
        return None
    lx, ly = np.log10(xs), np.log10(ys)
    res = stats.linregress(lx, ly)
    half = stats.t.ppf(0.5 + level / 2, len(xs) - 2) * res.stderr
    return {"slope": res.slope, "half_width": half, "intercept": res.intercept,
            "points": len(xs)}


def by_method(runs):
    groups = {}
    for r in runs:
        groups.setdefault(r.method, []).append(r)
    return dict(sorted(groups.items()))
