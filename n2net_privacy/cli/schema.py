"""``n2net-privacy schema``: print the JSON Schema of wire contract v1, or its OpenAPI.

    n2net-privacy schema > n2net.events-1.schema.json
    n2net-privacy schema --openapi -o n2net-ingest.openapi.json

The schema is generated from the pydantic models the SDK itself sends with,
so backend teams validate against exactly what devices produce. With
``--openapi`` the command prints the OpenAPI 3.1 document of
``POST /v1/events`` instead (:func:`n2net_privacy.openapi.openapi_document`):
headers, statuses, reply and error schemas and the sealed content type,
built from the same models. Output is pretty-printed JSON with sorted keys,
so it diffs cleanly between releases, on stdout or in the file ``-o`` names
(written by the CLI's one output helper, ``open_output``: atomically, or as
a stream for a device). The exit code is 0, or 2 if the output cannot be
written.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import TextIO

from n2net_privacy.cli._output import open_output
from n2net_privacy.uploader.wire import EVENTS_PATH, SCHEMA, json_schema

__all__ = ["register", "run"]


def register(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Add the ``schema`` subcommand."""
    parser = subparsers.add_parser(
        "schema",
        help=f"print the JSON Schema of the upload plaintext ({SCHEMA}), or --openapi",
        description=f"Print the JSON Schema of wire contract v1 ({SCHEMA}) on stdout,\n"
        "or write it to -o PATH.",
        epilog="exit codes:\n"
        "  0    written\n"
        "  2    the output is refused or cannot be written (see docs/cli.md)\n",
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument(
        "--openapi", action="store_true",
        help=f"print the OpenAPI 3.1 document of POST {EVENTS_PATH} instead",
    )
    parser.add_argument(
        "-o", "--output", type=Path, default=Path("-"), metavar="PATH",
        help="write here instead of stdout, replacing the file atomically (default: -, stdout)",
    )
    parser.set_defaults(handler=_handle)


def _handle(args: argparse.Namespace) -> int:
    return run(stdout=sys.stdout, openapi=args.openapi, output=args.output)


def run(*, stdout: TextIO, openapi: bool = False, output: Path | None = None) -> int:
    """Write the schema (or the OpenAPI document) to ``output`` (default ``stdout``).

    Returns the exit code; an output that cannot be written raises
    :class:`~n2net_privacy.cli._output.OutputError`, which ``cli.main`` reports.
    """
    if openapi:
        from n2net_privacy.openapi import openapi_document

        document = openapi_document()
    else:
        document = json_schema()
    with open_output(output, stdout=stdout) as handle:
        handle.write(json.dumps(document, indent=2, sort_keys=True) + "\n")
    return 0
