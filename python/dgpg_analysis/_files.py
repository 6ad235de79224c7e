"""Opening dgpg's HDF5 files: the one reader of their layout.

A training log (src/io/h5log.h), every dataset with `units` and
`description` attributes:
  /                 attrs kind = "dgpg training log", dgpg_version,
                    n_agents (N), n_actions (M), env_columns, created
  /config           attrs: the resolved config, "section.key" -> text
  /episode/NAME     (episodes,)        float64, one per scalar column
  /agent/NAME       (episodes, N[, M]) float32, per-agent tensors
  /snapshot/episode (snapshots,)       int64, episode of each snapshot
  /snapshot/NAME    (snapshots, size)  float32, parameter vectors

An eval table (`dgpg eval`): root attrs kind = "dgpg eval table",
dgpg_version, /config; /eval/policy (P,), /eval/scenario_seed (K), per
metric /eval/NAME (P, K) with NAME_mean and NAME_ci95 (P,).

Logs are opened with SWMR, so a log still being written, or left by a
killed run, reads up to its last complete episode.
"""
import math

import h5py
import numpy as np

LOG_KIND = "dgpg training log"
EVAL_KIND = "dgpg eval table"
# the file layout this package reads: a file of a later major version is
# refused rather than misread
FORMAT_MAJOR = 0


class DgpgFileError(Exception):
    """A file that is not a dgpg log or eval table, of a newer format, or
    damaged; the message names the file and what is wrong."""

    def __init__(self, path, problem):
        self.path = str(path)
        self.problem = problem
        super().__init__(f"{path}: {problem}")


def text(value):
    return value.decode() if isinstance(value, bytes) else str(value)


def open_file(path, kind):
    """The file opened read-only, its kind and format version checked. A
    plain open first: it fails at once on a damaged file, where a SWMR
    reader would retry its metadata reads for a long time; a log a writer
    holds open (a live run, or one killed) is then opened with SWMR, and
    reads up to its last flushed episode."""
    try:
        f = h5py.File(path, "r")
    except FileNotFoundError:
        raise DgpgFileError(path, "no such file") from None
    except (OSError, ValueError) as e:
        message = str(e).lower()
        if "already open for write" in message or "unable to lock file" in message:
            try:
                f = h5py.File(path, "r", libver="latest", swmr=True)
            except (OSError, ValueError) as e2:
                raise DgpgFileError(path, f"damaged: HDF5 cannot open it ({e2})") from None
        elif "signature" in message:
            raise DgpgFileError(path, "not an HDF5 file") from None
        else:
            raise DgpgFileError(path, f"damaged: HDF5 cannot open it ({e})") from None
    try:
        got = text(f.attrs["kind"]) if "kind" in f.attrs else None
        if got != kind:
            raise DgpgFileError(path, f"not a {kind} (its kind is {got!r})")
        version = text(f.attrs.get("dgpg_version", "0.0.0"))
        major = int(version.split(".")[0])
        if major > FORMAT_MAJOR:
            raise DgpgFileError(path, f"written by dgpg {version}, a newer format than this "
                                      f"package reads (major {FORMAT_MAJOR}); upgrade "
                                      "dgpg-analysis")
    except DgpgFileError:
        f.close()
        raise
    except (KeyError, ValueError, OSError) as e:
        f.close()
        raise DgpgFileError(path, f"damaged: its root attributes cannot be read ({e})") from None
    return f


def complete_rows(f):
    """Episodes every /episode and /agent dataset holds in full: a reader
    can catch an episode in flight (a dataset one row longer than another,
    or a last row of NaN, the datasets' fill value)."""
    datasets = list(f["episode"].values()) + list(f["agent"].values())
    if not datasets:
        return 0
    rows = min(d.shape[0] for d in datasets)
    while rows > 0 and any(np.isnan(d[rows - 1]).any() for d in datasets):
        rows -= 1
    return rows


def refresh(f):
    """Makes every dataset show what a live writer has flushed since."""
    for group in ("episode", "agent", "snapshot"):
        if group in f:
            for d in f[group].values():
                d.refresh()


def typed(value):
    """A config value as `dgpg config` prints it, as a Python value."""
    s = text(value)
    if s in ("true", "false"):
        return s == "true"
    for kind in (int, float):
        try:
            v = kind(s)
            return v if kind is int or math.isfinite(v) else s
        except ValueError:
            pass
    return s


def read_config(path, f):
    """The stored config: {"section.key": text}, as `dgpg config` prints it."""
    try:
        return {k: text(v) for k, v in f["config"].attrs.items()}
    except (KeyError, OSError) as e:
        raise DgpgFileError(path, f"damaged: /config cannot be read ({e})") from None


def attr_text(d, name):
    return text(d.attrs[name]) if name in d.attrs else ""
