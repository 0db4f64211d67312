"""``n2net-privacy demo``: the whole policy, told by the running code."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any

__all__ = ["register"]


def register(subparsers: Any) -> None:
    parser: argparse.ArgumentParser = subparsers.add_parser(
        "demo",
        help="walk through every privacy promise on simulated Android and iOS",
        description="Run the end-to-end story against simulated platforms and loopback "
        "servers. Exits 0 only when every claim held.",
    )
    parser.add_argument("--contacts", type=int, default=2_000, help="address-book size")
    parser.add_argument("--seed", type=int, default=2026, help="synthetic data seed")
    parser.add_argument(
        "--report-dir",
        type=Path,
        default=Path("n2net-privacy-report"),
        help="where to write privacy-report.html and .json (default: %(default)s)",
    )
    parser.set_defaults(handler=_run)


def _run(args: argparse.Namespace) -> int:
    from n2net_privacy.demo import run_demo

    return run_demo(
        sys.stdout, contacts=args.contacts, seed=args.seed, report_dir=args.report_dir
    )
