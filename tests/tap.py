"""The Python tests' checks, as the C tests print them (tests/test.h):
`ok - NAME` or `not ok - NAME DETAIL`, then `LABEL: P passed, F failed`."""
counts = {"passed": 0, "failed": 0}


def check(name, ok, detail=""):
    counts["passed" if ok else "failed"] += 1
    print(("ok - " if ok else "not ok - ") + name + ("" if ok else f" {detail}"), flush=True)


def finish(label):
    """Prints the summary; the exit code: 0 if every check passed."""
    print(f"{label}: {counts['passed']} passed, {counts['failed']} failed")
    return 0 if counts["failed"] == 0 else 1

