"""``n2net-privacy manifest``: write the SDK's privacy labels for the app's configuration.

    n2net-privacy manifest --ios PrivacyInfo.xcprivacy --android data-safety.json
    n2net-privacy manifest --no-gravatar --oblivious --markdown -

By default every feature is on, because a label declares what the SDK *may*
collect; ``--no-uploader``, ``--no-gravatar`` and ``--oblivious`` describe
the app's configuration. ``--ios`` writes the privacy manifest (an XML
property list), ``--android`` the Google Play Data safety answers (JSON),
``--markdown`` a table for the app's privacy policy. ``-`` means stdout.
Files are replaced atomically. Exit codes: 0 written, 2 bad usage or a file
that cannot be written (``n2net-privacy manifest: error: ...``).
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from n2net_privacy.atomic_write import write_atomically
from n2net_privacy.cli._output import error

__all__ = ["register"]

_OUTPUTS = ("ios", "android", "markdown")


def register(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Add the ``manifest`` subcommand."""
    parser = subparsers.add_parser(
        "manifest",
        help="write the SDK's privacy labels (PrivacyInfo.xcprivacy, Play Data safety)",
        description="Build the SDK's privacy declarations from the app's configuration. "
        "Every feature is on unless turned off. '-' writes to stdout. "
        "Exit codes: 0 written, 2 bad usage.",
    )
    parser.add_argument("--no-uploader", action="store_true",
                        help="the app does not send SMS/call events to the N2Net ingest")
    parser.add_argument("--no-gravatar", action="store_true",
                        help="the app does not offer Gravatar avatars")
    parser.add_argument("--oblivious", action="store_true",
                        help="every SDK request goes through an Oblivious HTTP relay")
    parser.add_argument("--ios", metavar="PATH",
                        help="write the iOS privacy manifest (PrivacyInfo.xcprivacy) here")
    parser.add_argument("--android", metavar="PATH",
                        help="write the Google Play Data safety answers (JSON) here")
    parser.add_argument("--markdown", metavar="PATH",
                        help="write a Markdown table for the app's privacy policy here")
    parser.set_defaults(handler=_handle)


def write_output(target: str, data: bytes) -> None:
    """Write ``data`` to ``target`` (``-``: stdout), replacing a file atomically."""
    if target == "-":
        sys.stdout.buffer.write(data)
        sys.stdout.flush()
        return
    write_atomically(Path(target), data, mode=0o644)


def _handle(args: argparse.Namespace) -> int:
    from n2net_privacy.manifest import (
        ManifestConfig,
        data_safety_json,
        ios_plist,
        privacy_table_markdown,
    )

    targets = {name: getattr(args, name) for name in _OUTPUTS if getattr(args, name)}
    if not targets:
        error("manifest", "give at least one of --ios PATH, --android PATH, --markdown PATH",
              sys.stderr)
        return 2
    paths = list(targets.values())
    if paths.count("-") > 1:
        error("manifest", "only one output can go to stdout ('-')", sys.stderr)
        return 2
    files = [Path(p).resolve() for p in paths if p != "-"]
    if len(set(files)) != len(files):
        error("manifest", "two outputs name the same file", sys.stderr)
        return 2
    config = ManifestConfig(
        uploader=not args.no_uploader, gravatar=not args.no_gravatar, oblivious=args.oblivious
    )
    build = {
        "ios": lambda: ios_plist(config),
        "android": lambda: data_safety_json(config).encode("utf-8"),
        "markdown": lambda: privacy_table_markdown(config).encode("utf-8"),
    }
    for name, target in targets.items():
        try:
            write_output(target, build[name]())
        except OSError as exc:
            error("manifest", f"{target}: cannot write ({exc.strerror})", sys.stderr)
            return 2
        if target != "-":
            sys.stderr.write(f"wrote {target}\n")
    return 0
