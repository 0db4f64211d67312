"""Runtime: one meaning for clock, monotonic, wait and rng, checked at construction."""

from __future__ import annotations

import random
import threading
from datetime import UTC, datetime

import pytest

from n2net_privacy.errors import InvalidArgumentTypeError
from n2net_privacy.runtime import Runtime, utc_now, wait_on


def test_the_defaults_are_the_real_world() -> None:
    runtime = Runtime()
    now = runtime.clock()
    assert now.tzinfo is UTC  # aware UTC, never a naive local time
    assert runtime.clock is utc_now
    assert runtime.wait is wait_on
    assert isinstance(runtime.monotonic(), float)


def test_each_runtime_has_its_own_random_source() -> None:
    # A shared default would couple the jitter of unrelated uploaders.
    assert Runtime().rng is not Runtime().rng


def test_the_real_wait_returns_at_its_timeout_when_nobody_notifies() -> None:
    condition = threading.Condition()
    with condition:
        assert wait_on(condition, 0.0) is False


def test_fakes_are_used_as_given() -> None:
    fixed = datetime(2026, 1, 1, tzinfo=UTC)
    rng = random.Random(7)
    runtime = Runtime(clock=lambda: fixed, monotonic=lambda: 5.0, rng=rng)
    assert (runtime.clock(), runtime.monotonic(), runtime.rng) == (fixed, 5.0, rng)


@pytest.mark.parametrize(
    ("arguments", "message"),
    [
        ({"clock": 1.0}, "runtime.clock must be callable, not float"),
        ({"monotonic": "now"}, "runtime.monotonic must be callable, not str"),
        ({"wait": None}, "runtime.wait must be callable, not NoneType"),
        ({"rng": 7}, "runtime.rng must be a Random, not int"),
    ],
)
def test_a_wrong_part_is_named(arguments: dict[str, object], message: str) -> None:
    with pytest.raises(InvalidArgumentTypeError, match=message):
        Runtime(**arguments)  # type: ignore[arg-type]
