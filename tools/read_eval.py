#!/usr/bin/env python3
"""Print the table of a `dgpg eval` HDF5 file.

Usage: .venv/bin/python3 tools/read_eval.py eval.h5

Read with the dgpg_analysis package (python/). The file: /config holds the
resolved configuration as attributes ("section.key"), /eval one row per
policy: for each metric a (policy, scenario) dataset and its _mean and
_ci95 over scenarios; every dataset has `units` and `description`.
"""
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import _analysis_path  # noqa: E402,F401
import dgpg_analysis  # noqa: E402


def main(path):
    try:
        table = dgpg_analysis.load_eval(path)
    except dgpg_analysis.DgpgFileError as e:
        sys.exit(f"read_eval: {e}")
    s = table.summary
    # the columns `dgpg eval` printed: the environment's own, then cost_ratio
    metrics = table.table_columns
    print(f"{path}: {table.per_scenario['scenario_seed'].nunique()} scenarios, "
          f"N = {table.config['env.n_agents']}, M = {table.config['env.n_pools']}")
    header = "".join(f"{m + ' [' + table.units[m] + ']':>28}" for m in metrics)
    print(f"{'policy':<14}{header}")
    for name in s.index:
        cells = "".join(f"{s.loc[name, m + '_mean']:>17.4f} +- {s.loc[name, m + '_ci95']:<7.4f}"
                        for m in metrics)
        print(f"{name:<14}{cells}")


if __name__ == "__main__":
    if len(sys.argv) != 2:
        sys.exit(__doc__)
    main(sys.argv[1])
