"""Issue 25's goals, one verdict line each, printed the same way by every benchmark.

A benchmark builds :class:`Goal` values from what it measured and passes them
to :func:`print_goals`; ``python -m benchmarks`` gathers every module's goals
into one summary table at the end of the run. A verdict is printed, never
asserted: timings are not tests.
"""

from __future__ import annotations

import os
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Literal

_RECORDED: list[Goal] = []


@dataclass(frozen=True, slots=True)
class Goal:
    """One measured figure against its target: ``figure <op> target`` is the goal."""

    name: str
    figure: float
    target: float
    op: Literal["<=", ">="]
    unit: str = ""
    how: str = ""
    """One line on how the figure was measured (rounds, median, workload)."""

    @property
    def met(self) -> bool:
        return self.figure <= self.target if self.op == "<=" else self.figure >= self.target

    def line(self) -> str:
        verdict = "MET " if self.met else "MISSED"
        unit = f" {self.unit}" if self.unit else ""
        how = f"  ({self.how})" if self.how else ""
        figure = f"{self.figure:,.0f}" if abs(self.figure) >= 1000 else f"{self.figure:.3g}"
        return (
            f"{verdict:6} {self.name}: {figure}{unit}, goal {self.op} "
            f"{self.target:g}{unit}{how}"
        )


def print_goals(goals: Iterable[Goal]) -> None:
    """Print each goal's figure and verdict, and keep them for the run's summary."""
    for goal in goals:
        _RECORDED.append(goal)
        print(goal.line(), flush=True)


def recorded() -> list[Goal]:
    return list(_RECORDED)


def machine_load() -> str:
    """The machine's load averages and core count, printed before each round."""
    one, five, fifteen = os.getloadavg()
    return f"load {one:.2f} {five:.2f} {fifteen:.2f} on {os.cpu_count()} cores"
