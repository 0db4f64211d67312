"""``n2net-privacy mitm-addon-path``: print where the mitmproxy addon file is.

mitmdump -s "$(n2net-privacy mitm-addon-path)" --set n2net_contacts=book.vcf
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

__all__ = ["addon_path", "register"]


def addon_path() -> Path:
    """The addon module inside the installed SDK (not imported: it needs mitmproxy)."""
    import n2net_privacy.audit

    return Path(n2net_privacy.audit.__file__).resolve().parent / "mitm_addon.py"


def register(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Add the ``mitm-addon-path`` subcommand."""
    parser = subparsers.add_parser(
        "mitm-addon-path",
        help="print the path of the mitmproxy addon, for mitmdump -s",
        description="Print the path of the n2net-privacy mitmproxy addon. Use it as "
        '`mitmdump -s "$(n2net-privacy mitm-addon-path)" --set n2net_contacts=book.vcf`.',
    )
    parser.set_defaults(handler=lambda _args: _print())


def _print() -> int:
    sys.stdout.write(f"{addon_path()}\n")
    return 0
