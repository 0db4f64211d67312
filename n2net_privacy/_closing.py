"""``with obj:`` closes ``obj`` on the way out: one mixin instead of a copy per class."""

from __future__ import annotations

from typing import Protocol, Self

__all__ = ["ClosingContextManager"]


class _Closable(Protocol):
    def close(self) -> object: ...


class ClosingContextManager:
    """``__enter__`` gives the object back; ``__exit__`` calls ``close()``, however the block ends.

    A class whose ``__enter__`` does more (starts a server) overrides only that.
    """

    __slots__ = ()

    def __enter__(self) -> Self:
        return self

    def __exit__(self: _Closable, *exc_info: object) -> None:
        self.close()
