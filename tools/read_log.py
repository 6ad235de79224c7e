#!/usr/bin/env python3
"""Print a dgpg training log (runs/NAME/log.h5): the run's config and one
row per episode, read with h5py; --follow keeps reading while it trains.

Usage: .venv/bin/python3 tools/read_log.py runs/NAME/log.h5 [--follow]

Layout (src/io/h5log.h; every dataset has `units` and `description`):
  /                 attrs kind = "dgpg training log", dgpg_version,
                    n_agents (N), n_actions (M), created (ISO 8601 UTC)
  /config           attrs: the resolved config, "section.key" -> text
  /episode/NAME     (episodes,)        float64, one per scalar column
  /agent/NAME       (episodes, N[, M]) float32, per-agent tensors
  /snapshot/episode (snapshots,)       int64, episode of each snapshot
  /snapshot/NAME    (snapshots, size)  float32, parameter vectors

Open it as this script does, with SWMR:

    import h5py
    with h5py.File("runs/NAME/log.h5", "r", libver="latest", swmr=True) as f:
        episode = {name: d[()] for name, d in f["episode"].items()}  # name -> (episodes,)
        agent = {name: d[()] for name, d in f["agent"].items()}      # name -> (episodes, N[, M])
        units = {name: d.attrs["units"] for name, d in f["episode"].items()}
        config = dict(f["config"].attrs)                              # "env.n_agents" -> "50"

`episode` is a dict of equal-length numpy arrays, so pandas takes it as it
is: pandas.DataFrame(episode). The dgpg_analysis package (python/, `pip
install ./python`) does all of this: dgpg_analysis.load_log(path) gives the
config, the episodes as a DataFrame with units, the per-agent tensors as
xarray DataArrays and the snapshots on demand.

That works for a finished run, a running one (data up to the last
completed episode; call d.refresh() on a dataset to see new rows) and a
run that was killed. A plain h5py.File(path, "r") works only on a log
whose run has ended normally: while a run writes the log, and after it was
killed (kill -9, out of memory, a node failure), HDF5 refuses it with
"file is already open for write (may use <h5clear file> to clear file
consistency flags)". Then either open with swmr=True as above (nothing to
repair: every completed episode is there), or resume the run (`dgpg train
--resume` clears the mark), or, once sure that no run is writing the file,
run `h5clear -s runs/NAME/log.h5` (Debian/Ubuntu package hdf5-tools).

A reader can catch an episode in flight: a dataset one row longer than
another, or a last row of NaN (the datasets' fill value). Only rows that
every /episode and /agent dataset holds, without NaN, are complete;
complete_rows() counts them.
"""
import math
import os
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import _analysis_path  # noqa: E402,F401
from dgpg_analysis._files import (LOG_KIND, DgpgFileError, complete_rows, open_file,  # noqa: E402
                                  refresh)


def open_log(path):
    """The log opened for reading with SWMR (see the module docstring);
    dgpg_analysis.DgpgFileError for a file that is not a dgpg log."""
    return open_file(path, LOG_KIND)


def print_config(f, path, out=sys.stdout):
    a = f.attrs
    print(f"{path}: {a['kind']}, dgpg {a['dgpg_version']}, created {a['created']}, "
          f"N = {a['n_agents']}, M = {a['n_actions']}", file=out)
    cfg = f["config"].attrs
    print(f"config ({cfg.get('source', '?')}):", file=out)
    sections = {}
    for key, value in cfg.items():
        if "." in key:
            section, name = key.split(".", 1)
            sections.setdefault(section, []).append(f"{name}={value}")
    for section, items in sections.items():
        line = f"  {section}:"
        for item in items:
            if len(line) + 1 + len(item) > 100:
                print(line, file=out)
                line = " " * (len(section) + 3)
            line += " " + item
        print(line, file=out)
    agent = ", ".join(f"{n} {d.shape[1:]}" for n, d in f["agent"].items())
    snaps = f["snapshot/episode"].shape[0]
    print(f"per-agent tensors: {agent or 'none'}; {snaps} parameter snapshots", file=out)


def table_header(f):
    names = list(f["episode"].keys())
    heads = [f"{n} [{f['episode'][n].attrs['units']}]" for n in names]
    widths = [max(14, len(h)) for h in heads]
    line = f"{'episode':>8}  " + "  ".join(f"{h:>{w}}" for h, w in zip(heads, widths))
    return names, widths, line


def print_rows(f, names, widths, start, stop, out=sys.stdout):
    columns = [f["episode"][n][start:stop] for n in names]
    for row in range(stop - start):
        cells = []
        for column, w in zip(columns, widths):
            v = float(column[row])
            cells.append(f"{v:>{w}.6g}" if math.isfinite(v) else f"{v!s:>{w}}")
        print(f"{start + row:>8}  " + "  ".join(cells), file=out)


def main(argv):
    args = [a for a in argv if a != "--follow"]
    follow = len(args) != len(argv)
    if len(args) != 1 or args[0].startswith("-"):
        sys.exit(__doc__)
    path = args[0]
    try:
        f = open_log(path)
    except DgpgFileError as e:
        sys.exit(f"read_log: {e}")
    with f:
        print_config(f, path)
        names, widths, header = table_header(f)
        print(header)
        shown = complete_rows(f)
        print_rows(f, names, widths, 0, shown)
        sys.stdout.flush()
        try:
            while follow:
                time.sleep(1.0)
                refresh(f)
                rows = complete_rows(f)
                if rows < shown:   # the run was resumed from an earlier checkpoint
                    print(f"-- log cut back to {rows} episodes (resumed run)")
                    shown = rows
                print_rows(f, names, widths, shown, rows)
                shown = rows
                sys.stdout.flush()
        except KeyboardInterrupt:
            pass


if __name__ == "__main__":
    main(sys.argv[1:])
