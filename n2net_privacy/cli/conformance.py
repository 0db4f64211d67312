"""``n2net-privacy conformance``: check a live ingest against wire contract v1, black box.

    n2net-privacy conformance https://ingest.example --app-key "$APP_KEY" \\
        --server-key k1=@k1.pub.pem --server-key k2=@k2.pub.pem \\
        --junit conformance.xml --json conformance.json

    n2net-privacy conformance --ohttp-gateway https://gateway.example/gateway

Every check of :mod:`n2net_privacy.testing.conformance` runs (or those
``--only`` names), through the SDK's egress door, sealed with the SDK's own
code; ``--ohttp-gateway`` adds (or, without URL, runs only) the Oblivious
HTTP gateway checks. Exit codes: 0 every check passed (skips allowed), 1 a
check failed, 2 bad input (a URL, key, pattern or path that cannot be used).
"""

from __future__ import annotations

import argparse
import fnmatch
import os
import ssl
import sys
from collections.abc import Callable
from pathlib import Path
from typing import TextIO
from urllib.parse import urlsplit

from n2net_privacy.atomic_write import os_error_name, write_atomically
from n2net_privacy.cli._output import PROG, error
from n2net_privacy.egress import Egress, EgressPolicy, Purpose
from n2net_privacy.egress.policy import is_loopback
from n2net_privacy.errors import ConfigurationError
from n2net_privacy.testing.conformance import (
    CHECKS,
    DEFAULT_OVERSIZE_BYTES,
    CheckResult,
    Report,
    Target,
    Verdict,
    json_report,
    junit_xml,
    run_conformance,
)
from n2net_privacy.testing.conformance.gateway import (
    GATEWAY_CHECKS,
    GatewayTarget,
    run_gateway_conformance,
)
from n2net_privacy.testing.conformance.runner import patterns
from n2net_privacy.testing.load.fleet import parse_server_keys
from n2net_privacy.uploader.wire.seal import ServerKey
from n2net_privacy.wording import plural

__all__ = ["register", "run"]

EXIT_BAD_INPUT = 2
_COMMAND = "conformance"
_STDOUT = "-"
_APP_KEY_ENV = "N2NET_APP_KEY"
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
  n2net-privacy conformance --ohttp-gateway https://gateway.example/gateway \\
      --ohttp-keys https://relay.example/ohttp-keys --junit gateway.xml
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
    parser.add_argument(
        "url", metavar="URL", nargs="?", help="the ingest's base URL, https://"
    )
    parser.add_argument(
        "--app-key", metavar="KEY", default=os.environ.get(_APP_KEY_ENV) or None,
        help=f"the app key it accepts (with URL); default: ${_APP_KEY_ENV}, which keeps"
        " the key out of the process list",
    )
    parser.add_argument(
        "--server-key", action="append", metavar="ID=@PUB.pem|ID=BASE64",
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
    parser.add_argument(
        "--ohttp-gateway", metavar="URL",
        help="also check this Oblivious HTTP gateway resource (RFC 9458); URL may then be left out",
    )
    parser.add_argument(
        "--ohttp-keys", metavar="URL",
        help="where the gateway's application/ohttp-keys are served"
        " (default: /ohttp-keys on the gateway's origin)",
    )
    parser.set_defaults(handler=_handle)


def _handle(args: argparse.Namespace) -> int:
    return run(args, stdout=sys.stdout, stderr=sys.stderr)


def _policy(url: str, allow_loopback_http: bool, purpose: Purpose) -> EgressPolicy:
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
    return EgressPolicy({purpose: frozenset({entry})}, test_mode=plain)


def _keys(values: list[str] | None) -> tuple[ServerKey, ...]:
    keys: list[ServerKey] = []
    for value in values or ():
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


def _only(only: str | None, ingest: bool, gateway: bool) -> tuple[str | None, str | None]:
    """``--only`` for each suite: the globs that match it, or "" when none does."""
    names = [c.name for c in CHECKS if ingest] + [c.name for c in GATEWAY_CHECKS if gateway]
    try:
        globs = patterns(only, names)
    except ConfigurationError as exc:
        raise _BadInput(str(exc)) from None
    if globs is None:
        return None, None

    def part(checks: tuple[str, ...]) -> str:
        return ",".join(g for g in globs if any(fnmatch.fnmatchcase(n, g) for n in checks))

    return (part(tuple(c.name for c in CHECKS)) if ingest else "",
            part(tuple(c.name for c in GATEWAY_CHECKS)) if gateway else "")


def _ingest(args: argparse.Namespace, only: str | None) -> Callable[[], Report]:
    """Check the ingest inputs now; return the run, for later."""
    policy = _policy(args.url, args.allow_loopback_http, Purpose.N2NET_API)
    if not args.app_key:
        raise _BadInput(f"--app-key is required with URL (or set {_APP_KEY_ENV})")
    keys = _keys(args.server_key)
    try:
        target = Target(args.url, args.app_key, keys, oversize_bytes=args.oversize_bytes)
    except ConfigurationError as exc:
        raise _BadInput(str(exc)) from None
    egress = Egress(policy, verify=_trust(args.ca))

    def run_ingest() -> Report:
        with egress.client(Purpose.N2NET_API, timeout=target.request_timeout_s) as client:
            return run_conformance(target, client, only=only)

    return run_ingest


def _gateway(args: argparse.Namespace, only: str | None) -> Callable[[], Report]:
    """Check the gateway inputs now; return the run, for later."""
    target = GatewayTarget.at(args.ohttp_gateway, args.ohttp_keys)
    policies = [
        _policy(url, args.allow_loopback_http, Purpose.OHTTP_RELAY)
        for url in (target.gateway_url, target.keys_url)
    ]
    merged = EgressPolicy(
        {Purpose.OHTTP_RELAY: frozenset().union(
            *(policy.allowed_hosts[Purpose.OHTTP_RELAY] for policy in policies)
        )},
        test_mode=any(policy.test_mode for policy in policies),
    )
    egress = Egress(merged, verify=_trust(args.ca))

    def run_gateway() -> Report:
        with egress.client(Purpose.OHTTP_RELAY, timeout=target.request_timeout_s) as client:
            return run_gateway_conformance(target, client, only=only)

    return run_gateway


def run(args: argparse.Namespace, *, stdout: TextIO, stderr: TextIO) -> int:
    """Check the inputs, run the kit, print and write the reports; return the exit code."""
    try:
        if args.url is None and args.ohttp_gateway is None:
            raise _BadInput("give the ingest's URL, --ohttp-gateway URL, or both")
        if args.url is None and args.server_key:
            raise _BadInput("--server-key goes with the ingest's URL")
        if args.url is not None and not args.server_key:
            raise _BadInput("--server-key: give at least one key, ID=@PUB.pem or ID=BASE64")
        ingest_only, gateway_only = _only(
            args.only, args.url is not None, args.ohttp_gateway is not None
        )
        _check_outputs(args.junit, args.json)
        runs: list[Callable[[], Report]] = []
        if args.url is not None and ingest_only != "":
            runs.append(_ingest(args, ingest_only))
        if args.ohttp_gateway is not None and gateway_only != "":
            runs.append(_gateway(args, gateway_only))
        reports = [run_suite() for run_suite in runs]
        results: tuple[CheckResult, ...] = tuple(r for rep in reports for r in rep.results)
        report = Report(" and ".join(rep.target for rep in reports), results)
        _summary(report, stderr if _STDOUT in (args.junit, args.json) else stdout)
        if args.junit is not None:
            write_report(args.junit, junit_xml(report), stdout)
        if args.json is not None:
            write_report(args.json, json_report(report), stdout)
    except _BadInput as exc:
        error(_COMMAND, str(exc), stderr)
        return EXIT_BAD_INPUT
    return report.exit_code
