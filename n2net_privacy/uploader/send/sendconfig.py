"""The sender's vocabulary: its configuration, the states it reports, and its client.

Kept apart from :mod:`~n2net_privacy.uploader.send.sender` (which re-exports all of
it) so that the code that *sends* reads on its own.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum

from n2net_privacy.egress.policy import RequestClient
from n2net_privacy.errors import ConfigurationError

__all__ = [
    "MAX_BATCH_BYTES",
    "MAX_BATCH_EVENTS",
    "MAX_LINGER_S",
    "PostClient",
    "SendState",
    "SendStatus",
    "SenderConfig",
]

MAX_BATCH_EVENTS = 500
MAX_BATCH_BYTES = 256 * 1024
MAX_LINGER_S = 1.0


class SendState(StrEnum):
    """What just happened to a batch, as the status callback reports it."""

    DELIVERED = "delivered"
    RETRYING = "retrying"
    SPLIT = "split"
    DEAD_LETTERED = "dead_lettered"
    PIN_MISMATCH = "pin_mismatch"
    """The server's key is not pinned: nothing was sent, the events stay queued."""
    BLOCKED = "blocked"
    """The egress policy refused the request: nothing was sent."""
    KEY_REJECTED = "key_rejected"
    """Configuration: the server knows none of the configured server keys
    (``401 unknown_key_id``). Nothing is dropped; call ``set_server_keys``."""
    UNAUTHORIZED = "unauthorized"
    """Configuration: the server refused the app key (401). Nothing is dropped."""


@dataclass(frozen=True, slots=True)
class SendStatus:
    """One report to ``on_status``; it never carries a number or a payload."""

    state: SendState
    batch_id: str
    events: int
    http_status: int | None = None
    attempt: int = 0
    retry_in: float | None = None
    reason: str | None = None


@dataclass(frozen=True, slots=True)
class SenderConfig:
    """Batching, timeouts and backoff. Limits may be lowered, never raised past v1's."""

    batch_max_events: int = MAX_BATCH_EVENTS
    batch_max_bytes: int = MAX_BATCH_BYTES
    linger_s: float = MAX_LINGER_S
    request_timeout_s: float = 10.0
    backoff_base_s: float = 0.5
    backoff_cap_s: float = 60.0
    checkpoint_every: int = 1000
    split_after_attempts: int = 5
    """A batch failing with an HTTP status this many times (others flowing) is split."""
    split_after_s: float = 600.0
    """... or one that has kept failing for this long."""

    def __post_init__(self) -> None:
        if not 1 <= self.batch_max_events <= MAX_BATCH_EVENTS:
            raise ConfigurationError(f"batch_max_events must be 1..{MAX_BATCH_EVENTS}")
        if not 1024 <= self.batch_max_bytes <= MAX_BATCH_BYTES:
            raise ConfigurationError(f"batch_max_bytes must be 1024..{MAX_BATCH_BYTES}")
        if not 0 <= self.linger_s <= MAX_LINGER_S:
            raise ConfigurationError(f"linger_s must be 0..{MAX_LINGER_S}")
        if self.request_timeout_s <= 0 or self.backoff_base_s <= 0 or self.backoff_cap_s < 0:
            raise ConfigurationError("timeouts and backoff must be positive")
        if self.split_after_attempts < 1 or self.split_after_s <= 0:
            raise ConfigurationError("split_after_attempts and split_after_s must be positive")


PostClient = RequestClient
"""What the sender needs from an egress client (``EgressClient`` fits)."""


