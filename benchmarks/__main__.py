"""Run every ``benchmarks/bench_*.py`` module's ``main()`` in turn.

``python -m benchmarks`` runs them all; ``python -m benchmarks phone`` runs
only ``bench_phone``.
"""

from __future__ import annotations

import importlib
import pkgutil
import sys
import time

import benchmarks
from benchmarks._goals import recorded


def main(argv: list[str]) -> int:
    names = sorted(
        m.name for m in pkgutil.iter_modules(benchmarks.__path__) if m.name.startswith("bench_")
    )
    wanted = {f"bench_{a}" for a in argv}
    for name in names:
        if wanted and name not in wanted:
            continue
        print(f"\n=== {name} ===", flush=True)
        started = time.perf_counter()
        importlib.import_module(f"benchmarks.{name}").main()
        print(f"--- {name} took {time.perf_counter() - started:.1f}s", flush=True)
    goals = recorded()
    if goals:
        print("\n=== goals (issue 25): figure and verdict ===")
        for goal in goals:
            print(goal.line())
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
