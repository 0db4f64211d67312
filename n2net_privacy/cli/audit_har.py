"""``n2net-privacy audit-har CAPTURE.har --contacts BOOK``: audit a real device's traffic.

    n2net-privacy audit-har capture.har --contacts book.vcf --out reports/

Runs every detector of the egress auditor over every entry of a HAR 1.2
capture (Chrome, Firefox, Safari, Charles, Proxyman, mitmproxy ``savehar``):
method, URL and query, headers, cookies, request body (``postData.text`` or
``params``) and response body (``text``, plain or ``encoding: base64``).
``BOOK`` is the address book on the test device, as vCard or JSON. A host
that ``--policy`` does not declare is a finding ("undeclared destination").
With ``--manifest`` (a file from ``n2net-privacy manifest``), SDK traffic the
privacy manifest does not declare is a ``manifest.undeclared`` finding.

The capture is read an entry at a time and the request rows of the report
are kept on disk and written out a row at a time, and a long body is searched
in 64 KiB windows, so peak memory is the fixed cost plus twice the largest
entry (its body as bytes and as text) plus about 2 MiB, plus the findings
(docs/qa-real-devices.md has the measured figures); on a terminal a progress
bar shows how far it got.
Every input is checked before the scan starts: the capture, the book, the
policy, the manifest, ``--region`` (refused as ``normalize`` refuses it) and
the report paths. Reports, their output rules (``--json -`` is stdout) and
exit codes are those of ``n2net-privacy audit``: 0 no finding, 1 findings
(each printed, redacted), 2 bad input (``n2net-privacy audit-har: error:
...``), 130 interrupted, never a traceback.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable
from contextlib import ExitStack
from pathlib import Path
from typing import TYPE_CHECKING, TextIO

from n2net_privacy.cli._output import OutputError, error
from n2net_privacy.cli.audit import (
    EXIT_BAD_INPUT,
    REPORT_EPILOG,
    add_report_arguments,
    check_reports,
    human_stream,
    report_paths,
    verdict,
    write_reports,
)
from n2net_privacy.cli.normalize import check_region
from n2net_privacy.errors import N2NetPrivacyError
from n2net_privacy.redact import scrub
from n2net_privacy.wording import plural

if TYPE_CHECKING:
    from n2net_privacy.audit.capture import CaptureAudit
    from n2net_privacy.audit.destinations import DestinationPolicy
    from n2net_privacy.contacts import Contact
    from n2net_privacy.manifest import DeclaredManifest

__all__ = ["register", "run"]



def register(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Add the ``audit-har`` subcommand."""
    parser = subparsers.add_parser(
        "audit-har",
        help="audit a HAR capture from a real device against its address book",
        description="Run every PII detector over every entry of CAPTURE.har and write the\n"
        "same JSON and HTML report as `audit`.",
        epilog=REPORT_EPILOG.format(
            bad="an unreadable capture, book or policy, or an unknown --region"
        ),
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument(
        "capture", metavar="CAPTURE.har", type=Path,
        help="a HAR 1.2 capture (Chrome, Firefox, Safari, Charles, Proxyman, mitmproxy)",
    )
    parser.add_argument(
        "--contacts",
        required=True,
        type=Path,
        metavar="BOOK",
        help="the device's address book: vCard (.vcf) or JSON",
    )
    parser.add_argument(
        "--policy",
        type=Path,
        metavar="POLICY.json",
        help="declared destinations (default: the SDK's own allowlist)",
    )
    parser.add_argument(
        "--gravatar",
        choices=("on", "off"),
        default="on",
        help="the app's Gravatar toggle during the capture; with off, any email hash is a "
        "finding (default: on)",
    )
    parser.add_argument(
        "--manifest", type=Path, metavar="PATH",
        help="hold the SDK's traffic to a privacy manifest (PrivacyInfo.xcprivacy or Data "
        "safety JSON from `n2net-privacy manifest`): anything it does not declare is a "
        "manifest.undeclared finding",
    )
    parser.add_argument(
        "--allow-loopback-http", action="store_true",
        help="accept plain HTTP to loopback (a lab capture of the reference servers)",
    )
    parser.add_argument(
        "--region", metavar="CC",
        help="ISO region of numbers stored in national form, e.g. US (default: none, "
        "such numbers are matched by their digits as typed)",
    )
    add_report_arguments(parser)
    parser.add_argument(
        "-q", "--quiet", action="store_true", help="no progress bar, no per-finding lines"
    )
    parser.set_defaults(handler=_handle)


def _handle(args: argparse.Namespace) -> int:
    json_path, html_path = report_paths(args, args.capture.stem)
    return run(
        args.capture,
        contacts=args.contacts,
        policy=args.policy,
        region=args.region,
        gravatar_enabled=args.gravatar == "on",
        allow_loopback_http=args.allow_loopback_http,
        manifest=args.manifest,
        json_path=json_path,
        html_path=html_path,
        quiet=args.quiet,
        stdout=human_stream(json_path, html_path),
        stderr=sys.stderr,
    )


def _progress(
    capture: Path, stack: ExitStack, quiet: bool, stderr: TextIO
) -> Callable[[int], None] | None:
    if quiet or not stderr.isatty():
        return None
    try:
        from tqdm import tqdm
    except ImportError:  # the cli extra is not installed: no bar, same result
        return None
    bar = stack.enter_context(
        tqdm(total=capture.stat().st_size, unit="B", unit_scale=True, desc="audit-har", file=stderr)
    )

    def update(done: int) -> None:
        bar.update(max(0, done - bar.n))

    return update


class _BadInput(Exception):
    """Why the audit cannot start or finish; becomes exit 2."""


def _inputs(
    capture: Path, contacts: Path, policy: Path | None, region: str | None,
    outputs: tuple[Path, Path], *, manifest: Path | None = None,
) -> tuple[tuple[Contact, ...], DestinationPolicy]:
    from n2net_privacy.audit.destinations import DestinationPolicy
    from n2net_privacy.scenario.loader import read_book_file, regular_file

    problem = check_region(region)
    if problem is not None:
        raise _BadInput(problem)
    problem = regular_file(capture, 1 << 62, "the capture")
    if problem is not None:
        raise _BadInput(f"{capture}: {problem}")
    try:
        check_reports(*outputs, _input_paths(capture, contacts, policy, manifest))
    except OutputError as exc:
        raise _BadInput(str(exc)) from exc
    try:
        book = read_book_file(contacts)
    except N2NetPrivacyError as exc:
        raise _BadInput(f"{contacts}: {exc}") from exc
    if not book:
        raise _BadInput(f"{contacts}: the address book has no contacts, so nothing could be found")
    try:
        rules = DestinationPolicy.load(policy) if policy else DestinationPolicy.sdk_default()
    except N2NetPrivacyError as exc:
        raise _BadInput(str(exc)) from exc
    return book, rules


def _manifest(path: Path | None) -> DeclaredManifest | None:
    from n2net_privacy.manifest import load_manifest

    if path is None:
        return None
    try:
        return load_manifest(path)
    except N2NetPrivacyError as exc:
        raise _BadInput(str(exc)) from exc


def _input_paths(
    capture: Path, contacts: Path, policy: Path | None, manifest: Path | None = None
) -> list[Path]:
    return [capture, contacts, *(p for p in (policy, manifest) if p is not None)]


def _scan(
    capture: Path, audit: CaptureAudit, *, quiet: bool, stdout: TextIO, stderr: TextIO
) -> int:
    from n2net_privacy.audit.har import OversizedEntry, iter_entries, to_exchange

    count = 0
    try:
        with ExitStack() as stack, capture.open("rb") as stream:
            on_progress = _progress(capture, stack, quiet, stderr)
            tick = (lambda _chars: on_progress(stream.tell())) if on_progress else None
            # No enumerate(): its reused result tuple would keep the last entry alive.
            for entry in iter_entries(stream, on_progress=tick):
                index, count = count, count + 1
                if isinstance(entry, OversizedEntry):
                    audit.oversized(entry)
                    continue
                exchange = to_exchange(entry, index)
                del entry  # the parsed JSON is not needed while the exchange is audited
                for finding in audit.audit(exchange):
                    if not quiet:
                        stdout.write(f"{finding.describe()}\n")
    except (BrokenPipeError, OutputError):
        raise  # stdout, not the capture: cli.main reports it
    except N2NetPrivacyError as exc:
        raise _BadInput(f"{capture}: {exc}") from exc
    except OSError as exc:
        raise _BadInput(f"{capture}: cannot read ({exc.strerror})") from exc
    return count



def run(
    capture: Path,
    *,
    contacts: Path,
    policy: Path | None,
    region: str | None = None,
    gravatar_enabled: bool = True,
    allow_loopback_http: bool = False,
    manifest: Path | None = None,
    json_path: Path,
    html_path: Path,
    quiet: bool = False,
    stdout: TextIO,
    stderr: TextIO,
) -> int:
    """Audit ``capture``; return the exit code. Never raises, never prints a traceback."""
    from n2net_privacy.audit.capture import CaptureAudit

    try:
        book, rules = _inputs(capture, contacts, policy, region, (json_path, html_path),
                              manifest=manifest)
        declared = _manifest(manifest)
    except _BadInput as problem:
        error("audit-har", scrub(str(problem)), stderr)
        return EXIT_BAD_INPUT
    audit = CaptureAudit(
        book, rules, region=region, gravatar_enabled=gravatar_enabled,
        allow_loopback_http=allow_loopback_http, spool=True, manifest=declared,
    )
    try:
        count = _scan(capture, audit, quiet=quiet, stdout=stdout, stderr=stderr)
        report = audit.report(title=f"N2Net privacy report: {capture.name}")
        write_reports(
            report, json_path, html_path, _input_paths(capture, contacts, policy, manifest)
        )
        stdout.write(
            f"capture: {capture} ({plural(count, 'entry', 'entries')}, "
            f"{plural(len(book), 'contact')})\n"
        )
        return verdict(
            report, json_path, html_path, stdout,
            passed="no personal data of the address book left the device",
        )
    except (_BadInput, OutputError) as problem:
        error("audit-har", scrub(str(problem)), stderr)
        return EXIT_BAD_INPUT
    finally:
        audit.close()
