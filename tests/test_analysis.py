#!/usr/bin/env python3
"""The dgpg_analysis package (python/) against the files dgpg writes, read
independently with h5py:

  * load_log: the config equals /config's attributes; every /episode
    dataset is a DataFrame column with the same values and its units; every
    /agent dataset an xarray DataArray of the same values with dimensions
    (episode, agent[, action]) and units; every snapshot vector read on
    demand equals the file's;
  * load_runs over two runs: one row per (run, episode), the runs' method,
    N and seed, every config key a column, the scalars equal to the logs';
  * load_eval: per (policy, scenario) every metric equals the file's, and
    the summary its _mean and _ci95;
  * a log read while `dgpg train` writes it: complete episodes only, each
    equal to the finished log's row;
  * the TensorBoard export read back with TensorBoard's own
    EventAccumulator: every scalar of every episode (float32 rounding);
  * a text file, an eval table given as a log, a log of a newer format
    version and a truncated log each raise DgpgFileError naming the file;
  * the results notebook (experiments/results_hetcloud.ipynb), executed
    with nbclient on a smoke-size hetcloud study, draws its figure and
    computes the study's own ratios to Best-Fit (summary.json).
Usage: test_analysis.py DGPG_BINARY SCRATCH_DIR
"""
import json
import os
import shutil
import subprocess
import sys
import time

import h5py
import numpy as np

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
sys.path.insert(0, HERE)
sys.path.insert(0, os.path.join(ROOT, "python"))
from tap import check, finish  # noqa: E402

import dgpg_analysis as da  # noqa: E402

SMALL = ["--set", "env.n_agents=6", "--set", "env.n_envs=4", "--set", "env.horizon=30",
         "--set", "backend.kind=cpu", "--set", "backend.threads=1",
         "--set", "log.snapshot_every=1"]


def train(dgpg, scratch, name, episodes, extra=()):
    return subprocess.run([dgpg, "train", "--force", "--set", f"log.dir={scratch}",
                           "--set", f"train.name={name}", "--set", f"train.episodes={episodes}"]
                          + SMALL + list(extra), capture_output=True, text=True)


def text(v):
    return v.decode() if isinstance(v, bytes) else str(v)


def check_log(path):
    log = da.load_log(path)
    with h5py.File(path, "r") as f:
        check("config: every /config attribute, as text",
              log.config_text == {k: text(v) for k, v in f["config"].attrs.items()})
        names = list(f["episode"])
        check("episodes: one column per /episode dataset", list(log.episodes.columns) == names)
        same = all(np.array_equal(log.episodes[n].to_numpy(), f["episode"][n][()], equal_nan=True)
                   for n in names)
        check("episodes: the same values", same)
        check("episodes: units of every column",
              all(log.episodes.attrs["units"][n] == text(f["episode"][n].attrs["units"])
                  and log.episodes.attrs["units"][n] for n in names))
        check("episodes: indexed by episode from 1",
              list(log.episodes.index) == list(range(1, len(names and f["episode"][names[0]]) + 1)))
        ok = True
        for n, d in f["agent"].items():
            a = log.agents.get(n)
            ok &= a is not None and np.array_equal(a.values, d[()]) and \
                a.dims == ("episode", "agent", "action")[:d.ndim] and \
                a.attrs["units"] == text(d.attrs["units"])
        check("agents: every /agent dataset as a DataArray (values, dims, units)",
              ok and set(log.agents) == set(f["agent"]))
        snaps = f["snapshot/actor_params"][()]
        check("snapshots: read on demand, equal to the file's",
              len(log.snapshot_episodes) == snaps.shape[0] and
              all(np.array_equal(log.snapshot("actor_params", k), snaps[k])
                  for k in range(snaps.shape[0])))
    return log


def main(dgpg, scratch):
    shutil.rmtree(scratch, ignore_errors=True)
    os.makedirs(scratch)
    r1 = train(dgpg, scratch, "a", 3)
    r2 = train(dgpg, scratch, "b", 2, ["--set", "algo.guide=none", "--set", "train.seed=7"])
    check("two small runs train", r1.returncode == 0 and r2.returncode == 0,
          (r1.stderr + r2.stderr)[-400:])
    log_a = check_log(os.path.join(scratch, "a", "log.h5"))
    check("the environment's own columns", log_a.env_columns == ["delay", "drop_rate"])

    runs = da.load_runs(os.path.join(scratch, "*", "log.h5"))
    check("load_runs: one row per (run, episode)", len(runs) == 5 and
          sorted(runs.groupby("run").size().to_dict().items()) == [("a", 3), ("b", 2)])
    b = runs[runs.run == "b"]
    check("load_runs: method, N, seed, config keys as columns",
          set(b.method) == {"PPO/mappo"} and set(b.N) == {6} and set(b.seed) == {7} and
          "algo.lr" in runs.columns and "env.n_pools" in runs.columns)
    with h5py.File(os.path.join(scratch, "b", "log.h5"), "r") as f:
        check("load_runs: the scalars of each log",
              np.array_equal(b.cost_ratio.to_numpy(), f["episode/cost_ratio"][()]))

    ev_path = os.path.join(scratch, "eval.h5")
    r = subprocess.run([dgpg, "eval", "--policy", "random,led,pstar", "--scenarios", "3",
                        "--output", ev_path, "--set", "env.n_envs=2", "--set", "env.horizon=30",
                        "--set", "env.n_agents=6", "--set", "backend.kind=cpu"],
                       capture_output=True, text=True)
    check("an eval table", r.returncode == 0, r.stderr[-300:])
    table = da.load_eval(ev_path)
    with h5py.File(ev_path, "r") as f:
        ev = f["eval"]
        metrics = [k for k in ev if ev[k].ndim == 2]
        ok = all(np.array_equal(table.per_scenario[m].to_numpy(), ev[m][()].reshape(-1))
                 for m in metrics)
        ok &= all(np.array_equal(table.summary[m + "_mean"].to_numpy(), ev[m + "_mean"][()]) and
                  np.array_equal(table.summary[m + "_ci95"].to_numpy(), ev[m + "_ci95"][()],
                                 equal_nan=True) for m in metrics)
        check("load_eval: every metric per (policy, scenario), and the summary", ok)
        check("load_eval: policies and the printed columns",
              list(table.summary.index) == ["random", "led", "pstar"] and
              table.table_columns == text(ev.attrs["table_columns"]).split(","))

    # a live log: read while dgpg train writes it
    live = subprocess.Popen([dgpg, "train", "--force", "--set", f"log.dir={scratch}",
                             "--set", "train.name=live", "--set", "train.episodes=12",
                             "--set", "env.horizon=200"] + SMALL,
                            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    live_path = os.path.join(scratch, "live", "log.h5")
    seen, deadline = None, time.monotonic() + 120
    while time.monotonic() < deadline and live.poll() is None:
        try:
            seen = da.load_log(live_path)
            if 1 <= len(seen.episodes) < 12:
                break
        except da.DgpgFileError:
            pass
        time.sleep(0.05)
    running = live.poll() is None
    live.wait(timeout=300)
    final = da.load_log(live_path)
    k = len(seen.episodes) if seen is not None else 0
    check(f"a live log: {k} complete episodes read while training ran, each the finished log's",
          running and 1 <= k < 12 and
          final.episodes.iloc[:k].equals(seen.episodes), f"running {running}, {k} episodes")

    # TensorBoard: written by the package, read back by TensorBoard's reader
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator
    tb = os.path.join(scratch, "tb")
    n = da.to_tensorboard(os.path.join(scratch, "a", "log.h5"), tb)
    acc = EventAccumulator(tb)
    acc.Reload()
    tags = acc.Tags()["scalars"]
    ok = n == 3 and set(tags) == {f"episode/{c}" for c in log_a.episodes.columns}
    for c in log_a.episodes.columns:
        events = acc.Scalars(f"episode/{c}") if ok else []
        ok &= [e.step for e in events] == [1, 2, 3] and np.allclose(
            [e.value for e in events], log_a.episodes[c].to_numpy().astype(np.float32),
            rtol=0, atol=0, equal_nan=True)
    check("TensorBoard: every scalar of every episode, read back by EventAccumulator", ok, tags)

    # bad input: one DgpgFileError naming the file
    bad_text = os.path.join(scratch, "notes.txt")
    with open(bad_text, "w") as f:
        f.write("not a log\n")
    newer = os.path.join(scratch, "newer.h5")
    shutil.copy(os.path.join(scratch, "a", "log.h5"), newer)
    with h5py.File(newer, "r+") as f:
        f.attrs["dgpg_version"] = "1.0.0"
    truncated = os.path.join(scratch, "truncated.h5")
    with open(os.path.join(scratch, "a", "log.h5"), "rb") as src, open(truncated, "wb") as dst:
        dst.write(src.read()[:5000])
    for path, want, what in [(bad_text, "not an HDF5 file", "a text file"),
                             (ev_path, "not a dgpg training log", "an eval table as a log"),
                             (newer, "newer format", "a newer format version"),
                             (truncated, "damaged", "a truncated log")]:
        try:
            da.load_log(path)
            got = "no exception"
        except da.DgpgFileError as e:
            got = str(e)
        except Exception as e:  # noqa: BLE001 - the check is that nothing else escapes
            got = f"{type(e).__name__}: {e}"
        check(f"bad input: {what} raises DgpgFileError naming it",
              got.startswith(path + ": ") and want in got, got)

    # the results notebook on a smoke-size hetcloud study
    study = os.path.join(scratch, "study")
    r = subprocess.run([sys.executable, os.path.join(ROOT, "experiments", "heuristics.py"),
                        "--size", "smoke", "--env", "hetcloud", "--out", study, "--dgpg", dgpg,
                        "--jobs", "2"], capture_output=True, text=True, timeout=600)
    check("a smoke hetcloud study for the notebook", r.returncode == 0, r.stderr[-400:])
    import nbclient
    import nbformat
    nb = nbformat.read(os.path.join(ROOT, "experiments", "results_hetcloud.ipynb"), as_version=4)
    figure = os.path.join(scratch, "notebook_cost_vs_n.png")
    os.environ.update({"DGPG_STUDY": study, "DGPG_FIGURE": figure})
    error = ""
    try:
        nbclient.NotebookClient(nb, timeout=300, kernel_name="python3",
                                resources={"metadata": {"path": scratch}}).execute()
    except Exception as e:  # noqa: BLE001 - reported as the check's detail
        error = str(e)[-400:]
    check("the notebook executes and draws its figure",
          not error and os.path.getsize(figure) > 1000 if os.path.exists(figure) else False,
          error)
    with open(os.path.join(study, "summary.json")) as f:
        want = json.load(f)["cost_over_best_fit"]
    ratios = {}
    for cell in nb.cells:
        for out in cell.get("outputs", []):
            if "dgpg_ratios" in out.get("text", ""):
                ratios = json.loads(out["text"].split("dgpg_ratios ", 1)[1])
    match = bool(ratios) and all(
        np.isclose(ratios[key][0], v[0], equal_nan=True) for key, v in want.items())
    check("the notebook's ratios to Best-Fit are the study's", match, f"{ratios} vs {want}")


if __name__ == "__main__":
    if len(sys.argv) != 3:
        sys.exit(__doc__)
    main(sys.argv[1], sys.argv[2])
    sys.exit(finish("analysis"))
