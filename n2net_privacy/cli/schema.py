"""``n2net-privacy schema``: print the JSON Schema of wire contract v1.

    n2net-privacy schema > n2net.events-1.schema.json

The schema is generated from the pydantic models the SDK itself sends with,
so backend teams validate against exactly what devices produce. Output is
pretty-printed JSON with sorted keys on stdout, so it diffs cleanly between
releases; the exit code is 0.
"""

from __future__ import annotations

import argparse
import json
import sys
from typing import TextIO

from n2net_privacy.uploader.wire import SCHEMA, json_schema

__all__ = ["register", "run"]


def register(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Add the ``schema`` subcommand."""
    parser = subparsers.add_parser(
        "schema",
        help=f"print the JSON Schema of the upload plaintext ({SCHEMA})",
        description=f"Print the JSON Schema of wire contract v1 ({SCHEMA}) on stdout.",
    )
    parser.set_defaults(handler=_handle)


def _handle(args: argparse.Namespace) -> int:
    return run(stdout=sys.stdout)


def run(*, stdout: TextIO) -> int:
    """Write the schema to ``stdout``; return the exit code."""
    stdout.write(json.dumps(json_schema(), indent=2, sort_keys=True) + "\n")
    return 0
