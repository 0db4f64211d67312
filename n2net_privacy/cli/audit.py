"""``n2net-privacy audit SCENARIO.json``: run a scripted scenario and report what left.

    n2net-privacy audit examples/scenarios/clean.json --out reports/

The scenario (format: docs/scenarios.md) runs on a simulated device against
loopback servers, with the egress auditor in record mode. Two reports are
written, ``<stem>.privacy-report.json`` and ``<stem>.privacy-report.html``
(in ``--out``, default the current directory; ``--json``/``--html`` name
either file instead), and the summary is printed.

Exit codes: 0 the auditor found nothing; 1 at least one finding (each is
printed: rule, request, place, with the PII redacted); 2 a bad scenario
file (``SCENARIO.json:LINE: what is wrong`` on stderr) or unwritable reports.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import TextIO

from n2net_privacy.cli._output import error
from n2net_privacy.errors import ScenarioError
from n2net_privacy.examples import EXAMPLE_SCENARIOS, scenario_path
from n2net_privacy.wording import plural

__all__ = ["register", "run"]

EXIT_CLEAN = 0
EXIT_FINDINGS = 1
EXIT_BAD_INPUT = 2


def register(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Add the ``audit`` subcommand."""
    parser = subparsers.add_parser(
        "audit",
        help="run a scripted scenario and write a JSON and an HTML privacy report",
        description="Run SCENARIO.json on a simulated device against loopback servers with "
        "the egress auditor watching. Exits 0 with no findings, 1 on any finding, 2 on a "
        "bad scenario file.",
    )
    parser.add_argument("scenario", metavar="SCENARIO.json", type=Path, nargs="?")
    parser.add_argument(
        "--example", choices=EXAMPLE_SCENARIOS,
        help="run an example scenario that ships with the package instead of a file",
    )
    parser.add_argument(
        "--out", type=Path, default=Path("."), metavar="DIR",
        help="directory for <stem>.privacy-report.json and .html (default: .)",
    )
    parser.add_argument("--json", type=Path, metavar="PATH", help="write the JSON report here")
    parser.add_argument("--html", type=Path, metavar="PATH", help="write the HTML report here")
    parser.add_argument("-q", "--quiet", action="store_true", help="do not print each step")
    parser.set_defaults(handler=_handle)


def _handle(args: argparse.Namespace) -> int:
    if (args.scenario is None) == (args.example is None):
        error("audit", "give either SCENARIO.json or --example NAME", sys.stderr)
        return EXIT_BAD_INPUT
    if args.example is not None:
        args.scenario = scenario_path(args.example)
    stem = args.scenario.stem
    return run(
        args.scenario,
        json_path=args.json or args.out / f"{stem}.privacy-report.json",
        html_path=args.html or args.out / f"{stem}.privacy-report.html",
        quiet=args.quiet,
        stdout=sys.stdout,
        stderr=sys.stderr,
    )


def _where(scenario: Path, exc: ScenarioError) -> str:
    return f"{scenario}:{exc.line}: {exc.problem}" if exc.line else f"{scenario}: {exc.problem}"


def run(
    scenario: Path,
    *,
    json_path: Path,
    html_path: Path,
    quiet: bool = False,
    stdout: TextIO,
    stderr: TextIO,
) -> int:
    """Load, run and report on ``scenario``; return the exit code."""
    from n2net_privacy.scenario.loader import load_scenario
    from n2net_privacy.scenario.runner import StepOutcome, run_scenario

    def show(outcome: StepOutcome) -> None:
        if not quiet:
            stdout.write(f"{outcome}\n")

    try:
        loaded = load_scenario(scenario)
        stdout.write(f"scenario: {scenario} ({plural(len(loaded.scenario.steps), 'step')}, "
                     f"{plural(len(loaded.book), 'contact')})\n")
        report = run_scenario(loaded, on_step=show)
    except ScenarioError as exc:
        error("audit", _where(scenario, exc), stderr)
        return EXIT_BAD_INPUT
    try:
        for path, text in ((json_path, report.to_json() + "\n"), (html_path, report.render_html())):
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(text, encoding="utf-8")
    except OSError as exc:
        error("audit", f"cannot write the report: {exc.strerror} ({exc.filename})", stderr)
        return EXIT_BAD_INPUT
    for line in report.summary_lines():
        stdout.write(f"{line}\n")
    stdout.write(f"wrote {json_path}\nwrote {html_path}\n")
    if report.clean:
        stdout.write("PASS: no personal data left the device in a form the policy forbids\n")
        return EXIT_CLEAN
    stdout.write(f"FAIL: {plural(len(report.findings), 'finding')}\n")
    return EXIT_FINDINGS
