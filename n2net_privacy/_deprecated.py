"""Old module paths kept for one release: each warns once, naming its new path."""

from __future__ import annotations

import warnings

__all__ = ["moved"]


def moved(old: str, new: str) -> None:
    """Warn, from an alias module's body, that ``old`` is now ``new``.

    The warning points at the import statement that loaded the alias (the
    module body's ``stacklevel=2``), and a module body runs once, so it is
    given once.
    """
    warnings.warn(
        f"{old} is deprecated and will be removed in the next release; import {new}",
        DeprecationWarning,
        stacklevel=3,
    )
