"""Command line: python -m dgpg_analysis tensorboard LOG --out DIR [--follow]."""
import argparse
import sys

from . import DgpgFileError, to_tensorboard


def main(argv=None):
    ap = argparse.ArgumentParser(prog="dgpg-analysis", description=__doc__)
    sub = ap.add_subparsers(dest="command", required=True)
    tb = sub.add_parser("tensorboard", help="a training log's scalars as TensorBoard events")
    tb.add_argument("log", help="runs/NAME/log.h5")
    tb.add_argument("--out", required=True, help="directory for the event files")
    tb.add_argument("--follow", action="store_true", help="keep reading a live log")
    tb.add_argument("--idle", type=float, default=60.0,
                    help="with --follow: stop after this many seconds without a new episode")
    args = ap.parse_args(argv)
    try:
        n = to_tensorboard(args.log, args.out, follow=args.follow, idle=args.idle)
    except (DgpgFileError, ImportError) as e:
        print(f"dgpg-analysis: {e}", file=sys.stderr)
        return 2
    print(f"dgpg-analysis: {n} episodes of {args.log} written to {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
