"""One upload attempt at a time: lease, seal, POST, and act on the outcome.

:meth:`Sender.step` takes the oldest persisted batch (or leases a new one),
seals it, POSTs it through the egress client and acts on
:func:`~n2net_privacy.uploader.policy.classify`:

=============  ==========================================================
outcome        what happens
=============  ==========================================================
DELIVERED      rows deleted (a crash before that only causes a re-send)
RETRY          same batch, same Idempotency-Key, after
               :func:`~n2net_privacy.uploader.policy.backoff_delay`
               (full jitter, base 0.5 s, cap 60 s, ``Retry-After`` wins)
SPLIT (413)    the batch becomes two batches with new ids
DEAD_LETTER    rows deleted and counted under the reason; never retried
=============  ==========================================================

Retryable: network errors, timeouts, 408, 429 and 5xx other than 501/505.
Final: 400, 401, 403, 422, 501, 505 (and other 4xx). A pin mismatch or an
egress-policy refusal sends nothing: the events stay queued, the status
callback says why, and the sender backs off.

``step`` never waits: it returns how long to wait, and
:mod:`~n2net_privacy.uploader.worker` does the waiting on its thread, so
tests drive every branch without a clock or a thread.
"""

from __future__ import annotations

import random
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from enum import StrEnum
from typing import Protocol

from n2net_privacy.egress_policy import EgressResponse
from n2net_privacy.errors import (
    ConfigurationError,
    EgressPolicyError,
    NetworkError,
    NetworkTimeout,
    PinMismatchError,
    WireFormatError,
)
from n2net_privacy.redact import get_logger
from n2net_privacy.uploader.crashpoints import CrashHook, CrashPoint
from n2net_privacy.uploader.policy import (
    Outcome,
    backoff_delay,
    classify,
    failure_reason,
    parse_retry_after,
)
from n2net_privacy.uploader.queue import EventQueue, QueuedBatch
from n2net_privacy.uploader.wire import (
    EventBatch,
    ServerKey,
    WireEvent,
    decode_batch,
    encode_batch,
    parse_reply,
    request_headers,
    seal,
)

__all__ = [
    "PostClient",
    "SendState",
    "SendStatus",
    "Sender",
    "SenderConfig",
]

MAX_BATCH_EVENTS = 500
MAX_BATCH_BYTES = 256 * 1024
MAX_LINGER_S = 1.0
_MAX_REPLY_BYTES = 1024 * 1024
_VALIDATE_CHUNK = 50
_ABANDONED: list[object] = []  # clients inherited across fork: never closed in the child
_log = get_logger(__name__)


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

    def __post_init__(self) -> None:
        if not 1 <= self.batch_max_events <= MAX_BATCH_EVENTS:
            raise ConfigurationError(f"batch_max_events must be 1..{MAX_BATCH_EVENTS}")
        if not 1024 <= self.batch_max_bytes <= MAX_BATCH_BYTES:
            raise ConfigurationError(f"batch_max_bytes must be 1024..{MAX_BATCH_BYTES}")
        if not 0 <= self.linger_s <= MAX_LINGER_S:
            raise ConfigurationError(f"linger_s must be 0..{MAX_LINGER_S}")
        if self.request_timeout_s <= 0 or self.backoff_base_s <= 0 or self.backoff_cap_s < 0:
            raise ConfigurationError("timeouts and backoff must be positive")


class PostClient(Protocol):
    """What the sender needs from an egress client (``EgressClient`` fits)."""

    def request(
        self,
        method: str,
        url: str,
        *,
        headers: Mapping[str, str] | None = None,
        content: bytes | None = None,
        timeout: float | None = None,
        max_response_bytes: int | None = None,
    ) -> EgressResponse: ...

    def close(self) -> None: ...


@dataclass(slots=True)
class _Flight:
    batch: QueuedBatch
    body: bytes
    attempt: int = 0


def _now_utc() -> datetime:
    return datetime.now(UTC)


def _envelope() -> tuple[bytes, bytes]:
    """The bytes :func:`encode_batch` puts before and after the events' JSON."""
    sample = WireEvent.sms(
        "00000000-0000-4000-8000-000000000000", "+12015550123", datetime(2000, 1, 1, tzinfo=UTC)
    )
    event = sample.model_dump_json(exclude_none=True).encode("utf-8")
    head, found, tail = encode_batch(EventBatch.of([sample])).partition(event)
    if not found:
        raise WireFormatError("encode_batch no longer embeds the event JSON verbatim")
    return head, tail


class Sender:
    """Drains an :class:`EventQueue` to the ingest endpoint. See the module docs."""

    def __init__(
        self,
        queue: EventQueue,
        client_factory: Callable[[], PostClient],
        *,
        events_url: str,
        app_key: str,
        server_key: ServerKey,
        config: SenderConfig | None = None,
        clock: Callable[[], datetime] = _now_utc,
        rng: random.Random | None = None,
        on_status: Callable[[SendStatus], None] | None = None,
        crash_point: CrashHook | None = None,
    ) -> None:
        self._queue = queue
        self._client_factory = client_factory
        self._url = events_url
        self._app_key = app_key
        self._server_key = server_key
        self.config = config or SenderConfig()
        self._clock = clock
        self._rng = rng or random.Random()
        self._on_status = on_status
        self._crash = crash_point
        self._head, self._tail = _envelope()
        seal_overhead = len(seal(b"", server_key))
        self._payload_budget = (
            self.config.batch_max_bytes - len(self._head) - len(self._tail) - seal_overhead
        )
        self._init_process_state()

    def _init_process_state(self) -> None:
        self._client: PostClient | None = None
        self._flight: _Flight | None = None

    # -- one attempt (no waiting; tests call this directly) -------------------

    def step(self, *, lease_new: bool = True) -> float | None:
        """Make one attempt. Return the seconds to wait before the next, or None if idle.

        ``lease_new=False`` only resumes batches already persisted (linger not over).
        """
        if self._flight is None:
            batch = self._queue.next_batch(
                self.config.batch_max_events, self._payload_budget, lease_new=lease_new
            )
            if batch is None:
                return None
            if self._crash is not None:
                self._crash(CrashPoint.LEASE_AFTER_COMMIT)
            flight = self._build(batch)
            if flight is None:
                return 0.0
            self._flight = flight
        return self._attempt(self._flight)

    def _build(self, batch: QueuedBatch) -> _Flight | None:
        """Seal a batch, or split it when it is too large or holds a bad payload.

        The payloads are canonical event JSON already, so the plaintext is the
        envelope around them; :func:`decode_batch` still checks every event
        against v1 (50 at a time) before anything leaves. A bad payload (only
        a bug could queue one) is isolated by halving and dead-lettered alone.
        """
        payloads = batch.payloads
        try:
            for start in range(0, len(payloads), _VALIDATE_CHUNK):
                chunk = payloads[start : start + _VALIDATE_CHUNK]
                decode_batch(self._head + b",".join(chunk) + self._tail)
                # Validation holds the GIL; yield it so a record_* on another
                # thread never waits for a whole batch.
                time.sleep(0)
        except WireFormatError:
            self._split_or_dead(batch, None, "invalid_payload", "invalid payload")
            return None
        body = seal(self._head + b",".join(payloads) + self._tail, self._server_key)
        if len(body) > self.config.batch_max_bytes:
            self._split_or_dead(batch, None, "too_large", "event larger than batch_max_bytes")
            return None
        return _Flight(batch, body)

    def _split_or_dead(
        self, batch: QueuedBatch, status: int | None, key: str, reason: str
    ) -> None:
        if self._queue.split(batch.batch_id) is None:
            self._finish_dead(batch, status, key, reason)
        else:
            self._emit(SendStatus(SendState.SPLIT, batch.batch_id, len(batch), status))

    def _client_now(self) -> PostClient:
        if self._client is None:
            self._client = self._client_factory()
        return self._client

    def _post(self, flight: _Flight) -> EgressResponse | tuple[SendState, str]:
        """One POST; network trouble comes back as (state, reason), never raised."""
        batch = flight.batch
        headers = request_headers(self._app_key, batch.batch_id, self._server_key.key_id)
        if self._crash is not None:
            self._crash(CrashPoint.POST_BEFORE_SEND)
        try:
            return self._client_now().request(
                "POST",
                self._url,
                headers=headers,
                content=flight.body,
                timeout=self.config.request_timeout_s,
                max_response_bytes=_MAX_REPLY_BYTES,
            )
        except PinMismatchError:
            return SendState.PIN_MISMATCH, "pin mismatch"
        except EgressPolicyError:
            return SendState.BLOCKED, "blocked by egress policy"
        except NetworkTimeout:
            return SendState.RETRYING, failure_reason(None, timeout=True)
        except NetworkError:
            return SendState.RETRYING, failure_reason(None, network_error=True)

    def _attempt(self, flight: _Flight) -> float:
        batch = flight.batch
        response = self._post(flight)
        if isinstance(response, tuple):
            state, reason = response
            return self._retry(flight, state, None, reason, None)
        status = response.status
        outcome = classify(status)
        if outcome is Outcome.DELIVERED:
            self._delivered(flight, response)
            return 0.0
        if outcome is Outcome.RETRY:
            retry_after = parse_retry_after(response.header("retry-after"), self._clock())
            return self._retry(
                flight, SendState.RETRYING, status, failure_reason(status), retry_after
            )
        self._flight = None
        if outcome is Outcome.SPLIT:
            self._split_or_dead(batch, status, f"http_{status}", failure_reason(status))
        else:
            self._finish_dead(batch, status, f"http_{status}", failure_reason(status))
        return 0.0

    def _delivered(self, flight: _Flight, response: EgressResponse) -> None:
        batch = flight.batch
        if self._crash is not None:
            self._crash(CrashPoint.ACK_BEFORE_DELETE)
        self._queue.ack(batch.batch_id)
        self._flight = None
        try:
            parse_reply(response.status, response.content)
        except WireFormatError:
            # Stored server-side all the same; a re-send could only be deduped.
            _log.warning("ingest reply did not follow wire contract v1; batch counted delivered")
        self._emit(
            SendStatus(
                SendState.DELIVERED, batch.batch_id, len(batch), response.status, flight.attempt
            )
        )

    def _retry(
        self,
        flight: _Flight,
        state: SendState,
        status: int | None,
        reason: str,
        retry_after: float | None,
    ) -> float:
        delay = backoff_delay(
            flight.attempt,
            retry_after,
            self._rng,
            base=self.config.backoff_base_s,
            cap=self.config.backoff_cap_s,
        )
        flight.attempt += 1
        _log.info("upload attempt %d failed (%s); retrying in %.2fs", flight.attempt, reason, delay)
        self._emit(
            SendStatus(
                state, flight.batch.batch_id, len(flight.batch), status, flight.attempt, delay,
                reason,
            )
        )
        return delay

    def _finish_dead(
        self, batch: QueuedBatch, status: int | None, key: str, reason: str
    ) -> None:
        """Dead-letter under a stable counter ``key``; ``reason`` is for people."""
        count = self._queue.dead_letter(batch.batch_id, key)
        _log.warning("upload batch dead-lettered (%s): %d events", reason, count)
        self._emit(
            SendStatus(SendState.DEAD_LETTERED, batch.batch_id, len(batch), status, reason=reason)
        )

    def _emit(self, status: SendStatus) -> None:
        if self._on_status is None:
            return
        try:
            self._on_status(status)
        except Exception:
            _log.exception("on_status callback raised; ignored")

    def after_fork(self) -> None:
        """In a forked child: drop the parent's client (never closed here) and flight."""
        if self._client is not None:
            _ABANDONED.append(self._client)  # its sockets belong to the parent
        self._init_process_state()

    def close(self) -> None:
        """Close the egress client; the next attempt opens a new one."""
        if self._client is not None:
            self._client.close()
            self._client = None
