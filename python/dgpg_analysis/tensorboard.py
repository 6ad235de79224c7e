"""Training logs as TensorBoard event files: to_tensorboard(log, out_dir).

The converter reads the HDF5 log (finished, live or left by a killed run)
and writes each episode's scalars with tensorboardX's SummaryWriter, a
maintained writer of TensorBoard's event format that needs neither
TensorFlow nor PyTorch. dgpg itself writes no event files: the log is the
one record of a run, and the trainer stays free of a protobuf dependency;
`--follow` gives the live view while a job runs.
"""
import time

from ._files import LOG_KIND, complete_rows, open_file


def _writer(out_dir):
    try:
        from tensorboardX import SummaryWriter
    except ImportError:
        raise ImportError("to_tensorboard needs tensorboardX: pip install "
                          "'dgpg-analysis[tensorboard]' (or tensorboardX)") from None
    return SummaryWriter(logdir=out_dir)


def _write_new(path, writer, done):
    """Writes the complete episodes past `done`; returns the new count."""
    with open_file(path, LOG_KIND) as f:
        rows = complete_rows(f)
        if rows <= done:
            return done
        columns = {name: d[done:rows] for name, d in f["episode"].items()}
    for i in range(rows - done):
        for name, values in columns.items():
            writer.add_scalar(f"episode/{name}", float(values[i]), global_step=done + i + 1)
    writer.flush()
    return rows


def to_tensorboard(path, out_dir, follow=False, poll=2.0, idle=60.0):
    """Writes the log's per-episode scalars (tag "episode/NAME", step the
    episode, from 1) to TensorBoard event files in out_dir. With follow,
    keeps reading a live log every `poll` seconds until it has grown by no
    episode for `idle` seconds. Returns the episodes written."""
    writer = _writer(out_dir)
    try:
        done = _write_new(path, writer, 0)
        last_growth = time.monotonic()
        while follow and time.monotonic() - last_growth < idle:
            time.sleep(poll)
            now = _write_new(path, writer, done)
            if now > done:
                done, last_growth = now, time.monotonic()
    finally:
        writer.close()
    return done
