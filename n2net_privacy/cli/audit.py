"""``n2net-privacy audit SCENARIO.json``: run a scripted scenario and report what left.

    n2net-privacy audit examples/scenarios/clean.json --out reports/

The scenario (format: docs/scenarios.md) runs on a simulated device against
loopback servers, with the egress auditor in record mode. Two reports are
written, ``<stem>.privacy-report.json`` and ``<stem>.privacy-report.html``
(in ``--out``, default the current directory; ``--json``/``--html`` name
either file instead), and the summary is printed.

Exit codes: 0 the auditor found nothing; 1 at least one finding (each is
printed: rule, request, place, with the PII redacted); 2 no verdict: a bad
scenario file (``n2net-privacy audit: error: SCENARIO.json:LINE: what is
wrong`` on stderr), report paths that are not writable or equal an input
(checked before the run), or a run that stopped. Never a traceback.
``--schema`` prints the JSON Schema of the JSON report. ``--manifest PATH``
holds the run to a privacy manifest from ``n2net-privacy manifest``: traffic
it does not declare is a ``manifest.undeclared`` finding.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, TextIO

from n2net_privacy.cli._output import error
from n2net_privacy.errors import N2NetPrivacyError, ScenarioError
from n2net_privacy.examples import EXAMPLE_SCENARIOS, scenario_path
from n2net_privacy.redact import scrub
from n2net_privacy.wording import plural

if TYPE_CHECKING:
    from n2net_privacy.audit.report import PrivacyReport
    from n2net_privacy.manifest import DeclaredManifest
    from n2net_privacy.scenario.loader import LoadedScenario
    from n2net_privacy.scenario.runner import StepOutcome

__all__ = ["register", "run", "verdict"]

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
    parser.add_argument(
        "--manifest", type=Path, metavar="PATH",
        help="hold the run to a privacy manifest (PrivacyInfo.xcprivacy or Data safety JSON "
        "from `n2net-privacy manifest`): anything it does not declare is a "
        "manifest.undeclared finding",
    )
    parser.add_argument("-q", "--quiet", action="store_true", help="do not print each step")
    parser.add_argument(
        "--schema", action="store_true",
        help="print the JSON Schema of the JSON report (n2net.privacy-report/2) and exit",
    )
    parser.set_defaults(handler=_handle)


def _handle(args: argparse.Namespace) -> int:
    if args.schema:
        from n2net_privacy.audit.report_schema import report_json_schema

        sys.stdout.write(json.dumps(report_json_schema(), indent=2, sort_keys=True) + "\n")
        return EXIT_CLEAN
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
        manifest=args.manifest,
    )


def _where(scenario: Path, exc: ScenarioError) -> str:
    return f"{scenario}:{exc.line}: {exc.problem}" if exc.line else f"{scenario}: {exc.problem}"


def _same(a: Path, b: Path) -> bool:
    try:
        return a.resolve() == b.resolve() or (a.exists() and b.exists() and a.samefile(b))
    except OSError:
        return False


def _output_problem(outputs: list[Path], inputs: list[Path]) -> str | None:
    """Why the reports cannot be written where asked, checked before anything runs."""
    if _same(outputs[0], outputs[1]):
        return f"{outputs[0]}: the JSON and the HTML report would be the same file"
    for output in outputs:
        for source in inputs:
            if _same(output, source):
                return f"{output}: refusing to overwrite an input file with a report"
        if output.is_dir():
            return f"{output}: is a directory"
        parent = output.parent
        existing = parent
        while not existing.exists() and existing != existing.parent:
            existing = existing.parent
        if not existing.is_dir():
            return f"{output}: cannot create the directory {parent} ({existing} is a file)"
        target = output if output.exists() else existing
        if not os.access(target, os.W_OK):
            return f"{output}: not writable"
    return None


def run(
    scenario: Path,
    *,
    json_path: Path,
    html_path: Path,
    quiet: bool = False,
    stdout: TextIO,
    stderr: TextIO,
    manifest: Path | None = None,
) -> int:
    """Load, run and report on ``scenario``; return the exit code.

    Never raises and never prints a traceback: whatever stops the run before
    a verdict exits 2 with ``n2net-privacy audit: error: ...`` on stderr.
    """
    from n2net_privacy.scenario.loader import load_scenario

    def show(outcome: StepOutcome) -> None:
        if not quiet:
            stdout.write(f"{outcome}\n")

    def fail(message: str) -> int:
        error("audit", message, stderr)
        return EXIT_BAD_INPUT

    try:
        loaded = load_scenario(scenario)
    except ScenarioError as exc:
        return fail(_where(scenario, exc))
    inputs = [scenario]
    book_path = loaded.scenario.address_book.path
    if book_path is not None:
        inputs.append(scenario.parent / book_path)
    if manifest is not None:
        inputs.append(manifest)
    problem = _output_problem([json_path, html_path], inputs)
    if problem is not None:
        return fail(problem)
    from n2net_privacy.manifest import load_manifest

    declared: DeclaredManifest | None = None
    if manifest is not None:
        try:
            declared = load_manifest(manifest)
        except N2NetPrivacyError as exc:
            return fail(str(exc))
    return _run_loaded(scenario, loaded, json_path=json_path, html_path=html_path,
                       show=show, stdout=stdout, fail=fail, manifest=declared)


def _run_loaded(
    scenario: Path, loaded: LoadedScenario, *, json_path: Path, html_path: Path,
    show: Callable[[StepOutcome], None], stdout: TextIO, fail: Callable[[str], int],
    manifest: DeclaredManifest | None = None,
) -> int:
    from n2net_privacy.scenario.runner import run_scenario

    try:
        stdout.write(f"scenario: {scenario} ({plural(len(loaded.scenario.steps), 'step')}, "
                     f"{plural(len(loaded.book), 'contact')})\n")
        report = run_scenario(loaded, on_step=show, manifest=manifest)
    except ScenarioError as exc:
        return fail(_where(scenario, exc))
    except (N2NetPrivacyError, OSError, RecursionError, ValueError) as exc:
        return fail(f"{scenario}: the run stopped: {type(exc).__name__}: {scrub(str(exc))}")
    try:
        for path, text in ((json_path, report.to_json() + "\n"), (html_path, report.render_html())):
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(text, encoding="utf-8")
    except OSError as exc:
        return fail(f"cannot write the report: {exc.strerror} ({exc.filename})")
    return verdict(
        report, json_path, html_path, stdout,
        passed="no personal data left the device in a form the policy forbids",
    )


def verdict(
    report: PrivacyReport, json_path: Path, html_path: Path, stdout: TextIO, *, passed: str
) -> int:
    """Print the summary and the PASS/FAIL line of a written report; return the exit code."""
    for line in report.summary_lines():
        stdout.write(f"{line}\n")
    stdout.write(f"wrote {json_path}\nwrote {html_path}\n")
    if report.clean:
        stdout.write(f"PASS: {passed}\n")
        return EXIT_CLEAN
    stdout.write(f"FAIL: {plural(len(report.findings), 'finding')}\n")
    return EXIT_FINDINGS
