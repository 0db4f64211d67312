"""Runtime: one meaning for clock, monotonic, wait and rng, checked at construction."""

from __future__ import annotations

import io
import random
import threading
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta, timezone

import httpx
import pytest

from n2net_privacy.contacts import Contact
from n2net_privacy.demo.story import Story
from n2net_privacy.egress import Egress, Purpose
from n2net_privacy.errors import InvalidArgumentError, InvalidArgumentTypeError
from n2net_privacy.gravatar import GravatarFetcher
from n2net_privacy.permissions import AndroidPermissionProvider
from n2net_privacy.runtime import Runtime, checked_now, epoch_seconds, utc_now, wait_on
from n2net_privacy.settings import Settings


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


# -- the Clock contract, one check for every component that takes a clock ------

_NOT_A_CLOCK_READING = [
    pytest.param(time.time, InvalidArgumentTypeError, "not float", id="epoch-seconds"),
    pytest.param(datetime.now, InvalidArgumentError, "not a naive one", id="naive"),
]


def test_an_aware_reading_passes_and_converts_to_unix_seconds() -> None:
    fixed = datetime(2026, 1, 1, tzinfo=UTC)
    assert checked_now(lambda: fixed) is fixed
    assert epoch_seconds(lambda: fixed) == 1_767_225_600.0
    # Another offset is the same instant: the Unix seconds agree.
    paris = fixed.astimezone(timezone(timedelta(hours=1)))
    assert epoch_seconds(lambda: paris) == 1_767_225_600.0


@pytest.mark.parametrize(("clock", "error", "detail"), _NOT_A_CLOCK_READING)
def test_a_reading_that_is_not_aware_utc_is_refused(
    clock: Callable[[], object], error: type[Exception], detail: str
) -> None:
    with pytest.raises(error, match="clock must return an aware UTC datetime") as raised:
        checked_now(clock)  # type: ignore[arg-type]
    assert detail in str(raised.value)


def test_a_clock_that_is_not_callable_is_refused() -> None:
    with pytest.raises(InvalidArgumentTypeError, match="clock must be a callable"):
        Egress(clock=1_700_000_000.0)  # type: ignore[arg-type]


@pytest.mark.parametrize(("clock", "error", "detail"), _NOT_A_CLOCK_READING)
def test_every_component_refuses_an_old_style_clock_at_its_first_reading(
    clock: Callable[[], object], error: type[Exception], detail: str
) -> None:
    # Egress: the first reading stamps the first request's audit entry.
    egress = Egress(transport=httpx.MockTransport(lambda r: httpx.Response(200)),
                    clock=clock)  # type: ignore[arg-type]
    with pytest.raises(error, match="clock must return an aware UTC datetime"):
        egress.client(Purpose.N2NET_API).request("GET", "https://api.n2net.com/x")
    # AndroidPermissionProvider: the first reading is at construction (the app's first use).
    with pytest.raises(error, match="clock must return an aware UTC datetime"):
        AndroidPermissionProvider(api_level=34, clock=clock)  # type: ignore[arg-type]
    # GravatarFetcher: the first reading is the first lookup's cache check.
    settings = Settings()
    settings.gravatar_enabled = True
    fetcher = GravatarFetcher(settings, egress, clock=clock)  # type: ignore[arg-type]
    with pytest.raises(error, match="clock must return an aware UTC datetime"):
        fetcher.fetch(Contact(id="a", emails=("ann@example.com",)))
    fetcher.close()
    # Story (the demo's narrator): the first timeline event.
    with pytest.raises(error, match="clock must return an aware UTC datetime"):
        Story(io.StringIO(), clock=clock).event("user", "granted")  # type: ignore[arg-type]
