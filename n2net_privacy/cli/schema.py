"""``n2net-privacy schema``: print the JSON Schema of wire contract v1, or its OpenAPI.

    n2net-privacy schema > n2net.events-1.schema.json
    n2net-privacy schema --openapi > n2net-ingest.openapi.json

The schema is generated from the pydantic models the SDK itself sends with,
so backend teams validate against exactly what devices produce. With
``--openapi`` the command prints the OpenAPI 3.1 document of
``POST /v1/events`` instead (:func:`n2net_privacy.openapi.openapi_document`):
headers, statuses, reply and error schemas and the sealed content type,
built from the same models. Output is pretty-printed JSON with sorted keys
on stdout, so it diffs cleanly between releases; the exit code is 0.
"""

from __future__ import annotations

import argparse
import json
import sys
from typing import TextIO

from n2net_privacy.uploader.wire import EVENTS_PATH, SCHEMA, json_schema

__all__ = ["register", "run"]


def register(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Add the ``schema`` subcommand."""
    parser = subparsers.add_parser(
        "schema",
        help=f"print the JSON Schema of the upload plaintext ({SCHEMA}), or --openapi",
        description=f"Print the JSON Schema of wire contract v1 ({SCHEMA}) on stdout.",
    )
    parser.add_argument(
        "--openapi", action="store_true",
        help=f"print the OpenAPI 3.1 document of POST {EVENTS_PATH} instead",
    )
    parser.set_defaults(handler=_handle)


def _handle(args: argparse.Namespace) -> int:
    return run(stdout=sys.stdout, openapi=args.openapi)


def run(*, stdout: TextIO, openapi: bool = False) -> int:
    """Write the schema (or the OpenAPI document) to ``stdout``; return the exit code."""
    if openapi:
        from n2net_privacy.openapi import openapi_document

        document = openapi_document()
    else:
        document = json_schema()
    stdout.write(json.dumps(document, indent=2, sort_keys=True) + "\n")
    return 0
