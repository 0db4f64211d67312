"""Old paths kept for one release: each warns once, naming its new path.

A moved module keeps a one-line alias module that calls :func:`moved`; a moved
name is resolved by its old package's module ``__getattr__`` through
:func:`moved_names`.
"""

from __future__ import annotations

import importlib
import warnings
from collections.abc import Callable, Mapping
from typing import Any

__all__ = ["moved", "moved_names"]


def _warn(old: str, new: str, stacklevel: int) -> None:
    warnings.warn(
        f"{old} is deprecated and will be removed in the next release; {new}",
        DeprecationWarning,
        stacklevel=stacklevel + 1,
    )


def moved(old: str, new: str) -> None:
    """Warn, from an alias module's body, that ``old`` is now ``new``.

    The warning points at the import statement that loaded the alias (the
    module body's ``stacklevel=2``), and a module body runs once, so it is
    given once.
    """
    _warn(old, f"import {new}", stacklevel=3)


def moved_names(package: str, moves: Mapping[str, str]) -> Callable[[str], Any]:
    """A resolver for names that left ``package``: ``moves`` maps name -> new module.

    Called from the package's module ``__getattr__``, it returns the very object
    the new module holds, and warns the first time each name is asked for,
    pointing at the line that asked. Unknown names raise AttributeError.
    """
    warned: set[str] = set()

    def resolve(name: str) -> Any:
        module = moves.get(name)
        if module is None:
            raise AttributeError(f"module {package!r} has no attribute {name!r}")
        value = getattr(importlib.import_module(module), name)
        if name not in warned:
            warned.add(name)
            # resolve <- the package's __getattr__ <- the line that asked.
            _warn(f"{package}.{name}", f"from {module} import {name}", stacklevel=3)
        return value

    return resolve
