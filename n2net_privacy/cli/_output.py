"""The one way a CLI command reports an error: ``n2net-privacy CMD: error: ...``.

Every subcommand prints its failures through :func:`error`, so the prefix is
the same everywhere (argparse's own usage errors use the same shape) and
pydantic's wording is translated into the user's terms on the way out.
"""

from __future__ import annotations

from typing import TextIO

from n2net_privacy.wording import in_user_terms

__all__ = ["PROG", "error", "error_line"]

PROG = "n2net-privacy"


def error_line(command: str | None, message: str) -> str:
    """``n2net-privacy CMD: error: MESSAGE`` (one line, no trailing newline)."""
    prefix = f"{PROG} {command}" if command else PROG
    return f"{prefix}: error: {in_user_terms(' '.join(message.split()))}"


def error(command: str | None, message: str, stderr: TextIO) -> None:
    """Write :func:`error_line` to ``stderr``."""
    stderr.write(error_line(command, message) + "\n")
