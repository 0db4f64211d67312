"""Names a package exports but loads only when first used.

A package whose ``__init__`` re-exports a class that imports httpx would load
the network stack for every pure name beside it (``gravatar_hash``,
``ServerKeyPair``). Such names go through :func:`lazy_names` instead: the
package's module ``__getattr__`` imports the defining module on first use.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable, Mapping
from typing import Any

__all__ = ["lazy_names"]


def lazy_names(
    package: str, namespace: dict[str, Any], lazy: Mapping[str, str]
) -> tuple[Callable[[str], Any], Callable[[], list[str]]]:
    """Return a package's ``(__getattr__, __dir__)`` for ``lazy``: name -> defining module.

    A resolved name is stored in ``namespace`` (the package's globals), so the
    import happens once.
    """

    def __getattr__(name: str) -> Any:
        module = lazy.get(name)
        if module is None:
            raise AttributeError(f"module {package!r} has no attribute {name!r}")
        value = getattr(importlib.import_module(module), name)
        namespace[name] = value
        return value

    def __dir__() -> list[str]:
        return sorted(set(namespace) | set(lazy))

    return __getattr__, __dir__
