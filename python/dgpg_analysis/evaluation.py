"""A `dgpg eval` table as pandas: load_eval(path)."""
import os

import pandas as pd

from ._files import EVAL_KIND, DgpgFileError, attr_text, open_file, read_config, text, typed


class Eval:
    """One eval table.

    per_scenario  DataFrame, one row per (policy, scenario): columns policy,
                  scenario_seed, and every metric (cost, cost_ratio, the
                  environment's ratio columns and sums)
    summary       DataFrame indexed by policy: each metric's mean over the
                  scenarios and the half width of its 95% interval
                  (columns METRIC_mean, METRIC_ci95)
    table_columns the columns `dgpg eval` printed
    units         {metric: units}; config {"section.key": value} (typed)
    """

    def __init__(self, path):
        self.path = os.fspath(path)
        with open_file(self.path, EVAL_KIND) as f:
            try:
                self._read(f)
            except (KeyError, OSError, ValueError) as e:
                raise DgpgFileError(self.path, f"damaged: {e}") from None

    def _read(self, f):
        self.config = {k: typed(v) for k, v in read_config(self.path, f).items()}
        ev = f["eval"]
        policies = [text(p) for p in ev["policy"][()]]
        seeds = ev["scenario_seed"][()]
        metrics = [k for k in ev if ev[k].ndim == 2]
        columns = (attr_text(ev, "table_columns") or "mean_delay,drop_rate,cost_ratio")
        self.table_columns = columns.split(",")
        self.units = {m: attr_text(ev[m], "units") for m in metrics}
        rows = {"policy": [p for p in policies for _ in seeds],
                "scenario_seed": [int(s) for _ in policies for s in seeds]}
        for m in metrics:
            rows[m] = ev[m][()].reshape(-1)
        self.per_scenario = pd.DataFrame(rows)
        summary = {}
        for m in metrics:
            summary[f"{m}_mean"] = ev[f"{m}_mean"][()]
            summary[f"{m}_ci95"] = ev[f"{m}_ci95"][()]
        self.summary = pd.DataFrame(summary, index=pd.Index(policies, name="policy"))

    def __repr__(self):
        return f"Eval({self.path!r}: {len(self.summary)} policies)"


def load_eval(path):
    """The eval table at `path` (see Eval). Raises DgpgFileError for a file
    that is not a dgpg eval table, of a newer format, or damaged."""
    return Eval(path)
