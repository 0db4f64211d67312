"""``n2net-privacy audit SCENARIO.json``: run a scripted scenario and report what left.

    n2net-privacy audit examples/scenarios/clean.json --out reports/

The scenario (format: docs/scenarios.md) runs on a simulated device against
loopback servers, with the egress auditor in record mode. Two reports are
written, ``<stem>.privacy-report.json`` and ``<stem>.privacy-report.html``
(in ``--out``, default the current directory; ``--json``/``--html`` name
either file instead, ``-`` meaning stdout), and the summary is printed. When
a report goes to stdout, the steps and the summary go to stderr, so stdout
holds the report alone (``audit --example clean --json - | jq .findings``).
Report files follow the CLI's output rules (``open_output``): written
atomically once the run is done, through a symlink, never over an input.

Exit codes: 0 the auditor found nothing; 1 at least one finding (each is
printed: rule, request, place, with the PII redacted); 2 no verdict: a bad
scenario file (``n2net-privacy audit: error: SCENARIO.json:LINE: what is
wrong`` on stderr), report paths that are refused (a directory, an input,
both reports on one path; checked before the run) or cannot be written, or
a run that stopped; 130 interrupted (no report written). Never a traceback.
``--schema`` prints the JSON Schema of the JSON report. ``--manifest PATH``
holds the run to a privacy manifest from ``n2net-privacy manifest``: traffic
it does not declare is a ``manifest.undeclared`` finding.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, TextIO

from n2net_privacy.cli._output import (
    OutputError,
    check_output,
    error,
    is_stdout,
    names_stdout,
    open_output,
)
from n2net_privacy.errors import N2NetPrivacyError, ScenarioError
from n2net_privacy.examples import EXAMPLE_SCENARIOS, scenario_path
from n2net_privacy.redact import scrub
from n2net_privacy.wording import plural

if TYPE_CHECKING:
    from n2net_privacy.audit.report import PrivacyReport
    from n2net_privacy.manifest import DeclaredManifest
    from n2net_privacy.scenario.loader import LoadedScenario
    from n2net_privacy.scenario.runner import StepOutcome

__all__ = ["check_reports", "register", "run", "verdict", "write_reports"]

EXIT_CLEAN = 0
EXIT_FINDINGS = 1
EXIT_BAD_INPUT = 2

REPORT_EPILOG = """\
exit codes:
  0    no finding
  1    at least one finding (each printed, personal data redacted)
  2    no verdict: {bad};
       a report path that is refused or cannot be written (checked before
       the run); or a run that stopped
  130  interrupted (Ctrl-C): no report was written

reports follow the CLI's output rules: written atomically once the run is done,
through a symlink, never over an input; - is stdout (see docs/cli.md)
"""


def register(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Add the ``audit`` subcommand."""
    parser = subparsers.add_parser(
        "audit",
        help="run a scripted scenario and write a JSON and an HTML privacy report",
        description="Run SCENARIO.json on a simulated device against loopback servers with\n"
        "the egress auditor watching, and write a JSON and an HTML privacy report.",
        epilog=REPORT_EPILOG.format(bad="a bad scenario file"),
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument(
        "scenario", metavar="SCENARIO.json", type=Path, nargs="?",
        help="the scenario to run (format: docs/scenarios.md), or use --example",
    )
    parser.add_argument(
        "--example", choices=EXAMPLE_SCENARIOS,
        help="run an example scenario that ships with the package instead of a file",
    )
    add_report_arguments(parser)
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


def add_report_arguments(parser: argparse.ArgumentParser) -> None:
    """``--out``, ``--json`` and ``--html``, shared by ``audit`` and ``audit-har``."""
    parser.add_argument(
        "--out", type=Path, default=Path("."), metavar="DIR",
        help="directory for <stem>.privacy-report.json and .html, created if needed "
        "(default: .)",
    )
    parser.add_argument(
        "--json", type=Path, metavar="PATH",
        help="write the JSON report here instead; - for stdout (then the summary goes to stderr)",
    )
    parser.add_argument(
        "--html", type=Path, metavar="PATH",
        help="write the HTML report here instead; - for stdout",
    )


def report_paths(args: argparse.Namespace, stem: str) -> tuple[Path, Path]:
    """Where the JSON and the HTML report go: ``--json``/``--html``, or ``--out/<stem>...``."""
    return (
        args.json or args.out / f"{stem}.privacy-report.json",
        args.html or args.out / f"{stem}.privacy-report.html",
    )


def human_stream(json_path: Path, html_path: Path) -> TextIO:
    """Where progress and the summary go: stderr when a report takes stdout."""
    return sys.stderr if names_stdout(json_path) or names_stdout(html_path) else sys.stdout


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
    json_path, html_path = report_paths(args, args.scenario.stem)
    return run(
        args.scenario,
        json_path=json_path,
        html_path=html_path,
        quiet=args.quiet,
        stdout=human_stream(json_path, html_path),
        stderr=sys.stderr,
        manifest=args.manifest,
    )


def _where(scenario: Path, exc: ScenarioError) -> str:
    return f"{scenario}:{exc.line}: {exc.problem}" if exc.line else f"{scenario}: {exc.problem}"


def _same_path(a: Path, b: Path) -> bool:
    if names_stdout(a) or names_stdout(b):
        return names_stdout(a) and names_stdout(b)
    try:
        return a.resolve() == b.resolve() or (a.exists() and b.exists() and a.samefile(b))
    except OSError:
        return False


def check_reports(json_path: Path, html_path: Path, inputs: Sequence[Path]) -> None:
    """Raise :class:`OutputError` now if the reports could not be written where asked."""
    if _same_path(json_path, html_path):
        where = "stdout" if names_stdout(json_path) else str(json_path)
        raise OutputError(f"{where}: the JSON and the HTML report would be the same file")
    for path in (json_path, html_path):
        check_output(path, inputs=inputs, make_parents=True)


def write_reports(
    report: PrivacyReport, json_path: Path, html_path: Path, inputs: Sequence[Path]
) -> None:
    """Write both reports through ``open_output``, a row at a time; raises :class:`OutputError`.

    The report's rows are streamed (``write_json``/``write_html``), so a report
    whose requests are spooled on disk (``audit-har``) never sits whole in memory.
    """
    with open_output(json_path, inputs=inputs, make_parents=True) as handle:
        report.write_json(handle)
        handle.write("\n")
    with open_output(html_path, inputs=inputs, make_parents=True) as handle:
        report.write_html(handle)


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
    try:
        check_reports(json_path, html_path, inputs)
    except OutputError as exc:
        return fail(str(exc))
    from n2net_privacy.manifest import load_manifest

    declared: DeclaredManifest | None = None
    if manifest is not None:
        try:
            declared = load_manifest(manifest)
        except N2NetPrivacyError as exc:
            return fail(str(exc))
    return _run_loaded(scenario, loaded, json_path=json_path, html_path=html_path,
                       inputs=inputs, show=show, stdout=stdout, fail=fail, manifest=declared)


def _run_loaded(
    scenario: Path, loaded: LoadedScenario, *, json_path: Path, html_path: Path,
    inputs: Sequence[Path], show: Callable[[StepOutcome], None], stdout: TextIO,
    fail: Callable[[str], int], manifest: DeclaredManifest | None = None,
) -> int:
    from n2net_privacy.scenario.runner import run_scenario

    try:
        stdout.write(f"scenario: {scenario} ({plural(len(loaded.scenario.steps), 'step')}, "
                     f"{plural(len(loaded.book), 'contact')})\n")
        report = run_scenario(loaded, on_step=show, manifest=manifest)
    except ScenarioError as exc:
        return fail(_where(scenario, exc))
    except (BrokenPipeError, OutputError):
        raise  # stdout went away or cannot be written: cli.main says so, once
    except (N2NetPrivacyError, OSError, RecursionError, ValueError) as exc:
        return fail(f"{scenario}: the run stopped: {type(exc).__name__}: {scrub(str(exc))}")
    try:
        write_reports(report, json_path, html_path, inputs)
    except OutputError as exc:
        return fail(str(exc))
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
    for path in (json_path, html_path):
        stdout.write(f"wrote {'stdout' if is_stdout(path) else path}\n")
    if report.clean:
        stdout.write(f"PASS: {passed}\n")
        return EXIT_CLEAN
    stdout.write(f"FAIL: {plural(len(report.findings), 'finding')}\n")
    return EXIT_FINDINGS
