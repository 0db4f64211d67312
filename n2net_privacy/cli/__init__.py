"""The ``n2net-privacy`` command line: ``demo``, ``audit``, ``manifest``, ``conformance`` and more.

Each subcommand lives in its own module with a ``register(subparsers)``
function that adds its parser and sets ``handler`` to a function taking the
parsed namespace and returning the exit code. Exit codes: 0 success, 1 the
job ran and found a problem (a privacy finding), 2 bad input or usage.
Errors are one line, ``n2net-privacy COMMAND: error: ...`` (see ``_output``).
"""

from __future__ import annotations

import argparse
import importlib
import sys
from collections.abc import Sequence

from n2net_privacy._version import __version__

__all__ = ["main"]

_SUBCOMMANDS = (
    "demo", "normalize", "schema", "audit", "audit-har", "mitm-addon-path", "keygen",
    "manifest", "conformance",
)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="n2net-privacy",
        description="Run, test and prove the N2Net Mobile contact privacy promises.",
        epilog="exit codes: 0 success, 1 a privacy finding, 2 bad input or usage. "
        "Run 'n2net-privacy COMMAND --help' for a command's options.",
    )
    parser.add_argument(
        "--version", action="version", version=f"%(prog)s {__version__}",
        help="print the version and exit",
    )
    subparsers = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    for name in _SUBCOMMANDS:
        try:
            module = importlib.import_module(f"n2net_privacy.cli.{name.replace('-', '_')}")
        except ModuleNotFoundError as exc:
            if exc.name != f"n2net_privacy.cli.{name.replace('-', '_')}":
                raise
            continue
        module.register(subparsers)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    code: int = args.handler(args)
    return code


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
