"""One "ok - name" / "not ok - name: why" line per check, as tests/run.sh
counts them; `failed()` tells a script's exit status."""
_failures = 0


def report(name, cond, why=""):
    global _failures
    if cond:
        print(f"ok - {name}", flush=True)
    else:
        _failures += 1
        print(f"not ok - {name}: {why}", flush=True)


def failed():
    return _failures > 0


def ok(name, problem=None):
    """report() for scripts that name the problem, or None when there is none."""
    report(name, not problem, problem)
