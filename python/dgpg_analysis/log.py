"""A training log as pandas and xarray: load_log(path)."""
import os

import numpy as np
import pandas as pd
import xarray as xr

from ._files import (LOG_KIND, DgpgFileError, attr_text, complete_rows, open_file, read_config,
                     typed)


class Log:
    """One training log (runs/NAME/log.h5), its complete episodes.

    config      {"section.key": value}, values typed (int, float, bool, str)
    config_text the same as the text `dgpg config` prints
    episodes    pandas DataFrame, one row per episode (index "episode",
                from 1), one column per scalar; .attrs["units"] and
                .attrs["descriptions"] map each column to its text
    agents      {name: xarray.DataArray} of dims (episode, agent) or
                (episode, agent, action), attrs units and description
    env_columns the environment's own columns among the episodes'
    snapshot_episodes  the episodes (from 1) of the parameter snapshots;
                snapshot(name, k) reads one on demand
    """

    def __init__(self, path):
        self.path = os.fspath(path)
        with open_file(self.path, LOG_KIND) as f:
            try:
                self._read(f)
            except (KeyError, OSError, ValueError) as e:
                raise DgpgFileError(self.path, f"damaged: {e}") from None

    def _read(self, f):
        self.config_text = read_config(self.path, f)
        self.config = {k: typed(v) for k, v in self.config_text.items()}
        self.n_agents = int(f.attrs["n_agents"])
        self.n_actions = int(f.attrs["n_actions"])
        self.dgpg_version = attr_text(f, "dgpg_version")
        columns = attr_text(f, "env_columns") if "env_columns" in f.attrs else "delay,drop_rate"
        self.env_columns = [c for c in columns.split(",") if c]
        n = complete_rows(f)
        data = {name: d[:n] for name, d in f["episode"].items()}
        frame = pd.DataFrame(data, index=pd.RangeIndex(1, n + 1, name="episode"))
        frame.attrs["units"] = {k: attr_text(d, "units") for k, d in f["episode"].items()}
        frame.attrs["descriptions"] = {k: attr_text(d, "description")
                                       for k, d in f["episode"].items()}
        self.episodes = frame
        self.agents = {}
        for name, d in f["agent"].items():
            dims = ("episode", "agent", "action")[:d.ndim]
            coords = {"episode": np.arange(1, n + 1), "agent": np.arange(d.shape[1])}
            if d.ndim == 3:
                coords["action"] = np.arange(d.shape[2])
            self.agents[name] = xr.DataArray(d[:n], dims=dims, coords=coords, name=name,
                                             attrs={"units": attr_text(d, "units"),
                                                    "description": attr_text(d, "description")})
        snap = f["snapshot"]
        self.snapshot_episodes = (snap["episode"][()].astype(int) + 1 if "episode" in snap
                                  else np.zeros(0, int))
        self.snapshot_names = [k for k in snap if k != "episode"]

    def snapshot(self, name, k):
        """Parameter vector `name` of snapshot k (numpy), read from the file."""
        with open_file(self.path, LOG_KIND) as f:
            if name not in f["snapshot"]:
                raise DgpgFileError(self.path, f"no snapshot vector {name!r}; it has "
                                               f"{self.snapshot_names}")
            return f["snapshot"][name][k]

    @property
    def method(self):
        """The method's label: guidance form and critic ("PPO" without
        guidance), "-static" for the static reference, "/shared" for one
        network."""
        c = self.config
        guide = "PPO" if c["algo.guide"] == "none" else c["algo.guide"]
        if c["algo.guide"] != "none" and c.get("model.reference", "state") == "static":
            guide += "-static"
        label = f"{guide}/{c['algo.critic']}"
        return label + "/shared" if c.get("algo.share_params", False) else label

    @property
    def name(self):
        return os.path.basename(os.path.dirname(os.path.abspath(self.path)))

    def __repr__(self):
        return (f"Log({self.path!r}: {len(self.episodes)} episodes, N = {self.n_agents}, "
                f"M = {self.n_actions}, {self.method})")


def load_log(path):
    """The log at `path` (see Log); a log still being written reads up to
    its last complete episode. Raises DgpgFileError for a file that is not
    a dgpg training log, of a newer format, or damaged."""
    return Log(path)
