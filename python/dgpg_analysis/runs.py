"""Many runs as one long DataFrame: load_runs(pattern)."""
import glob as _glob
import os

import pandas as pd

from .log import load_log


def _paths(pattern):
    """Log files of a glob, a directory (every log.h5 below it) or a list."""
    if isinstance(pattern, (list, tuple)):
        return [os.fspath(p) for p in pattern]
    pattern = os.fspath(pattern)
    if os.path.isdir(pattern):
        return sorted(os.path.join(root, "log.h5") for root, _, files in os.walk(pattern)
                      if "log.h5" in files)
    return sorted(_glob.glob(pattern, recursive=True))


def load_runs(pattern, config=True):
    """One row per (run, episode) of every log that `pattern` names (a glob
    such as "runs/studies/heuristics-full/*/log.h5", a directory searched
    for log.h5 files, or a list of paths): columns run (the run directory's
    name), path, method, env, N, seed, episode, the per-episode scalars,
    and, with config=True, every config key as a column "section.key".
    Raises DgpgFileError for a file that is not a log (naming it)."""
    frames = []
    for path in _paths(pattern):
        log = load_log(path)
        frame = log.episodes.reset_index()
        front = {"run": log.name, "path": path, "method": log.method,
                 "env": log.config.get("env.name"), "N": log.n_agents,
                 "seed": log.config.get("train.seed")}
        for i, (k, v) in enumerate(front.items()):
            frame.insert(i, k, v)
        if config:
            keys = pd.DataFrame({k: [v] * len(frame) for k, v in log.config.items()})
            frame = pd.concat([frame, keys], axis=1)
        frames.append(frame)
    if not frames:
        return pd.DataFrame(columns=["run", "path", "method", "env", "N", "seed", "episode"])
    return pd.concat(frames, ignore_index=True)
