#!/usr/bin/env python3
"""Reliability of `dgpg train`, `eval` and `report` when runs are killed,
files are damaged, the disk fills and values stop being finite.

Usage: test_reliability.py DGPG_BINARY SCRATCH_DIR

Every run is tiny (N = 5, E = 8, T = 40: a few hundredths of a second per
episode, one thread, so that resumed runs are bitwise comparable).

1. kill -9 soak. Chains of runs (8 episodes, a checkpoint after every
   episode, a parameter snapshot every 2) are killed with SIGKILL at random
   moments, drawn (random.Random(SEED)) over the expected length of the
   run being killed (start-up plus its remaining episodes, timed on the
   reference run), then continued with `dgpg train --resume`; a chain may
   be killed up to 3 times in a row before a resume runs to the end (at
   least one chain is). Some kills are aimed at a checkpoint being
   written: after a random wait the test polls (a tight os.stat loop) for
   a new `checkpoint.h5.tmp` and kills then; the kill counts as one during
   a checkpoint write only if that .tmp is still there afterwards (the
   trainer writes it, then renames it). Then EARLY_KILLS resumes of a run
   stopped after 3 episodes are killed at evenly spaced moments across
   1.5 x the start-up, and MARK_KILLS are killed in the window where a
   resume holds the log open for writing but has not started SWMR yet
   (the test polls the superblock's file-consistency flags, byte 11: 0x01
   without 0x04; a missed window is polled again, MARK_TRIES in all).
   Required: at least 10 kills, at least 3 during a checkpoint write; every
   killed run, resumed to the end, equals the uninterrupted run of the same
   config bitwise: every dataset and attribute of the final checkpoint.h5
   (parameters, Adam moments and steps, value normalisers, the stored
   config but for RUN_NAMING) and every dataset of the log's episode/,
   agent/ and snapshot/ groups except the wall-clock columns
   (TIME_COLUMNS), read with a plain h5py open (the finished run cleared
   its open-for-write mark); `dgpg report` reads the log of a resume
   killed at the write mark; no checkpoint.h5.tmp is left at the end. A
   run killed before its first checkpoint has nothing to resume:
   `--resume` may either start it over or refuse it cleanly (exit >= 1, at
   most 2 lines naming the run directory's file); after a refusal the
   chain starts over with `--force`.
   Truth: the uninterrupted run.
2. corruption. A run stopped after 2 of 6 episodes (checkpoint at 2) is
   copied once per variant and one file damaged: checkpoint.h5 or log.h5
   truncated (0 bytes, 33 bytes, half, all but 1 byte), one bit flipped in
   the metadata (`meta_offsets`: the first byte, byte 1200, a digest of
   the checkpoint's integrity table in its first 4 KiB, HDF5's
   superblock, first object header, attribute names) and inside the data
   of each checkpoint dataset (offsets from h5py's `get_offset()`) and of
   two log datasets (their first chunk, `get_chunk_info`), a 4 KiB block
   zeroed (at 0, 4 KiB, the middle, the end), the file of a run of another
   config, a directory, a FIFO, a symlink to /dev/zero or to /dev/null in
   its place.
   Each variant goes through every command that reads the file:
   `train --resume DIR` (checkpoint and log), `eval --policy run:DIR
   --scenarios 2` (checkpoint), `train --set train.init_from=DIR`
   (checkpoint), `report LOG --no-figures` (log). Required of each: it
   ends within TIMEOUT seconds (else "hang"); its exit code is >= 1 and not
   a signal; stderr has no HDF5 error stack ("HDF5-DIAG", "#000:") and at
   most 2 lines, and names the file (its run directory and name). Damaged
   files (truncated, flipped, zeroed) are called damaged: the message has
   "damaged" or "truncated" ("empty" too for 0 bytes) and not "missing" or
   "no readable"; for a flip inside a dataset's data it names the dataset;
   a file that is not a regular file is called "not a regular file". The
   flips inside the log's data (episode/reward, snapshot/actor_params) are
   only detectable if the log carries checksums of its chunks.
   Truth: the damage the test made.
3. full disk. Where the test runs as root and `mount -t tmpfs` works (else
   the checks are reported as skipped), runs write into small tmpfs mounts
   (`--set log.dir=MOUNT`) sized from a reference run's block usage so
   that (a) the log's first write cannot fit, (b) the disk fills on the
   log append of episode 3, after the checkpoint of episode 2, (c) the
   disk fills while the checkpoint of episode 4 is written. Required: exit
   code 1; stderr one line naming the file with "No space left on
   device"; no HDF5 stack; no checkpoint.h5.tmp left; (b, c) the log still
   opens with h5py and holds the checkpoint's episodes, and the run
   directory copied to the real disk resumes to the end and equals the
   uninterrupted run bitwise (checkpoint and log, as in 1). Read-only: a
   tmpfs remounted read-only (for root; chmod 0555 otherwise) refuses a new
   run and a resume cleanly (exit >= 1, at most 2 lines naming the path,
   "Read-only file system" or "Permission denied", no HDF5 stack), while
   `report` and `eval` of the run on it still work. The mounts are always
   unmounted.
4. non-finite values. DGPG_TEST_INJECT_NAN=E puts a NaN into the actor's
   parameters after the update of episode E+1 (0-based E). Required: exit
   1, one stderr line naming "episode E+1" and "actor.params", no HDF5
   stack; the checkpoint before it equals the uninterrupted run's
   checkpoint at that episode bitwise; the log opens with h5py and holds
   exactly the good episodes, equal to the uninterrupted run's; the run
   resumes to the end and equals the uninterrupted run bitwise. Injected
   into the first episode: exit 1 naming episode 1, no checkpoint, a
   readable log with no episodes.
   Truth: the uninterrupted run.
No tolerances: every comparison is bitwise, every message check a
substring. TIMEOUT bounds each command (a damaged file must be refused in
well under a second; 20 s is only there to turn a hang into a failure).
"""
import concurrent.futures
import os
import random
import re
import shutil
import signal
import subprocess
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from cpu_pin import pinned  # noqa: E402
from tap import check, finish  # noqa: E402

import h5py  # noqa: E402
import numpy as np  # noqa: E402

SEED = 20261130
TIMEOUT = 20
WORKERS = 4
SMALL = ["--set", "backend.threads=1", "--set", "env.n_agents=5", "--set", "env.n_envs=8",
         "--set", "env.horizon=40", "--set", "env.day_length=40",
         "--set", "algo.minibatches=2"]
# the kill soak: a checkpoint after every episode
SOAK_EPISODES = 8
SOAK = SMALL + ["--set", "train.checkpoint_every=1", "--set", "log.snapshot_every=2",
                "--set", f"train.episodes={SOAK_EPISODES}"]
MIN_KILLS, MIN_CKPT_KILLS = 10, 3
EARLY_KILLS = 12  # resumes killed during their start-up
MARK_KILLS, MARK_TRIES = 3, 8  # resumes killed while the log is open for write before SWMR
# corruption, full disk, NaN: 6 episodes, a checkpoint every 2, a snapshot every episode
BASE_EPISODES = 6
BASE = SMALL + ["--set", "train.checkpoint_every=2", "--set", "log.snapshot_every=1",
                "--set", f"train.episodes={BASE_EPISODES}"]
EVAL_ENV = ["--set", "backend.threads=1", "--set", "env.n_agents=5", "--set", "env.n_envs=8",
            "--set", "env.horizon=40", "--set", "env.day_length=40", "--output", "-"]
TIME_COLUMNS = {"wall_time", "rollout_seconds", "update_seconds", "agent_steps_per_s"}
STACK = re.compile(r"HDF5-DIAG|#\d{3}:")


class Result:
    def __init__(self, rc, out, err, hung, seconds):
        self.rc, self.out, self.err, self.hung, self.seconds = rc, out, err, hung, seconds

    def first_line(self):
        lines = self.err.strip().splitlines()
        return lines[0][:200] if lines else "(no stderr)"


def run(dgpg, args, cwd, env=None, timeout=TIMEOUT):
    full_env = dict(os.environ)
    full_env.update(env or {})
    t0 = time.monotonic()
    try:
        r = subprocess.run([dgpg] + pinned(args), cwd=cwd, capture_output=True, text=True,
                           env=full_env, timeout=timeout, stdin=subprocess.DEVNULL)
        return Result(r.returncode, r.stdout, r.stderr, False, time.monotonic() - t0)
    except subprocess.TimeoutExpired as e:
        def text(b):
            return b.decode(errors="replace") if isinstance(b, bytes) else (b or "")
        return Result(None, text(e.stdout), text(e.stderr), True, time.monotonic() - t0)


def clean_exit_problems(r, names, max_lines=2):
    """What is wrong with a refusal: hang, signal, exit 0, an HDF5 stack,
    too many lines, a file not named. [] if nothing."""
    bad = []
    if r.hung:
        bad.append(f"hang (> {TIMEOUT} s)")
    elif r.rc < 0:
        bad.append(f"killed by signal {signal.Signals(-r.rc).name}")
    elif r.rc == 0:
        bad.append("exit 0 (accepted)")
    if STACK.search(r.err) or STACK.search(r.out):
        bad.append("HDF5 error stack")
    lines = r.err.strip().splitlines()
    if len(lines) > max_lines:
        bad.append(f"{len(lines)} stderr lines")
    missing = [n for n in names if n not in r.err]
    if missing and not r.hung:
        bad.append(f"does not name {' / '.join(missing)}")
    return bad


def read_log(path, swmr_too=False):
    """episode/, agent/, snapshot/ datasets. A plain open: a log its writer
    closed has no open-for-write mark; with swmr_too, a SWMR read if the
    plain open fails (the way to read the log of a killed writer)."""
    try:
        f = h5py.File(path, "r")
    except OSError:
        if not swmr_too:
            raise
        f = h5py.File(path, "r", libver="latest", swmr=True)
    with f:
        return {f"{g}/{k}": ds[()] for g in ("episode", "agent", "snapshot")
                for k, ds in f[g].items()}


# stored config keys that name the run or where its config came from: they
# differ between the runs compared (each has its own directory, and a
# resumed run reads its config.yaml), and the trainer never reads them back
RUN_NAMING = {"config@train.name", "config@log.dir", "config@source"}


def read_checkpoint(path):
    """Every dataset and every attribute (root and groups) by name, except
    RUN_NAMING."""
    out = {}
    with h5py.File(path, "r") as f:
        for a, v in f.attrs.items():
            out["@" + a] = v

        def visit(name, obj):
            if isinstance(obj, h5py.Dataset):
                out[name] = obj[()]
            for a, v in obj.attrs.items():
                out[f"{name}@{a}"] = v
        f.visititems(visit)
    return {k: v for k, v in out.items() if k not in RUN_NAMING}


def compare_runs(ref_dir, run_dir):
    """Differences of the final checkpoint and of the log; [] if bitwise equal."""
    diffs = []
    try:
        a, b = (read_checkpoint(os.path.join(d, "checkpoint.h5")) for d in (ref_dir, run_dir))
        if set(a) != set(b):
            diffs.append(f"checkpoint keys differ: {sorted(set(a) ^ set(b))[:4]}")
        diffs += [f"checkpoint {k}" for k in sorted(set(a) & set(b))
                  if not np.array_equal(np.asarray(a[k]), np.asarray(b[k]))]
    except Exception as e:  # noqa: BLE001 - reported as the failure
        diffs.append(f"checkpoint unreadable: {e}")
    try:
        a, b = (read_log(os.path.join(d, "log.h5")) for d in (ref_dir, run_dir))
        if set(a) != set(b):
            diffs.append(f"log datasets differ: {sorted(set(a) ^ set(b))[:4]}")
        diffs += [f"log {k}" for k in sorted(set(a) & set(b))
                  if k.split("/")[1] not in TIME_COLUMNS and
                  (a[k].shape != b[k].shape or not np.array_equal(a[k], b[k]))]
    except Exception as e:  # noqa: BLE001
        diffs.append(f"log unreadable: {e}")
    return diffs


def n_compared(run_dir):
    try:
        c = read_checkpoint(os.path.join(run_dir, "checkpoint.h5"))
        lg = read_log(os.path.join(run_dir, "log.h5"))
        return len(c), len([k for k in lg if k.split("/")[1] not in TIME_COLUMNS])
    except Exception:  # noqa: BLE001
        return 0, 0


# ---------------------------------------------------------------- 1. kill -9


def stat_key(path):
    try:
        s = os.stat(path)
        return (s.st_ino, s.st_mtime_ns, s.st_size)
    except OSError:
        return None


def start_and_kill(dgpg, args, scratch, run_dir, mode, delay):
    """Starts `dgpg args`; mode "time": SIGKILL after `delay` s; "ckpt": after
    `delay` s, SIGKILL as soon as a new checkpoint.h5.tmp appears; "none":
    no kill. Returns (killed, during_checkpoint, returncode, stderr, seconds
    from the start to the kill)."""
    tmp = os.path.join(run_dir, "checkpoint.h5.tmp")
    stale = stat_key(tmp)
    p = subprocess.Popen([dgpg] + pinned(args), cwd=scratch, stdout=subprocess.DEVNULL,
                         stderr=subprocess.PIPE, stdin=subprocess.DEVNULL)
    killed, t0, at = False, time.monotonic(), 0.0
    try:
        if mode == "time":
            try:
                p.wait(timeout=delay)
            except subprocess.TimeoutExpired:
                p.kill()
                killed, at = True, time.monotonic() - t0
        elif mode == "logmark":
            # the superblock's file-consistency flags (byte 11 of a version
            # 2/3 superblock): 0x01 open for write, 0x04 SWMR writing
            log = os.path.join(run_dir, "log.h5")
            deadline = time.monotonic() + 60
            with open(log, "rb") as f:
                while p.poll() is None and time.monotonic() < deadline:
                    head = os.pread(f.fileno(), 12, 0)
                    if len(head) == 12 and head[11] & 0x05 == 0x01:
                        p.kill()
                        killed, at = True, time.monotonic() - t0
                        break
        elif mode == "ckpt":
            time.sleep(delay)
            deadline = time.monotonic() + 60
            while p.poll() is None and time.monotonic() < deadline:
                k = stat_key(tmp)
                if k is not None and k != stale:
                    p.kill()
                    killed, at = True, time.monotonic() - t0
                    break
        _, err = p.communicate(timeout=120)
    except subprocess.TimeoutExpired:
        p.kill()
        _, err = p.communicate()
        return False, False, None, "hang", 0.0
    killed = killed and p.returncode == -signal.SIGKILL
    fresh = stat_key(tmp)
    during = killed and mode == "ckpt" and fresh is not None and fresh != stale
    return killed, during, p.returncode, err.decode(errors="replace"), at


def next_episode(run_dir):
    try:
        with h5py.File(os.path.join(run_dir, "checkpoint.h5"), "r") as f:
            return int(f.attrs["next_episode"])
    except Exception:  # noqa: BLE001 - none yet (or unreadable: the resume will say)
        return 0


def test_kill_soak(dgpg, scratch):
    rng = random.Random(SEED)
    ref = run(dgpg, ["train", "--set", "train.name=soak_ref"] + SOAK, scratch, timeout=120)
    check("soak: uninterrupted reference run", ref.rc == 0, ref.first_line())
    if ref.rc != 0:
        return
    ref_dir = os.path.join(scratch, "runs/soak_ref")
    # the moments are drawn over the expected length of the run being killed:
    # start-up plus its remaining episodes, timed on the reference run
    with h5py.File(os.path.join(ref_dir, "log.h5"), "r") as f:
        train_s = float(f["episode/wall_time"][-1])
    startup, per_episode = max(ref.seconds - train_s, 0.01), train_s / SOAK_EPISODES
    kills = ckpt_kills = resumed_kills = chains = longest = 0
    t_start = time.monotonic()
    while (kills < MIN_KILLS or ckpt_kills < MIN_CKPT_KILLS or longest < 3) and \
            chains < 30 and time.monotonic() - t_start < 60:
        name = f"soak{chains}"
        run_dir = os.path.join(scratch, "runs", name)
        fresh = ["train", "--set", f"train.name={name}"] + SOAK
        resume = ["train", "--resume", f"runs/{name}"]
        to_kill = 3 if longest < 3 else rng.choice([1, 2, 3])  # kills in a row on this chain
        story, cmd, ok, done, in_row = [], fresh, True, False, 0
        for _ in range(12):
            expected = startup + per_episode * (SOAK_EPISODES - next_episode(run_dir))
            if to_kill > 0:
                want_ckpt = ckpt_kills < MIN_CKPT_KILLS and rng.random() < 0.5
                mode = "ckpt" if want_ckpt else "time"
                delay = rng.uniform(0.0, expected * (0.7 if want_ckpt else 1.0))
            else:
                mode, delay = "none", 0.0
            killed, during, rc, err, at = start_and_kill(dgpg, cmd, scratch, run_dir, mode,
                                                         delay)
            if killed:
                kills += 1
                ckpt_kills += during
                resumed_kills += cmd is resume
                to_kill -= 1
                in_row += 1
                longest = max(longest, in_row)
                story.append(f"kill@{at:.3f}s" + ("(checkpoint write)" if during else ""))
                has_ckpt = os.path.exists(os.path.join(run_dir, "checkpoint.h5"))
                cmd = resume
                if not has_ckpt:
                    story.append("(no checkpoint yet)")
                    r = run(dgpg, resume, scratch)
                    if r.rc == 0:
                        done = True  # started over and ran to the end
                        story.append("resume-restarted")
                        break
                    bad = clean_exit_problems(r, [f"{name}/"])
                    check(f"soak {name}: --resume of a run killed before its first checkpoint "
                          "refused cleanly", not bad, f"{bad}: {r.first_line()}")
                    ok = ok and not bad
                    cmd = fresh + ["--force"]
                    story.append("--force")
                continue
            if rc == 0:
                done = True
                break
            story.append(f"exit {rc}")
            check(f"soak {name}: run after {' '.join(story)} ends normally", False,
                  f"exit {rc}: {err.strip()[:200]}")
            ok = False
            break
        chains += 1
        if not ok or not done:
            continue
        diffs = compare_runs(ref_dir, run_dir)
        nc, nl = n_compared(run_dir)
        check(f"soak {name} ({' '.join(story) or 'no kill landed'}): final checkpoint "
              f"({nc} datasets/attributes) and log ({nl} datasets) equal the uninterrupted "
              "run bitwise", not diffs, f"differing: {diffs[:6]}")
        left = os.path.exists(os.path.join(run_dir, "checkpoint.h5.tmp"))
        check(f"soak {name}: no checkpoint.h5.tmp left after the run completed", not left)
    # the start of a resume (checkpoint load, the log reopened and cut back to
    # the checkpoint's episode, SWMR started): killed at evenly spaced moments
    # across the start-up, each then resumed to the end
    stopped = os.path.join(scratch, "runs/soak_stopped")
    r = run(dgpg, ["train", "--set", "train.name=soak_stopped"] + SOAK, scratch,
            env={"DGPG_TEST_STOP_AFTER": "3"})
    early = 0
    for k in range(EARLY_KILLS):
        delay = 1.5 * startup * (k + 0.5) / EARLY_KILLS
        name = f"soak_early{k}"
        run_dir = os.path.join(scratch, "runs", name)
        shutil.copytree(stopped, run_dir)
        killed, _, _, _, at = start_and_kill(dgpg, ["train", "--resume", f"runs/{name}"],
                                             scratch, run_dir, "time", delay)
        early += killed
        r = run(dgpg, ["train", "--resume", f"runs/{name}"], scratch)
        diffs = compare_runs(ref_dir, run_dir) if r.rc == 0 else []
        check(f"soak {name}: a resume killed {'at %.3f s' % at if killed else '(ended first)'}"
              " resumes to the end and equals the uninterrupted run bitwise",
              r.rc == 0 and not diffs, f"exit {r.rc}: {r.first_line()} {diffs[:6]}")
    # the window the moments above rarely hit (about 1 ms): a resume holds the
    # log open for writing, cutting it back, before it starts SWMR writing;
    # killed there (the superblock polled for the write mark), then resumed
    marked = tries = 0
    for k in range(MARK_KILLS):
        for attempt in range(MARK_TRIES):  # the mark lasts about 1 ms: poll again if missed
            name = f"soak_mark{k}"
            run_dir = os.path.join(scratch, "runs", name)
            shutil.rmtree(run_dir, ignore_errors=True)
            shutil.copytree(stopped, run_dir)
            killed, _, _, _, at = start_and_kill(dgpg, ["train", "--resume", f"runs/{name}"],
                                                 scratch, run_dir, "logmark", 0.0)
            tries += 1
            if killed:
                break
        marked += killed
        rep = run(dgpg, ["report", f"runs/{name}/log.h5", "--no-figures"], scratch)
        when = f"at {at:.3f} s with the log open for write, before SWMR" if killed \
            else f"(the window was missed {MARK_TRIES} times)"
        # HDF5 refuses every reader of a file marked open for plain (not
        # SWMR) writing; only a writer may clear the mark. report must say
        # so in one line, and not call the file damaged; the resume below
        # clears the mark and must then match bitwise.
        marked_msg = "marked open for writing" in rep.err and "damaged:" not in rep.err
        check(f"soak {name}: report reads the log of a resume killed {when}, or refuses it in "
              "one line as marked open for writing (not damaged)",
              rep.rc == 0 or (killed and rep.rc == 2 and marked_msg and
                              len(rep.err.strip().splitlines()) == 1),
              f"exit {rep.rc}: {rep.first_line()}")
        r = run(dgpg, ["train", "--resume", f"runs/{name}"], scratch)
        diffs = compare_runs(ref_dir, run_dir) if r.rc == 0 else []
        check(f"soak {name}: that run resumes to the end and equals the uninterrupted run "
              "bitwise", r.rc == 0 and not diffs, f"exit {r.rc}: {r.first_line()} {diffs[:6]}")
    kills += early + marked
    print(f"# soak: start-up {startup:.3f} s, {per_episode:.3f} s per episode; "
          f"{EARLY_KILLS} resumes killed in their first {1.5 * startup:.3f} s ({early} landed), "
          f"{MARK_KILLS} at the log's write mark ({marked} landed in {tries} tries)")
    print(f"# soak: {chains} chains, {kills} kills ({resumed_kills} of a resumed run, "
          f"{ckpt_kills} during a checkpoint write, at most {longest} in a row), "
          f"{time.monotonic() - t_start:.1f} s")
    check(f"soak: at least {MIN_KILLS} SIGKILLs ({kills})", kills >= MIN_KILLS)
    check(f"soak: at least {MIN_CKPT_KILLS} SIGKILLs while checkpoint.h5.tmp was being written "
          f"({ckpt_kills})", ckpt_kills >= MIN_CKPT_KILLS)
    check(f"soak: a run killed 3 times in a row before it completed ({longest})", longest >= 3)


# ---------------------------------------------------------- 2. corruption


def flip(path, offset, bit):
    with open(path, "r+b") as f:
        f.seek(offset)
        b = f.read(1)[0]
        f.seek(offset)
        f.write(bytes([b ^ (1 << bit)]))


def zero_block(path, offset):
    size = os.path.getsize(path)
    offset = max(0, min(offset, size - 4096))
    with open(path, "r+b") as f:
        f.seek(offset)
        f.write(bytes(min(4096, size - offset)))


def truncate(path, n):
    with open(path, "r+b") as f:
        f.truncate(n)


def replace_with(path, kind):
    os.remove(path)
    if kind == "directory":
        os.mkdir(path)
    elif kind == "FIFO":
        os.mkfifo(path)
    else:
        os.symlink(kind, path)


def meta_offsets(path):
    """Structural bytes of a file's metadata: (what, offset). The first
    4 KiB: the first byte, a digest of dgpg's integrity table where the file
    has one (a checkpoint's HDF5 user block), byte 1200; then HDF5's own:
    the superblock (wherever the signature is), the first object header or
    B-tree node after it, and attribute names."""
    head = open(path, "rb").read(65536)
    out = [("the first byte", 0)]
    k = head.find(b"dataset actor_params ")
    if 0 <= k < 4096:
        out.append(("the integrity table's actor_params digest", head.index(b"\n", k) - 5))
    out.append(("byte 1200 of the first 4 KiB", 1200))
    sig = head.find(b"\x89HDF\r\n\x1a\n")
    if sig >= 0:
        out.append((f"the superblock at {sig}", sig + 13))
        for marker in (b"OHDR", b"TREE", b"SNOD"):
            k = head.find(marker, sig)
            if k >= 0:
                out.append((f"the first {marker.decode()} node", k + 6))
                break
        for name in (b"kind", b"next_episode", b"n_agents"):
            k = head.find(name, sig)
            if k >= 0:
                out.append((f"attribute name '{name.decode()}'", k + 1))
    return out


def data_offset(path, dataset):
    """Byte offset of a dataset's data (its first chunk if chunked) and its size."""
    with h5py.File(path, "r") as f:
        ds = f[dataset]
        off = ds.id.get_offset()
        if off is None:
            info = ds.id.get_chunk_info(0)
            return info.byte_offset, info.size
        return off, ds.id.get_storage_size()


def corruption_variants(base_dir, other_dir):
    """(id, file, description, class, damage function, extra names, commands)."""
    variants = []
    ckpt_cmds = ("resume", "eval", "init_from")
    log_cmds = ("resume", "report")
    for fname, cmds in (("checkpoint.h5", ckpt_cmds), ("log.h5", log_cmds)):
        src = os.path.join(base_dir, fname)
        size = os.path.getsize(src)
        for n in (0, 33, size // 2, size - 1):
            variants.append((fname, f"truncated to {n} of {size} bytes",
                             "empty" if n == 0 else "damaged",
                             lambda p, n=n: truncate(p, n), [], cmds))
        for what, off in meta_offsets(src):
            variants.append((fname, f"bit 2 flipped at byte {off}, {what}", "damaged",
                             lambda p, off=off: flip(p, off, 2), [], cmds))
        if fname == "checkpoint.h5":
            datasets = ["actor_params", "actor_adam_m", "actor_adam_v", "critic_params",
                        "critic_adam_m", "critic_adam_v", "value_norm"]
        else:
            datasets = ["episode/reward", "snapshot/actor_params"]
        for ds in datasets:
            off, nbytes = data_offset(src, ds)
            at = off + (nbytes // 2 // 8) * 8 + 2  # a mantissa byte mid-data
            if ds == "episode/reward":
                at = off + 8 + 2  # episode 2's reward (the chunk holds unused rows)
            variants.append((fname, f"bit 4 flipped in {ds}'s data (byte {at})", "data",
                             lambda p, at=at: flip(p, at, 4), [ds.split("/")[-1]], cmds))
        for off, what in ((0, "0"), (4096, "4096"), ((size // 2) // 4096 * 4096, "middle"),
                          (size - 4096, "end")):
            variants.append((fname, f"4 KiB zeroed at {what} (byte {max(0, off)})", "damaged",
                             lambda p, off=off: zero_block(p, off), [], cmds))
        other = os.path.join(other_dir, fname)
        variants.append((fname, "another run's file (algo.hidden 32)", "wrong",
                         lambda p, other=other: shutil.copy(other, p), [],
                         ("resume",) if fname == "log.h5" else cmds))
        for kind in ("directory", "FIFO", "/dev/zero", "/dev/null"):
            label = f"symlink to {kind}" if kind.startswith("/") else kind
            variants.append((fname, f"{label} in its place", "special",
                             lambda p, kind=kind: replace_with(p, kind), [], cmds))
    return variants


def judge(r, cls, names):
    bad = clean_exit_problems(r, names)
    if r.hung:
        return bad
    low = r.err.lower()
    if cls in ("damaged", "data", "empty"):
        words = ("damaged", "truncated", "empty") if cls == "empty" else ("damaged", "truncated")
        if not any(w in low for w in words):
            bad.append(f"not called {' or '.join(words)}")
        if "missing" in low or "no readable" in low:
            bad.append("called missing / not readable")
    if cls == "special" and "not a regular file" not in low:
        bad.append("not called 'not a regular file'")
    return bad


def test_corruption(dgpg, scratch):
    t_start = time.monotonic()
    env_stop = {"DGPG_TEST_STOP_AFTER": "2"}
    r1 = run(dgpg, ["train", "--set", "train.name=cbase"] + BASE, scratch, env=env_stop)
    r2 = run(dgpg, ["train", "--set", "train.name=cother", "--set", "algo.hidden=32"] + BASE,
             scratch, env=env_stop)
    check("corruption: base runs (stopped after 2 of 6 episodes)", r1.rc == 0 and r2.rc == 0,
          r1.first_line() + " | " + r2.first_line())
    if r1.rc != 0 or r2.rc != 0:
        return
    base, other = os.path.join(scratch, "runs/cbase"), os.path.join(scratch, "runs/cother")
    # the undamaged base passes every command (so a refusal below is the damage's doing)
    good = os.path.join(scratch, "runs/cgood")
    shutil.copytree(base, good)
    jobs = [("undamaged", "resume", ["train", "--resume", "runs/cgood"]),
            ("undamaged", "eval", ["eval", "--policy", "run:runs/cbase", "--scenarios", "2"]
             + EVAL_ENV),
            ("undamaged", "init_from", ["train", "--set", "train.name=cgood_init",
                                        "--set", "train.init_from=runs/cbase",
                                        "--set", "train.episodes=1"] + SMALL),
            ("undamaged", "report", ["report", "runs/cbase/log.h5", "--no-figures"])]
    with concurrent.futures.ThreadPoolExecutor(WORKERS) as pool:
        results = list(pool.map(lambda j: run(dgpg, j[2], scratch), jobs))
    for (_, cmd, _), r in zip(jobs, results):
        check(f"corruption: the undamaged run passes {cmd}", r.rc == 0,
              f"exit {r.rc}: {r.first_line()}")

    variants = corruption_variants(base, other)
    cases = []
    for k, (fname, desc, cls, damage, names, cmds) in enumerate(variants):
        vid = f"c{k:02d}"
        vdir = os.path.join(scratch, "runs", vid)
        shutil.rmtree(vdir, ignore_errors=True)
        shutil.copytree(base, vdir)
        damage(os.path.join(vdir, fname))
        for cmd in cmds:
            if cmd == "resume":
                args = ["train", "--resume", f"runs/{vid}"]
            elif cmd == "eval":
                args = ["eval", "--policy", f"run:runs/{vid}", "--scenarios", "2"] + EVAL_ENV
            elif cmd == "init_from":
                args = ["train", "--set", f"train.name={vid}_init",
                        "--set", f"train.init_from=runs/{vid}", "--set", "train.episodes=1"] + SMALL
            else:
                args = ["report", f"runs/{vid}/{fname}", "--no-figures"]
            cases.append((vid, fname, desc, cls, names, cmd, args))
    # one variant's commands in turn: a resume opens its log for writing,
    # and HDF5's file lock refuses a second process that opens it meanwhile
    by_variant = {}
    for index, case in enumerate(cases):
        by_variant.setdefault(case[0], []).append(index)
    results = [None] * len(cases)

    def run_variant(indices):
        for index in indices:
            results[index] = run(dgpg, cases[index][6], scratch)

    with concurrent.futures.ThreadPoolExecutor(WORKERS) as pool:
        list(pool.map(run_variant, by_variant.values()))
    hangs = failed = 0
    for (vid, fname, desc, cls, names, cmd, args), r in zip(cases, results):
        bad = judge(r, cls, [f"{vid}/{fname}"] + names)
        hangs += r.hung
        failed += bool(bad)
        rc = "hang" if r.hung else f"exit {r.rc}"
        check(f"corrupt {vid} {fname}: {desc} | {cmd}: refused cleanly", not bad,
              f"[{'; '.join(bad)}] ({rc}, {r.seconds:.2f} s) {r.first_line()}")
    print(f"# corruption: {len(variants)} variants, {len(cases)} commands, {failed} failed "
          f"({hangs} hangs), {time.monotonic() - t_start:.1f} s")


# ----------------------------------------------------------- 3. full disk


def sh(*cmd):
    return subprocess.run(list(cmd), capture_output=True, text=True)


def blocks(path):
    try:
        return os.stat(path).st_blocks * 512
    except OSError:
        return 0


def page_up(n):
    return (int(n) + 4095) // 4096 * 4096


class Tmpfs:
    """A tmpfs mounted at `path` for a with block; always unmounted."""

    def __init__(self, path, size):
        self.path, self.size = path, size

    def __enter__(self):
        os.makedirs(self.path, exist_ok=True)
        r = sh("mount", "-t", "tmpfs", "-o", f"size={self.size}", "tmpfs", self.path)
        if r.returncode != 0:
            raise OSError(f"mount -t tmpfs: {r.stderr.strip()}")
        return self

    def __exit__(self, *exc):
        r = sh("umount", self.path)
        if r.returncode != 0:
            sh("umount", "-l", self.path)
        return False


def full_disk_refusal(r, fname):
    bad = clean_exit_problems(r, [fname], max_lines=1)
    if not r.hung and r.rc is not None and r.rc > 0 and r.rc != 1:
        bad.append(f"exit {r.rc}, not 1")
    if not r.hung and "No space left on device" not in r.err:
        bad.append("no 'No space left on device'")
    return bad


def test_full_disk(dgpg, scratch):
    skip = None
    if os.geteuid() != 0:
        skip = "not root (mount needs it)"
    else:
        probe = os.path.join(scratch, "mnt_probe")
        try:
            with Tmpfs(probe, "64k"):
                pass
        except OSError as e:
            skip = str(e)
    if skip:
        check(f"full disk # SKIP {skip}", True)
        test_read_only(dgpg, scratch, can_mount=False)
        return
    t_start = time.monotonic()
    # block usage of a reference run of the same config, episode by episode
    usage = {}
    for k in (1, 2, 3, 4):
        r = run(dgpg, ["train", "--set", f"train.name=fsize{k}"] + BASE, scratch,
                env={"DGPG_TEST_STOP_AFTER": str(k)})
        d = os.path.join(scratch, f"runs/fsize{k}")
        usage[k] = (blocks(os.path.join(d, "log.h5")), blocks(os.path.join(d, "checkpoint.h5")),
                    blocks(os.path.join(d, "config.yaml")))
    cfg_b = max(u[2] for u in usage.values())
    ckpt_b = max(u[1] for u in usage.values())
    log = {k: u[0] for k, u in usage.items()}
    print(f"# full disk: reference usage config {cfg_b} B, checkpoint {ckpt_b} B, log after "
          "episodes 1-4: " + ", ".join(f"{log[k]} B" for k in (1, 2, 3, 4)))
    ref = run(dgpg, ["train", "--set", "train.name=fref"] + BASE, scratch, timeout=120)
    ref_dir = os.path.join(scratch, "runs/fref")
    cases = [
        ("a: no room for the log", page_up(cfg_b) + 4096, "log.h5", None),
        ("b: full at episode 3's log append", page_up(cfg_b + (log[2] + log[3]) / 2 + ckpt_b),
         "log.h5", 2),
        ("c: full while episode 4's checkpoint is written",
         page_up(cfg_b + log[4] + 1.5 * ckpt_b), "checkpoint.h5", 2),
    ]
    for k, (what, size, fname, good_episodes) in enumerate(cases):
        mnt = os.path.join(scratch, f"mnt_full{k}")
        name = f"full{k}"
        try:
            with Tmpfs(mnt, str(size)):
                r = run(dgpg, ["train", "--set", f"log.dir={mnt}", "--set", f"train.name={name}"]
                        + BASE, scratch)
                run_dir = os.path.join(mnt, name)
                eps = re.findall(r"^episode +(\d+)/", r.out, re.M)
                print(f"# full disk {what}: {size} B tmpfs; last episode reported "
                      f"{eps[-1] if eps else 'none'}, exit {r.rc}")
                print(f"# stderr: {r.err.strip()[:300]}")
                bad = full_disk_refusal(r, f"{name}/{fname}")
                check(f"full disk {what} ({size // 1024} KiB tmpfs): exit 1, one line naming "
                      f"{fname} with 'No space left on device', no HDF5 stack", not bad,
                      f"[{'; '.join(bad)}] (exit {r.rc}) {r.err.strip()[:300]}")
                left = os.path.exists(os.path.join(run_dir, "checkpoint.h5.tmp"))
                check(f"full disk {what}: no checkpoint.h5.tmp left", not left)
                if good_episodes is None:
                    continue
                try:
                    with h5py.File(os.path.join(run_dir, "checkpoint.h5"), "r") as f:
                        saved = int(f.attrs["next_episode"])
                    log_path = os.path.join(run_dir, "log.h5")
                    try:
                        n, how = read_log(log_path)["episode/reward"].shape[0], "plain open"
                    except OSError:  # the writer could not clear its mark
                        n = read_log(log_path, swmr_too=True)["episode/reward"].shape[0]
                        how = "SWMR read only"
                    print(f"# full disk {what}: log read with h5py ({how}), {n} episodes")
                    ok, detail = saved == good_episodes and n >= saved, \
                        f"checkpoint at {saved}, log {n} episodes"
                except Exception as e:  # noqa: BLE001
                    ok, detail = False, str(e)[:200]
                check(f"full disk {what}: checkpoint of episode {good_episodes} and the log "
                      "still open with h5py", ok, detail)
                copy = os.path.join(scratch, "runs", f"{name}_copy")
                shutil.rmtree(copy, ignore_errors=True)
                shutil.copytree(run_dir, copy, symlinks=True)
        except OSError as e:
            check(f"full disk {what}: tmpfs", False, str(e))
            continue
        r = run(dgpg, ["train", "--resume", f"runs/{name}_copy"], scratch)
        check(f"full disk {what}: the run copied to a roomy disk resumes to the end",
              r.rc == 0, f"exit {r.rc}: {r.first_line()}")
        if r.rc == 0 and ref.rc == 0:
            diffs = compare_runs(ref_dir, copy)
            check(f"full disk {what}: the resumed run equals the uninterrupted one bitwise",
                  not diffs, f"differing: {diffs[:6]}")
    test_read_only(dgpg, scratch, can_mount=True)
    print(f"# full disk and read-only: {time.monotonic() - t_start:.1f} s")


def test_read_only(dgpg, scratch, can_mount):
    """A read-only place: a new run and a resume refused cleanly; report and
    eval of a run there still work."""
    mnt = os.path.join(scratch, "mnt_ro")
    if not can_mount and os.geteuid() == 0:
        check("read-only directory # SKIP root ignores chmod and tmpfs cannot be mounted", True)
        return
    ctx = Tmpfs(mnt, "8m") if can_mount else None
    try:
        if ctx:
            ctx.__enter__()
        os.makedirs(os.path.join(mnt, "new"), exist_ok=True)
        r = run(dgpg, ["train", "--set", f"log.dir={mnt}", "--set", "train.name=ro"] + BASE,
                scratch, env={"DGPG_TEST_STOP_AFTER": "2"})
        check("read-only: a run prepared before the remount", r.rc == 0, r.first_line())
        if ctx:
            rr = sh("mount", "-o", "remount,ro", mnt)
            if rr.returncode != 0:
                check("read-only: remount,ro", False, rr.stderr.strip())
                return
        else:
            os.chmod(os.path.join(mnt, "new"), 0o555)
            os.chmod(os.path.join(mnt, "ro"), 0o555)
            for f in os.listdir(os.path.join(mnt, "ro")):
                os.chmod(os.path.join(mnt, "ro", f), 0o444)
        words = ("Read-only file system", "Permission denied")
        r = run(dgpg, ["train", "--set", f"log.dir={mnt}/new", "--set", "train.name=x"] + BASE,
                scratch)
        print(f"# stderr: {r.err.strip()[:300]}")
        bad = clean_exit_problems(r, ["new/x"])
        if not any(w in r.err for w in words):
            bad.append("no 'Read-only file system' / 'Permission denied'")
        check("read-only: a new run there refused cleanly naming the directory", not bad,
              f"[{'; '.join(bad)}] (exit {r.rc}) {r.first_line()}")
        r = run(dgpg, ["train", "--resume", f"{mnt}/ro"], scratch)
        print(f"# stderr: {r.err.strip()[:300]}")
        bad = clean_exit_problems(r, ["ro/"])
        if not any(w in r.err for w in words):
            bad.append("no 'Read-only file system' / 'Permission denied'")
        check("read-only: --resume of a run there refused cleanly naming its file", not bad,
              f"[{'; '.join(bad)}] (exit {r.rc}) {r.first_line()}")
        r = run(dgpg, ["report", f"{mnt}/ro/log.h5", "--no-figures"], scratch)
        check("read-only: report of its log works", r.rc == 0 and "2 episodes" in r.out,
              f"exit {r.rc}: {r.first_line()}")
        r = run(dgpg, ["eval", "--policy", f"run:{mnt}/ro", "--scenarios", "2"] + EVAL_ENV,
                scratch)
        check("read-only: eval of its checkpoint works", r.rc == 0,
              f"exit {r.rc}: {r.first_line()}")
    except OSError as e:
        check("read-only: setup", False, str(e))
    finally:
        if ctx:
            ctx.__exit__(None, None, None)
        elif os.path.isdir(mnt):
            for d, _, files in os.walk(mnt):
                os.chmod(d, 0o755)


# ------------------------------------------------------- 4. non-finite values


def test_nan(dgpg, scratch):
    ref = run(dgpg, ["train", "--set", "train.name=nref"] + BASE, scratch, timeout=120)
    ref2 = run(dgpg, ["train", "--set", "train.name=nref2"] + BASE, scratch,
               env={"DGPG_TEST_STOP_AFTER": "2"})
    check("nan: reference runs (6 episodes; stopped after 2)", ref.rc == 0 and ref2.rc == 0,
          ref.first_line())
    if ref.rc != 0 or ref2.rc != 0:
        return
    ref_dir = os.path.join(scratch, "runs/nref")
    r = run(dgpg, ["train", "--set", "train.name=nan3"] + BASE, scratch,
            env={"DGPG_TEST_INJECT_NAN": "3"})
    print(f"# stderr: {r.err.strip()[:300]}")
    bad = clean_exit_problems(r, ["episode 4", "actor.params"], max_lines=1)
    if not r.hung and r.rc != 1:
        bad.append(f"exit {r.rc}, not 1")
    check("nan: a NaN in episode 4's update stops the run: exit 1, one line naming the episode "
          "and the tensor, no HDF5 stack", not bad, f"[{'; '.join(bad)}] {r.err.strip()[:300]}")
    run_dir = os.path.join(scratch, "runs/nan3")
    try:
        a = read_checkpoint(os.path.join(scratch, "runs/nref2/checkpoint.h5"))
        b = read_checkpoint(os.path.join(run_dir, "checkpoint.h5"))
        diffs = [k for k in a if k not in b or not np.array_equal(np.asarray(a[k]),
                                                                     np.asarray(b[k]))]
        ok, detail = not diffs and int(b["@next_episode"]) == 2, f"differing: {diffs[:6]}"
    except Exception as e:  # noqa: BLE001
        ok, detail = False, str(e)[:200]
    check("nan: the checkpoint of episode 2 is intact (bitwise the uninterrupted run's)", ok,
          detail)
    try:
        good = read_log(os.path.join(ref_dir, "log.h5"))
        got = read_log(os.path.join(run_dir, "log.h5"))
        n = got["episode/reward"].shape[0]
        diffs = [k for k in got if k.startswith("episode/") and
                 k.split("/")[1] not in TIME_COLUMNS and
                 not np.array_equal(got[k], good[k][:n])]
        ok, detail = n == 3 and not diffs, f"{n} episodes; differing: {diffs[:6]}"
    except Exception as e:  # noqa: BLE001
        ok, detail = False, str(e)[:200]
    check("nan: the log opens with h5py and holds the 3 good episodes, as logged by the "
          "uninterrupted run", ok, detail)
    r = run(dgpg, ["train", "--resume", "runs/nan3"], scratch)
    check("nan: resumes from the checkpoint of episode 2", r.rc == 0, r.first_line())
    if r.rc == 0:
        diffs = compare_runs(ref_dir, run_dir)
        check("nan: the resumed run equals the uninterrupted one bitwise", not diffs,
              f"differing: {diffs[:6]}")
    r = run(dgpg, ["train", "--set", "train.name=nan0"] + BASE, scratch,
            env={"DGPG_TEST_INJECT_NAN": "0"})
    bad = clean_exit_problems(r, ["episode 1", "actor.params"], max_lines=1)
    if not r.hung and r.rc != 1:
        bad.append(f"exit {r.rc}, not 1")
    check("nan: a NaN in the first update: exit 1 naming episode 1", not bad,
          f"[{'; '.join(bad)}] {r.err.strip()[:300]}")
    run_dir = os.path.join(scratch, "runs/nan0")
    try:
        n = read_log(os.path.join(run_dir, "log.h5"))["episode/reward"].shape[0]
        ok = n == 0 and not os.path.exists(os.path.join(run_dir, "checkpoint.h5"))
        detail = f"{n} episodes logged, checkpoint: " \
                 f"{os.path.exists(os.path.join(run_dir, 'checkpoint.h5'))}"
    except Exception as e:  # noqa: BLE001
        ok, detail = False, str(e)[:200]
    check("nan: after a NaN in the first update, a readable log with no episodes and no "
          "checkpoint", ok, detail)


def main():
    dgpg, scratch = os.path.abspath(sys.argv[1]), os.path.abspath(sys.argv[2])
    if os.path.isdir(scratch):
        for d in os.listdir(scratch):  # a mount left by a killed earlier run
            if d.startswith("mnt_"):
                sh("umount", "-l", os.path.join(scratch, d))
    shutil.rmtree(scratch, ignore_errors=True)
    os.makedirs(scratch)
    t0 = time.monotonic()
    for part in (test_kill_soak, test_corruption, test_full_disk, test_nan):
        t = time.monotonic()
        part(dgpg, scratch)
        print(f"# {part.__name__}: {time.monotonic() - t:.1f} s", flush=True)
    print(f"# total {time.monotonic() - t0:.1f} s")
    return finish("reliability")


if __name__ == "__main__":
    sys.exit(main())
