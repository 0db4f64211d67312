"""The conformance kit's vocabulary: a check, its verdict, the target and the run's report.

A check is data: a ``name`` (what ``--only`` matches and what JUnit shows),
the ``contract`` sentence of docs/wire-format.md it checks, and a function
that drives a :class:`~n2net_privacy.testing.conformance.session.Session`
and raises :class:`CheckFailed` or :class:`CheckSkipped`; returning means
the server kept that sentence.
"""

from __future__ import annotations

import random
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from enum import StrEnum
from typing import Generic, Protocol, TypeVar

# CheckFailed and CheckSkipped are defined in the one tree; importable here too.
from n2net_privacy.errors import CheckFailed, CheckSkipped, ConfigurationError
from n2net_privacy.uploader.send.sender import SenderConfig
from n2net_privacy.uploader.wire.seal import ServerKey

__all__ = [
    "DEFAULT_OVERSIZE_BYTES",
    "Check",
    "CheckFailed",
    "CheckResult",
    "CheckSkipped",
    "KitRuntime",
    "Probing",
    "Report",
    "Target",
    "Verdict",
]

#: Twice the reference server's default limit (1 MiB), four times the SDK's largest body.
DEFAULT_OVERSIZE_BYTES = 2 * 1024 * 1024


class Verdict(StrEnum):
    PASSED = "passed"
    FAILED = "failed"
    SKIPPED = "skipped"


S = TypeVar("S", bound="Probing")


@dataclass(frozen=True, slots=True)
class Check(Generic[S]):
    """One named contract sentence and the function that checks it on a session ``S``."""

    name: str
    contract: str
    run: Callable[[S], str | None]
    """Raises CheckFailed or CheckSkipped; may return a short note on a pass."""
    observes: bool = False
    """True for a check that judges every exchange of the run: it runs last."""


@dataclass(frozen=True, slots=True)
class CheckResult:
    name: str
    contract: str
    verdict: Verdict
    message: str = ""
    """Why it failed or was skipped; on a pass, what was judged."""
    duration_s: float = 0.0


@dataclass(frozen=True, slots=True)
class Report:
    """What a run found, in the order the checks ran."""

    target: str
    results: tuple[CheckResult, ...]

    def count(self, verdict: Verdict) -> int:
        return sum(1 for result in self.results if result.verdict is verdict)

    @property
    def failed(self) -> tuple[str, ...]:
        """The names of the failed checks."""
        return tuple(r.name for r in self.results if r.verdict is Verdict.FAILED)

    @property
    def exit_code(self) -> int:
        """0 when nothing failed (skips included), 1 otherwise."""
        return 1 if self.failed else 0


@dataclass(frozen=True, slots=True)
class Target:
    """The ingest under test: where, with which app key, sealed to which server keys.

    ``url`` is the base URL an app gives the SDK (the kit posts to
    ``url + /v1/events``). ``server_keys`` are public keys, current first;
    a second one lets the rotation check reseal to the *next* key.
    """

    url: str
    app_key: str
    server_keys: tuple[ServerKey, ...]
    oversize_bytes: int = DEFAULT_OVERSIZE_BYTES
    request_timeout_s: float = SenderConfig().request_timeout_s
    """The SDK's own request timeout: every reply must come within it."""

    def __post_init__(self) -> None:
        if not self.server_keys:
            raise ConfigurationError("the conformance kit needs at least one server key")
        if len({key.key_id for key in self.server_keys}) != len(self.server_keys):
            raise ConfigurationError("server keys must have distinct key ids")
        if not self.app_key:
            raise ConfigurationError("the app key must not be empty")
        if self.oversize_bytes < 1 or self.request_timeout_s <= 0:
            raise ConfigurationError("oversize_bytes and request_timeout_s must be positive")


class Probing(Protocol):
    """What the runner needs of a session: the runtime, and the running check's name."""

    check: str
    runtime: KitRuntime


def _utc_now() -> datetime:
    return datetime.now(UTC)


@dataclass(frozen=True)
class KitRuntime:
    """Clock, monotonic time, sleep and randomness: injected so tests drive them.

    ``now`` dates events and judges ``Retry-After`` dates; ``monotonic``
    times replies; ``sleep`` waits out a ``Retry-After`` before a retry,
    capped at ``max_wait_s``.
    """

    now: Callable[[], datetime] = _utc_now
    monotonic: Callable[[], float] = time.monotonic
    sleep: Callable[[float], None] = time.sleep
    rng: random.Random = field(default_factory=random.SystemRandom)
    max_attempts: int = 3
    max_wait_s: float = 10.0
