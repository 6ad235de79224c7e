"""Tests meant for the CPU pin it: the default config's backend.kind is
auto, which picks CUDA where a device is visible (the device run), and a
CPU test must stay a CPU test there. pinned(args) adds
`--set backend.kind=cpu` to a train, eval or bench command line that does
not choose a backend itself (a resumed run keeps its stored config)."""

COMMANDS = ("train", "eval", "bench")


def pinned(args):
    args = list(args)
    if not args or args[0] not in COMMANDS or "--resume" in args:
        return args
    if any(a.startswith("backend.kind=") or a == "--backend" for a in args):
        return args
    return args + ["--set", "backend.kind=cpu"]
