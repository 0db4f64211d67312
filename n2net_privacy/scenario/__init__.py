"""Scripted QA scenarios: a JSON file in, a privacy report out.

A scenario file (see docs/scenarios.md) names a platform, an address book,
the user's answers to permission prompts and a list of steps. It is checked
strictly and every problem is reported with its line
(:func:`load_scenario`), then run on a simulated device against loopback
servers with the egress auditor watching (:func:`run_scenario`)::

    loaded = load_scenario("examples/scenarios/clean.json")
    report = run_scenario(loaded, on_step=print)
    assert report.clean, report.summary_lines()

``n2net-privacy audit SCENARIO.json`` is the same, from a terminal.
"""

from __future__ import annotations

from n2net_privacy.scenario.loader import LoadedScenario, load_scenario, parse_scenario
from n2net_privacy.scenario.model import STEP_TYPES, Scenario
from n2net_privacy.scenario.runner import StepOutcome, run_scenario

__all__ = [
    "STEP_TYPES",
    "LoadedScenario",
    "Scenario",
    "StepOutcome",
    "load_scenario",
    "parse_scenario",
    "run_scenario",
]
