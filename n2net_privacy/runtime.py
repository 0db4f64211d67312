"""What a component reads from the world besides its input: time, waiting, randomness.

One :class:`Runtime` is passed to every component that needs any of them, so
a test injects one fake of each and nothing is monkeypatched (principle 5).
Each name means one thing everywhere in the SDK:

* ``clock``: the wall time, as an aware UTC :class:`~datetime.datetime`
  (event timestamps, ``Retry-After`` dates, lease expiries shared by processes);
* ``monotonic``: seconds on a clock that never jumps, for intervals and deadlines;
* ``wait``: wait on a held :class:`threading.Condition` for at most ``timeout``
  seconds (``None``: until notified), the one way an SDK thread sleeps;
* ``rng``: the random source of backoff jitter.

>>> import random
>>> from datetime import UTC, datetime
>>> Runtime(clock=lambda: datetime(2026, 1, 1, tzinfo=UTC), rng=random.Random(7)).clock()
datetime.datetime(2026, 1, 1, 0, 0, tzinfo=datetime.timezone.utc)
"""

from __future__ import annotations

import random
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime

from n2net_privacy.checks import require_type
from n2net_privacy.errors import InvalidArgumentError, InvalidArgumentTypeError

__all__ = [
    "Clock",
    "Monotonic",
    "Runtime",
    "Wait",
    "checked_now",
    "epoch_seconds",
    "require_clock",
    "utc_now",
    "wait_on",
]

Clock = Callable[[], datetime]
"""The wall time, aware UTC."""
Monotonic = Callable[[], float]
"""Seconds on a clock that never goes back."""
Wait = Callable[[threading.Condition, float | None], object]
"""Wait on a held condition for at most ``timeout`` seconds (None: until notified)."""


def utc_now() -> datetime:
    """The real :data:`Clock`."""
    return datetime.now(UTC)


_CLOCK_CONTRACT = "clock must return an aware UTC datetime"


def require_clock(clock: object, name: str = "clock") -> Clock:
    """``clock`` itself, checked to be callable: a component's constructor calls this."""
    if not callable(clock):
        raise InvalidArgumentTypeError(
            f"{name} must be a callable returning an aware UTC datetime "
            f"(e.g. n2net_privacy.runtime.utc_now), not {type(clock).__name__}"
        )
    return clock


def checked_now(clock: Clock) -> datetime:
    """Call ``clock`` and return its reading, checked to be an aware UTC datetime.

    The one check of the :data:`Clock` contract, so that an old-style clock
    (``time.time`` returning epoch seconds) or a naive datetime fails at its
    first reading with a clear error, not deep inside a subtraction. An aware
    datetime at another UTC offset is the same instant and passes.

    >>> try:
    ...     checked_now(lambda: 1_700_000_000.0)
    ... except InvalidArgumentTypeError as exc:
    ...     print(exc)
    clock must return an aware UTC datetime, not float
    """
    now = clock()
    if not isinstance(now, datetime):
        raise InvalidArgumentTypeError(f"{_CLOCK_CONTRACT}, not {type(now).__name__}")
    if now.tzinfo is None or now.utcoffset() is None:
        raise InvalidArgumentError(f"{_CLOCK_CONTRACT}, not a naive one")
    return now


def epoch_seconds(clock: Clock) -> float:
    """:func:`checked_now` as Unix seconds, for code that keeps float deadlines."""
    return checked_now(clock).timestamp()


def wait_on(condition: threading.Condition, timeout: float | None) -> bool:
    """The real :data:`Wait`: :meth:`threading.Condition.wait`."""
    return condition.wait(timeout)


@dataclass(frozen=True, slots=True)
class Runtime:
    """The clock, monotonic time, wait and random source of one component (see the module)."""

    clock: Clock = utc_now
    monotonic: Monotonic = time.monotonic
    wait: Wait = wait_on
    rng: random.Random = field(default_factory=random.Random)

    def __post_init__(self) -> None:
        for name in ("clock", "monotonic", "wait"):
            value = getattr(self, name)
            if not callable(value):
                raise InvalidArgumentTypeError(
                    f"runtime.{name} must be callable, not {type(value).__name__}"
                )
        require_type("runtime.rng", self.rng, random.Random)
