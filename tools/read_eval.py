#!/usr/bin/env python3
"""Print the table of a `dgpg eval` HDF5 file, read with h5py.

Usage: .venv/bin/python3 tools/read_eval.py eval.h5

Shows how the file is laid out: /config holds the resolved configuration
as attributes ("section.key"), /eval holds one row per policy: for each
metric a (policy, scenario) dataset and its _mean and _ci95 over
scenarios; every dataset has `units` and `description` attributes.
"""
import sys

import h5py


def main(path):
    with h5py.File(path, "r") as f:
        ev = f["eval"]
        policies = [p.decode() if isinstance(p, bytes) else p for p in ev["policy"][()]]
        # the columns `dgpg eval` printed: the environment's own, then cost_ratio
        columns = ev.attrs.get("table_columns", "mean_delay,drop_rate,cost_ratio")
        metrics = (columns.decode() if isinstance(columns, bytes) else columns).split(",")
        print(f"{path}: {ev.attrs['n_scenarios']} scenarios, "
              f"N = {f['config'].attrs['env.n_agents']}, M = {f['config'].attrs['env.n_pools']}")
        header = "".join(f"{m + ' [' + ev[m].attrs['units'] + ']':>28}" for m in metrics)
        print(f"{'policy':<14}{header}")
        for row, name in enumerate(policies):
            cells = "".join(f"{ev[m + '_mean'][row]:>17.4f} +- {ev[m + '_ci95'][row]:<7.4f}"
                            for m in metrics)
            print(f"{name:<14}{cells}")


if __name__ == "__main__":
    if len(sys.argv) != 2:
        sys.exit(__doc__)
    main(sys.argv[1])
