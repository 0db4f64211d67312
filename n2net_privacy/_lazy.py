"""Names a package exports but loads only when first used.

A package whose ``__init__`` re-exports a class that imports httpx would load
the network stack for every pure name beside it (``gravatar_hash``,
``ServerKeyPair``). Such names go through :func:`lazy_names` instead: the
package's module ``__getattr__`` imports the defining module on first use.
Names that left the package for one release (``moved``) resolve too, with a
DeprecationWarning (:func:`n2net_privacy._deprecated.moved_names`).
"""

from __future__ import annotations

import importlib
import sys
from collections.abc import Callable, Iterable, Mapping
from types import FrameType
from typing import Any

from n2net_privacy._deprecated import moved_names

__all__ = ["lazy_names", "public_dir"]


def lazy_names(
    package: str,
    namespace: dict[str, Any],
    lazy: Mapping[str, str],
    *,
    moved: Mapping[str, str] | None = None,
) -> tuple[Callable[[str], Any], Callable[[], list[str]]]:
    """Return a package's ``(__getattr__, __dir__)`` for ``lazy``: name -> defining module.

    A resolved name is stored in ``namespace`` (the package's globals), so the
    import happens once. A ``moved`` name (name -> its new module) is not
    stored and not listed: it warns once, then keeps resolving.
    """
    old_name = moved_names(package, moved or {})

    def __getattr__(name: str) -> Any:
        module = lazy.get(name)
        if module is None:
            return old_name(name)
        value = getattr(importlib.import_module(module), name)
        namespace[name] = value
        return value

    def __dir__() -> list[str]:
        return sorted(set(namespace) | set(lazy))

    return __getattr__, __dir__


def public_dir(namespace: dict[str, Any], public: Iterable[str]) -> Callable[[], list[str]]:
    """A top-level ``__dir__``: the public names and the module's dunders.

    Tab completion and ``dir()`` get every public name. pydoc gets the dunders
    only: it documents every class ``dir()`` lists, and the full API of every
    public class is a book (13,000 lines), not the page ``help(package)``
    should be, and the dunders would add ``__getattr__`` and the whole
    ``__all__``. So pydoc gets an empty list and shows the package docstring;
    ``help(package.Name)`` documents one name. Nothing but the caller tells
    the two apart.
    """
    names = frozenset(public)

    def __dir__() -> list[str]:
        own = {name for name in namespace if name.startswith("__") and name.endswith("__")}
        if _asked_by_pydoc(sys._getframe(1)):
            return []
        return sorted(own | names)

    return __dir__


def _asked_by_pydoc(frame: FrameType | None) -> bool:
    # dir() -> inspect.getmembers -> pydoc.docmodule: a few frames at most.
    for _ in range(6):
        if frame is None:
            return False
        if frame.f_globals.get("__name__") == "pydoc":
            return True
        frame = frame.f_back
    return False
