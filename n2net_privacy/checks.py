"""The checks on what an app hands the SDK: argument types and ranges, use after close.

One helper per mechanism, so every public entry point words the same mistake
the same way:

* :func:`require_type`: a wrong type is an :class:`InvalidArgumentTypeError`
  (also a ``TypeError``);
* :func:`require_int`: an int out of range is an :class:`InvalidArgumentError`
  (also a ``ValueError``);
* :func:`ensure_open`: use after ``close()`` is a :class:`ClosedError`
  (``with obj:`` closing ``obj`` is :class:`~n2net_privacy._closing.ClosingContextManager`).

Every message names the parameter and what to pass, and never quotes the
value: it may be a phone number or an email address.

>>> require_type("raw", 2155552671, str, hint="pass it as text")
Traceback (most recent call last):
...
n2net_privacy.errors.InvalidArgumentTypeError: raw must be a str, not int; pass it as text
"""

from __future__ import annotations

from n2net_privacy.errors import ClosedError, InvalidArgumentError, InvalidArgumentTypeError

__all__ = [
    "describe_types",
    "ensure_open",
    "quoted",
    "require_int",
    "require_type",
]


def describe_types(types: type | tuple[type, ...]) -> str:
    """``str`` -> ``"a str"``; ``(str, Path)`` -> ``"a str or a Path"``."""
    names = [t.__name__ for t in (types if isinstance(types, tuple) else (types,))]
    return " or ".join(f"{'an' if name[0] in 'AEIOUaeiou' else 'a'} {name}" for name in names)


def quoted(value: object) -> str:
    """``value`` as it may appear in a message: a short name quoted, anything else not.

    ``'US'``, ``'nmae'`` and ``'sha1'`` help the reader; a value that could
    be a phone number or an email (swapped arguments) is never echoed.

    >>> quoted("nmae"), quoted("+12155552671"), quoted("ann@example.com")
    ("'nmae'", 'this value', 'this value')
    """
    if (
        isinstance(value, str)
        and 0 < len(value) <= 32
        and value.isascii()
        and value.replace("_", "").replace("-", "").isalnum()
        and sum(ch.isdigit() for ch in value) <= 3  # 'sha256', 'n2net_api'; never a number
    ):
        return repr(value)
    return "this value"


def require_type(
    name: str, value: object, types: type | tuple[type, ...], *, hint: str = ""
) -> None:
    """Raise :class:`InvalidArgumentTypeError` unless ``value`` is one of ``types``.

    ``True`` is not accepted where only ``int`` is: a bool there is a mistake.
    ``hint`` says what to do instead, when the fix is not obvious.
    """
    wanted = types if isinstance(types, tuple) else (types,)
    is_stray_bool = isinstance(value, bool) and bool not in wanted and int in wanted
    if isinstance(value, wanted) and not is_stray_bool:
        return
    message = f"{name} must be {describe_types(types)}, not {type(value).__name__}"
    raise InvalidArgumentTypeError(f"{message}; {hint}" if hint else message)


def require_int(name: str, value: object, low: int, high: int | None = None) -> int:
    """``value`` as an int in ``low..high`` (``high`` None: no upper bound), else raise.

    A wrong type is an :class:`InvalidArgumentTypeError` (``"20"`` is not 20);
    a value outside the range an :class:`InvalidArgumentError`.
    """
    require_type(name, value, int)
    assert isinstance(value, int)  # narrowed for mypy by the check above
    if value < low or (high is not None and value > high):
        wanted = f"from {low} to {high}" if high is not None else f">= {low}"
        raise InvalidArgumentError(f"{name} must be an int {wanted}, not {value}")
    return value


def ensure_open(closed: bool, name: str) -> None:
    """Raise :class:`ClosedError` naming ``name`` when ``closed`` is set."""
    if closed:
        raise ClosedError(name)
