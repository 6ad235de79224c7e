#!/usr/bin/env python3
"""h5py reads the training log while dgpg writes it, after it finished, and
after the writer was killed with SIGKILL.

The writer is `test_h5log DIR --writer N` (tests/test_h5log.c): N episodes
of the schema there (N = 7 agents, M = 3 actions; scalars reward, distance,
throughput; tensors grad_var (N), action_probs (N, M); a 1000-float policy
snapshot every 5 episodes), 50 ms apart, printing "appended E" after each
episode is flushed. Every value is checked against the writer's formulas,
computed here independently: scalar k of episode e = 10 e + k + 0.25,
tensor t at agent i, action m = 100 e + 10 t + i + 0.25 m, snapshot value
j at episode e = (1000 e + j) / 2.
Checks: (1) a SWMR reader (libver="latest", swmr=True, refresh()) sees
the episode count grow and every complete row right; (2) the finished file
opens with a plain h5py.File(path, "r") and holds all episodes, snapshots,
units and descriptions; (3) after SIGKILL, a plain h5py.File(path, "r") of
the killed file is refused with HDF5's "file is already open for write",
as docs/training.md and tools/read_log.py tell the user (who opens it with
swmr=True, resumes, or runs h5clear -s), and h5py with swmr=True reads
every episode the writer reported.
Usage: test_h5log_read.py TEST_H5LOG_BINARY SCRATCH_DIR
"""
import os
import signal
import subprocess
import sys
import time

import h5py
import numpy as np

N, M, PARAM = 7, 3, 1000
SCALARS = ["reward", "distance", "throughput"]


def scalar_expected(rows, k):
    return np.arange(rows, dtype=np.float64) * 10 + k + 0.25


def tensor_expected(rows, t, per_action):
    e = np.arange(rows).reshape(-1, 1, 1)
    i = np.arange(N).reshape(1, -1, 1)
    m = np.arange(M if per_action else 1).reshape(1, 1, -1)
    v = (e * 100 + t * 10 + i).astype(np.float32) + np.float32(0.25) * m.astype(np.float32)
    return v if per_action else v[:, :, 0]


def rows_match(f, rows):
    """Rows [0, rows) of every /episode and /agent dataset equal the formulas."""
    ok = all(np.array_equal(f["episode"][n][:rows], scalar_expected(rows, k))
             for k, n in enumerate(SCALARS))
    ok = ok and np.array_equal(f["agent/grad_var"][:rows], tensor_expected(rows, 0, False))
    return ok and np.array_equal(f["agent/action_probs"][:rows], tensor_expected(rows, 1, True))


def start_writer(binary, scratch, episodes):
    return subprocess.Popen([binary, scratch, "--writer", str(episodes)],
                            stdout=subprocess.PIPE, text=True)


def wait_appended(writer, episode):
    """Reads the writer's lines until it reports `episode`; the last reported."""
    last = -1
    while last < episode:
        line = writer.stdout.readline()
        if not line:
            break
        last = int(line.split()[1])
    return last


def main(binary, scratch):
    os.makedirs(scratch, exist_ok=True)
    path = os.path.join(scratch, "swmr.h5")
    counts = {"passed": 0, "failed": 0}

    def check(cond, what):
        print(("ok - " if cond else "not ok - ") + what)
        counts["passed" if cond else "failed"] += 1

    # (1) read while it is written
    if os.path.exists(path):
        os.remove(path)
    episodes = 20
    writer = start_writer(binary, scratch, episodes)
    check(wait_appended(writer, 0) == 0, "writer reports its first episode")
    seen, all_right, in_flight = [], True, 0
    with h5py.File(path, "r", libver="latest", swmr=True) as f:
        datasets = [f["episode"][n] for n in SCALARS] + [f["agent/grad_var"],
                                                         f["agent/action_probs"]]
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            for d in datasets:
                d.refresh()
            rows = min(d.shape[0] for d in datasets)
            # the last row may be in flight: NaN (the fill value) until flushed
            complete = rows
            if rows and any(np.isnan(d[rows - 1]).any() for d in datasets):
                complete, in_flight = rows - 1, in_flight + 1
            all_right = all_right and rows_match(f, complete)
            seen.append(complete)
            if complete == episodes or writer.poll() is not None:
                break
            time.sleep(0.12)
    writer.wait(timeout=30)
    check(writer.returncode == 0, f"writer exits 0 (got {writer.returncode})")
    check(len(set(seen)) >= 3 and seen == sorted(seen),
          f"SWMR reader saw the episode count grow: {sorted(set(seen))}")
    check(all_right, f"every complete row read during the run matches ({len(seen)} reads, "
                     f"{in_flight} caught a row in flight)")

    # (2) the finished file, opened plainly
    with h5py.File(path, "r") as f:
        check(f.attrs["kind"] == "dgpg training log", "root kind")
        check(f.attrs["n_agents"] == N and f.attrs["n_actions"] == M, "root N and M")
        check(f["config"].attrs["env.n_agents"] == "50", "config attribute env.n_agents")
        check(all(f["episode"][n].shape == (episodes,) for n in SCALARS),
              f"/episode shapes ({episodes},)")
        check(f["agent/grad_var"].shape == (episodes, N)
              and f["agent/action_probs"].shape == (episodes, N, M), "/agent shapes")
        check(f["episode/reward"].dtype == np.float64 and f["agent/grad_var"].dtype == np.float32,
              "float64 scalars, float32 tensors")
        check(rows_match(f, episodes), "every value of the finished log matches")
        tags = f["snapshot/episode"][()]
        check(tags.tolist() == [0, 5, 10, 15], f"snapshot episodes {tags.tolist()}")
        want = (tags.reshape(-1, 1) * 1000 + np.arange(PARAM)).astype(np.float32) * 0.5
        check(np.array_equal(f["snapshot/policy"][()], want), "snapshot values")
        described = []
        f.visititems(lambda name, obj: described.append(
            isinstance(obj, h5py.Group) or ("units" in obj.attrs and "description" in obj.attrs)))
        check(len(described) == 11 and all(described), "every dataset has units and description")

    # (3) killed with SIGKILL after a few episodes
    os.remove(path)
    writer = start_writer(binary, scratch, 400)
    reported = wait_appended(writer, 4) + 1
    writer.send_signal(signal.SIGKILL)
    writer.wait(timeout=30)
    for line in writer.stdout.read().split("\n"):   # reported before it died
        if line.startswith("appended"):
            reported = int(line.split()[1]) + 1
    check(writer.returncode == -signal.SIGKILL and reported >= 5,
          f"writer killed after reporting {reported} episodes")
    try:
        h5py.File(path, "r").close()
        plain = "opens"
    except OSError as e:
        plain = "refused: " + str(e)
    check(plain.startswith("refused") and "already open for write" in plain,
          f"a plain h5py.File(path, 'r') of the killed log is refused as documented ({plain})")
    with h5py.File(path, "r", libver="latest", swmr=True) as f:
        rows = min(f["episode"][n].shape[0] for n in SCALARS)
        check(rows >= reported, f"killed log holds {rows} >= {reported} reported episodes")
        check(rows_match(f, reported), "every reported episode of the killed log matches")
    print(f"h5log_read: {counts['passed']} passed, {counts['failed']} failed")
    return counts["failed"]


if __name__ == "__main__":
    if len(sys.argv) != 3:
        sys.exit(__doc__)
    sys.exit(1 if main(sys.argv[1], sys.argv[2]) else 0)
