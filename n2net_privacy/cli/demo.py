"""``n2net-privacy demo``: the whole policy, told by the running code.

Inputs are checked before anything runs: ``--contacts`` must lie in the
range the demo's claims are proven for (``MIN_CONTACTS`` to
``MAX_CONTACTS``), and ``--report-dir`` must be, or be creatable as, a
writable directory (not a file, not a device). Either mistake is one line
and exit 2. The reports are written through ``open_output``, atomically.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any

from n2net_privacy.cli._output import error

__all__ = ["register"]

_EPILOG = """\
exit codes:
  0    every claim held and the egress auditor found nothing
  1    a claim failed (each is printed after FAILED:)
  2    bad input: --contacts out of range, or a --report-dir that cannot be written
  130  interrupted (Ctrl-C): no report was written
"""


def register(subparsers: Any) -> None:
    from n2net_privacy.demo import MAX_CONTACTS, MIN_CONTACTS

    parser: argparse.ArgumentParser = subparsers.add_parser(
        "demo",
        help="walk through every privacy promise on simulated Android and iOS",
        description="Run the end-to-end story against simulated platforms and loopback\n"
        "servers, with the egress auditor watching. Exits 0 only when every claim held.",
        epilog=_EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument(
        "--contacts", type=_contacts, default=2_000, metavar="N",
        help=f"synthetic address-book size, {MIN_CONTACTS:,} to {MAX_CONTACTS:,} "
        "(default: %(default)s)",
    )
    parser.add_argument(
        "--seed", type=int, default=2026, help="synthetic data seed (default: %(default)s)"
    )
    parser.add_argument(
        "--report-dir",
        type=Path,
        default=Path("n2net-privacy-report"),
        metavar="DIR",
        help="where to write privacy-report.html and .json, created if needed "
        "(default: %(default)s)",
    )
    parser.set_defaults(handler=_run)


def _contacts(text: str) -> int:
    from n2net_privacy.demo import check_contacts
    from n2net_privacy.errors import InvalidArgumentError

    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"must be a whole number, not {text!r}") from None
    try:
        check_contacts(value)
    except InvalidArgumentError as exc:
        raise argparse.ArgumentTypeError(str(exc).removeprefix("contacts ")) from None
    return value


def _run(args: argparse.Namespace) -> int:
    from n2net_privacy.demo import run_demo
    from n2net_privacy.errors import InvalidArgumentError

    try:
        return run_demo(
            sys.stdout, contacts=args.contacts, seed=args.seed, report_dir=args.report_dir
        )
    except InvalidArgumentError as exc:
        error("demo", str(exc), sys.stderr)
        return 2
