"""Machinery shared by the study drivers of experiments/: sizes, resumable
runs of `dgpg train`, `dgpg eval` and `dgpg report`, and Markdown tables.

A study writes everything under one directory (default
runs/studies/NAME-SIZE): one run directory per training run, report.txt and
figures/ from `dgpg report`, summary.md and summary.json. Interrupted, it
continues where it stopped: a run whose log holds every episode is kept, a
run with a checkpoint is resumed (`dgpg train --resume`; checkpoints are
written every episode), anything else is started afresh.
"""
import argparse
import concurrent.futures
import json
import os
import shlex
import shutil
import subprocess
import sys
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, os.path.join(ROOT, "tools"))
import dgpg_results  # noqa: E402
from read_log import complete_rows, open_log  # noqa: E402  (dgpg_analysis's reader)


# The environments a study runs on: the sets that choose each (--env).
ENVIRONMENTS = {"cloud": [], "hetcloud": ["env.name=hetcloud", "model.name=hetcloud_util"]}


class Study:
    def __init__(self, name, sizes, description):
        """sizes: {"smoke" | "quick" | "full": dict of the study's parameters}."""
        ap = argparse.ArgumentParser(description=description)
        ap.add_argument("--size", choices=sorted(sizes), default="quick",
                        help="smoke: seconds (the test); quick: minutes on 2 cores; "
                             "medium (where offered): a larger set here; full: the size "
                             "stated in docs/RESULTS.md")
        ap.add_argument("--out", help="study directory (default runs/studies/NAME-SIZE)")
        ap.add_argument("--jobs", type=int, default=2, help="training runs at once")
        ap.add_argument("--threads", type=int, default=1, help="backend.threads of each run")
        ap.add_argument("--backend", default="cpu", help="backend.kind of each run")
        ap.add_argument("--publish", metavar="DIR",
                        help="also copy summary.md and figures/*.png to DIR/NAME (docs/results)")
        ap.add_argument("--dgpg", default=os.environ.get("DGPG", os.path.join(ROOT, "build", "dgpg")),
                        help="the dgpg binary")
        ap.add_argument("--env", choices=sorted(ENVIRONMENTS), default="cloud",
                        help="the environment (cloud: the one-resource queues; hetcloud: the "
                             "heterogeneous two-resource cloud)")
        self.args = ap.parse_args()
        self.env = self.args.env
        self.env_sets = ENVIRONMENTS[self.env]
        # a study on another environment is a study of its own name
        name = name if self.env == "cloud" else f"{name}-{self.env}"
        self.name = name
        self.size = self.args.size
        self.p = sizes[self.size]
        self.out = os.path.abspath(self.args.out or
                                   os.path.join(ROOT, "runs", "studies", f"{name}-{self.size}"))
        os.makedirs(self.out, exist_ok=True)
        self.commands = []
        self.started = time.time()
        print(f"{name} ({self.size}): {self.out}", flush=True)

    def _dgpg(self, args, log_to=None):
        cmd = [self.args.dgpg] + args
        self.commands.append(" ".join(shlex.quote(c) for c in cmd))
        r = subprocess.run(cmd, capture_output=True, text=True)
        if log_to:
            with open(log_to, "a") as f:
                f.write(r.stdout + r.stderr)
        if r.returncode != 0:
            raise RuntimeError(f"{' '.join(cmd)} failed ({r.returncode}): {r.stderr.strip()[-500:]}")
        return r.stdout

    def run_dir(self, run):
        return os.path.join(self.out, run)

    def _episodes_done(self, run):
        log = os.path.join(self.run_dir(run), "log.h5")
        if not os.path.exists(log):
            return 0
        try:
            with open_log(log) as f:
                return complete_rows(f)
        except OSError:
            return 0

    def train_one(self, run, sets, episodes):
        """Trains (or resumes, or keeps) one run; returns its log path."""
        d = self.run_dir(run)
        done = self._episodes_done(run)
        out = os.path.join(self.out, "train.out")
        if done >= episodes:
            return os.path.join(d, "log.h5")
        if done > 0 and os.path.exists(os.path.join(d, "checkpoint.h5")):
            print(f"  resume {run} at episode {done}", flush=True)
            self._dgpg(["train", "--resume", d, "--set", f"train.episodes={episodes}"], out)
        else:
            print(f"  train {run}", flush=True)
            args = ["train", "--force", "--set", f"log.dir={self.out}", "--set", f"train.name={run}",
                    "--set", f"train.episodes={episodes}", "--set", "train.checkpoint_every=1",
                    "--set", f"backend.threads={self.args.threads}",
                    "--set", f"backend.kind={self.args.backend}"]
            for s in self.env_sets + list(sets):
                args += ["--set", s]
            self._dgpg(args, out)
        return os.path.join(d, "log.h5")

    def train_all(self, jobs):
        """jobs: list of (run, sets, episodes); in parallel; returns {run: log}."""
        logs = {}
        with concurrent.futures.ThreadPoolExecutor(max_workers=self.args.jobs) as pool:
            futures = {pool.submit(self.train_one, *job): job[0] for job in jobs}
            for fut in concurrent.futures.as_completed(futures):
                logs[futures[fut]] = fut.result()
        return {run: logs[run] for run, _, _ in jobs}

    def eval(self, sets, name):
        """`dgpg eval` with the given --set items; its table in NAME.txt and NAME.h5."""
        args = ["eval", "--set", f"eval.output={os.path.join(self.out, name + '.h5')}",
                "--set", f"backend.threads={self.args.threads}"]
        for s in self.env_sets + list(sets):
            args += ["--set", s]
        text = self._dgpg(args)
        with open(os.path.join(self.out, name + ".txt"), "w") as f:
            f.write(text)
        return text

    def report(self, logs):
        """`dgpg report` over the logs: report.txt and figures/."""
        text = self._dgpg(["report", *logs, "--figures", os.path.join(self.out, "figures")])
        with open(os.path.join(self.out, "report.txt"), "w") as f:
            f.write(text)
        return text

    def finish(self, markdown, numbers):
        """summary.md (tables and the commands behind them) and summary.json."""
        minutes = (time.time() - self.started) / 60
        with open(os.path.join(self.out, "summary.md"), "w") as f:
            f.write(f"# {self.name} ({self.size})\n\n{markdown}\n\n")
            f.write(f"Wall time of this invocation: {minutes:.1f} min.\n\n")
            f.write("Commands this invocation ran (runs already complete were kept):\n\n")
            for c in self.commands:
                f.write(f"    {c}\n")
        with open(os.path.join(self.out, "summary.json"), "w") as f:
            json.dump(numbers, f, indent=1, default=float)
        print(markdown)
        print(f"{self.name}: summary in {os.path.join(self.out, 'summary.md')}")
        if self.args.publish:
            dest = os.path.join(self.args.publish, self.name)
            os.makedirs(dest, exist_ok=True)
            shutil.copy(os.path.join(self.out, "summary.md"), dest)
            figures = os.path.join(self.out, "figures")
            for png in sorted(os.listdir(figures)) if os.path.isdir(figures) else []:
                if png.endswith(".png"):
                    shutil.copy(os.path.join(figures, png), dest)
            print(f"{self.name}: published to {dest}")


def table(header, rows):
    """A Markdown table."""
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    lines += ["| " + " | ".join(str(c) for c in row) + " |" for row in rows]
    return "\n".join(lines)


def load(logs):
    return dgpg_results.load_runs(list(logs))
