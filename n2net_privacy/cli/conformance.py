"""``n2net-privacy conformance``: check a live ingest against wire contract v1, black box.

    n2net-privacy conformance https://ingest.example --app-key "$APP_KEY" \\
        --server-key k1=@k1.pub.pem --server-key k2=@k2.pub.pem \\
        --junit conformance.xml --json conformance.json

Every check of :mod:`n2net_privacy.testing.conformance` runs (or those
``--only`` names), through the SDK's egress door, sealed with the SDK's own
code. Exit codes: 0 every check passed (skips allowed), 1 a check failed,
2 bad input (a URL, key, pattern or path that cannot be used).
"""

from __future__ import annotations

import argparse
import ssl
import sys
from pathlib import Path
from typing import TextIO
from urllib.parse import urlsplit

from n2net_privacy.atomic_write import os_error_name, write_atomically
from n2net_privacy.cli._output import PROG, error
from n2net_privacy.egress import Egress, EgressPolicy, Purpose
from n2net_privacy.egress_policy import is_loopback
from n2net_privacy.errors import ConfigurationError
from n2net_privacy.testing.conformance import (
    DEFAULT_OVERSIZE_BYTES,
    Report,
    Target,
    Verdict,
    json_report,
    junit_xml,
    run_conformance,
    select,
)
from n2net_privacy.testing.fleet import parse_server_keys
from n2net_privacy.uploader.sealing import ServerKey
from n2net_privacy.wording import plural

__all__ = ["register", "run"]

EXIT_BAD_INPUT = 2
_COMMAND = "conformance"
_STDOUT = "-"
_EPILOG = """\
exit codes:
  0  every check passed (skipped checks do not fail a run)
  1  at least one check failed
  2  bad input: a URL, server key, --only pattern, CA file or report path that cannot be used

examples:
  n2net-privacy conformance https://ingest.staging.example --app-key "$APP_KEY" \\
      --server-key k1=@k1.pub.pem --junit conformance.xml
  n2net-privacy conformance https://127.0.0.1:8443 --ca ca.pem --app-key app-key \\
      --server-key k1=@k1.pub.pem --server-key k2=BASE64 --only 'idempotency-*' --json -
"""


class _BadInput(ConfigurationError):
    """Stop with exit code 2; the message is the one line the user sees."""


def register(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Add the ``conformance`` subcommand."""
    parser = subparsers.add_parser(
        _COMMAND,
        help="check a live ingest against wire contract v1 (JUnit XML and JSON for CI)",
        description="Run the black-box conformance checks of wire contract v1 against the\n"
        "ingest at URL (the base URL an app gives the SDK; the kit posts to URL/v1/events).",
        epilog=_EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("url", metavar="URL", help="the ingest's base URL, https://")
    parser.add_argument("--app-key", required=True, metavar="KEY", help="the app key it accepts")
    parser.add_argument(
        "--server-key", required=True, action="append", metavar="ID=@PUB.pem|ID=BASE64",
        help="a server public key it holds: the PEM keygen prints, or the raw key in base64;"
        " repeat it (current first) for the rotation checks",
    )
    parser.add_argument("--junit", metavar="PATH", help="write JUnit XML here ('-': stdout)")
    parser.add_argument("--json", metavar="PATH", help="write the JSON report here ('-': stdout)")
    parser.add_argument(
        "--only", metavar="PATTERN",
        help="run only the checks whose names match: comma-separated globs, e.g. 'idempotency-*'",
    )
    parser.add_argument(
        "--ca", type=Path, metavar="PATH",
        help="trust the CA certificates in PATH (PEM) instead of the system's",
    )
    parser.add_argument(
        "--allow-loopback-http", action="store_true",
        help="accept an http:// URL to a loopback address (a local reference server);"
        " the TLS check is then skipped",
    )
    parser.add_argument(
        "--oversize-bytes", type=int, default=DEFAULT_OVERSIZE_BYTES, metavar="N",
        help=f"size of the body the 413 check sends (default {DEFAULT_OVERSIZE_BYTES:,},"
        " more than the reference server's 1 MiB limit)",
    )
    parser.set_defaults(handler=_handle)


def _handle(args: argparse.Namespace) -> int:
    return run(args, stdout=sys.stdout, stderr=sys.stderr)


def _policy(url: str, allow_loopback_http: bool) -> EgressPolicy:
    """The door's policy for this one target: its host and port, https unless told."""
    parts = urlsplit(url)
    try:
        port = parts.port
    except ValueError:
        raise _BadInput("URL has an invalid port") from None
    host = parts.hostname or ""
    if parts.scheme not in ("https", "http") or not host:
        raise _BadInput("URL must be https://HOST[:PORT][/PATH]")
    if parts.username is not None or parts.query or parts.fragment:
        raise _BadInput("URL must carry no user info, query or fragment")
    plain = parts.scheme == "http"
    if plain and not (allow_loopback_http and is_loopback(host)):
        raise _BadInput(
            "URL must be https://; plain http:// is accepted only to a loopback address"
            " with --allow-loopback-http"
        )
    entry = host if port is None else f"[{host}]:{port}" if ":" in host else f"{host}:{port}"
    return EgressPolicy({Purpose.N2NET_API: frozenset({entry})}, test_mode=plain)


def _keys(values: list[str]) -> tuple[ServerKey, ...]:
    keys: list[ServerKey] = []
    for value in values:
        try:
            keys.extend(parse_server_keys(value))
        except ConfigurationError as exc:
            raise _BadInput(f"--server-key: {exc}") from None
    if not keys:
        raise _BadInput("--server-key: give at least one key, ID=@PUB.pem or ID=BASE64")
    return tuple(keys)


def _trust(ca: Path | None) -> ssl.SSLContext | None:
    if ca is None:
        return None
    try:
        return ssl.create_default_context(cafile=str(ca))
    except (OSError, ssl.SSLError) as exc:
        raise _BadInput(f"--ca: cannot load {ca} ({type(exc).__name__})") from None


def _check_outputs(junit: str | None, json_path: str | None) -> None:
    if junit == _STDOUT and json_path == _STDOUT:
        raise _BadInput("--junit and --json cannot both write to stdout")
    for flag, path in (("--junit", junit), ("--json", json_path)):
        if path is not None and path != _STDOUT and Path(path).is_dir():
            raise _BadInput(f"{flag}: {path} is a directory")


def write_report(path: str, data: bytes, stdout: TextIO) -> None:
    """Write one report: ``-`` is stdout, anything else is replaced atomically.

    Raises :class:`ConfigurationError` naming the path when it cannot be written.
    """
    if path == _STDOUT:
        stdout.write(data.decode("utf-8"))
        stdout.flush()
        return
    try:
        write_atomically(path, data, mode=0o644)
    except OSError as exc:
        raise _BadInput(f"cannot write {path}: {os_error_name(exc)}") from None


_MARKS = {Verdict.PASSED: "PASS", Verdict.FAILED: "FAIL", Verdict.SKIPPED: "SKIP"}


def _summary(report: Report, out: TextIO) -> None:
    for result in report.results:
        note = f": {result.message}" if result.message else ""
        out.write(f"{_MARKS[result.verdict]} {result.name}{note}\n")
    out.write(
        f"{PROG} {_COMMAND}: {plural(len(report.results), 'check')} against {report.target}:"
        f" {report.count(Verdict.PASSED)} passed, {report.count(Verdict.FAILED)} failed,"
        f" {report.count(Verdict.SKIPPED)} skipped\n"
    )
    out.flush()


def run(args: argparse.Namespace, *, stdout: TextIO, stderr: TextIO) -> int:
    """Check the inputs, run the kit, print and write the reports; return the exit code."""
    try:
        policy = _policy(args.url, args.allow_loopback_http)
        keys = _keys(args.server_key)
        try:
            select(args.only)
        except ConfigurationError as exc:
            raise _BadInput(str(exc)) from None
        _check_outputs(args.junit, args.json)
        verify = _trust(args.ca)
        try:
            target = Target(args.url, args.app_key, keys, oversize_bytes=args.oversize_bytes)
        except ConfigurationError as exc:
            raise _BadInput(str(exc)) from None
        egress = Egress(policy, verify=verify)
        with egress.client(Purpose.N2NET_API, timeout=target.request_timeout_s) as client:
            report = run_conformance(target, client, only=args.only)
        _summary(report, stderr if _STDOUT in (args.junit, args.json) else stdout)
        if args.junit is not None:
            write_report(args.junit, junit_xml(report), stdout)
        if args.json is not None:
            write_report(args.json, json_report(report), stdout)
    except _BadInput as exc:
        error(_COMMAND, str(exc), stderr)
        return EXIT_BAD_INPUT
    return report.exit_code
