"""Run every ``benchmarks/bench_*.py`` module's ``main()`` in turn, then the goals summary.

``python -m benchmarks`` runs them all; ``python -m benchmarks peers fleet idle
import`` runs those four, in that order, in one run. A benchmark that is not
there (``bench_fleet`` comes with the fleet work) is reported and skipped; one
that fails is reported with its traceback and the run goes on. The exit status
is 1 if any benchmark was missing or failed, never because a goal was missed:
timings are not tests.
"""

from __future__ import annotations

import importlib
import pkgutil
import sys
import time
import traceback

import benchmarks
from benchmarks._goals import recorded


def available() -> list[str]:
    """The short names of every ``bench_*`` module present, sorted."""
    return sorted(
        m.name.removeprefix("bench_")
        for m in pkgutil.iter_modules(benchmarks.__path__)
        if m.name.startswith("bench_")
    )


def main(argv: list[str]) -> int:
    present = available()
    wanted = argv or present
    problems: list[str] = []
    for short in wanted:
        name = f"bench_{short}"
        print(f"\n=== {name} ===", flush=True)
        if short not in present:
            print(f"--- {name} is not in benchmarks/: skipped", flush=True)
            problems.append(f"{name}: not present")
            continue
        started = time.perf_counter()
        try:
            importlib.import_module(f"benchmarks.{name}").main()
        except Exception as exc:
            traceback.print_exc()
            problems.append(f"{name}: failed ({type(exc).__name__})")
        print(f"--- {name} took {time.perf_counter() - started:.1f}s", flush=True)
    goals = recorded()
    if goals:
        print("\n=== goals (issue 25): figure and verdict ===")
        for goal in goals:
            print(goal.line())
    for problem in problems:
        print(f"NOT RUN {problem}")
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
