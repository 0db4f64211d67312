"""One upload attempt at a time: lease, seal, POST, and act on the outcome.

:meth:`Sender.step` takes the oldest persisted batch (or leases a new one),
seals it, POSTs it through the egress client and acts on
:func:`~n2net_privacy.uploader.send.decisions.classify`:

=============  ==========================================================
outcome        what happens
=============  ==========================================================
DELIVERED      rows deleted (a crash before that only causes a re-send)
RETRY          same batch, same Idempotency-Key, after
               :func:`~n2net_privacy.uploader.send.decisions.backoff_delay`
               (full jitter, base ``backoff_base_s``, cap
               ``backoff_cap_s``; ``Retry-After`` wins, capped at
               ``backoff_cap_s``). With an HTTP status the batch is
               *parked* and the batches behind it go meanwhile; one that
               keeps failing is split, then dead-lettered by event
               (:mod:`~n2net_privacy.uploader.send.decisions`)
SPLIT (413)    the batch becomes two batches with new ids (an OHTTP relay's
               outer 413 too, but a single event is then retried, never
               dead-lettered: the relay cannot see what it refuses)
HOLD (401)     nothing is dropped: ``unknown_key_id`` moves to the next
               configured server key; with none left, or a refused app
               key, the events wait for new configuration
               (:mod:`~n2net_privacy.uploader.wire.seal`)
DEAD_LETTER    rows deleted and counted under the reason; never retried
=============  ==========================================================

Retryable: network errors, timeouts, 408, 429 and 5xx other than 501/505.
Final: 400, 403, 422, 501, 505 (and other 4xx). A pin mismatch or an
egress-policy refusal sends nothing: the events stay queued, the status
callback says why, and the sender backs off.

Every attempt runs under :attr:`Sender.io_lock`, which the fork hooks take
(:mod:`~n2net_privacy.uploader._process`), so no fork happens mid-request.
``on_status`` hears of the attempt after the lock is released.

``step`` never waits: it returns how long to wait, and
:mod:`~n2net_privacy.uploader.send.worker` does the waiting on its thread, so
tests drive every branch without a clock or a thread. The sender's
vocabulary is here too: :class:`SenderConfig` (batching, timeouts, backoff;
limits may be lowered, never raised past v1's), :class:`SendState` and
:class:`SendStatus` (what ``on_status`` hears).
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from enum import StrEnum

from n2net_privacy.egress.policy import EgressResponse, RequestClient
from n2net_privacy.errors import (
    ConfigurationError,
    EgressPolicyError,
    NetworkError,
    NetworkTimeout,
    PinMismatchError,
    RelayTooLargeError,
    WireFormatError,
)
from n2net_privacy.redact import get_logger
from n2net_privacy.runtime import Runtime
from n2net_privacy.uploader._process import CrashHook, CrashPoint
from n2net_privacy.uploader.send.decisions import (
    Outcome,
    ParkingLot,
    backoff_delay,
    classify,
    failure_reason,
    parse_retry_after,
)
from n2net_privacy.uploader.store.queue import EventQueue, QueuedBatch
from n2net_privacy.uploader.wire.models import (
    ServerKey,
    error_code,
    parse_reply,
    request_headers,
    seal,
)
from n2net_privacy.uploader.wire.payload import Envelope
from n2net_privacy.uploader.wire.seal import ServerKeyRing

__all__ = [
    "MAX_BATCH_BYTES",
    "MAX_BATCH_EVENTS",
    "MAX_LINGER_S",
    "Flight",
    "PostClient",
    "SendState",
    "SendStatus",
    "Sender",
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


_MAX_REPLY_BYTES = 1024 * 1024
_ABANDONED: list[object] = []  # clients inherited across fork: never closed in the child
_log = get_logger(__name__)


@dataclass(slots=True)
class Flight:
    """The batch being sent, its sealed body and the key it is sealed to."""

    batch: QueuedBatch
    body: bytes
    key_id: str
    generation: int
    attempt: int = 0


class Sender:
    """Drains an :class:`EventQueue` to the ingest endpoint. See the module docs."""

    def __init__(
        self,
        queue: EventQueue,
        client_factory: Callable[[], PostClient],
        *,
        events_url: str,
        app_key: str,
        server_key: ServerKey | Iterable[ServerKey],
        config: SenderConfig | None = None,
        runtime: Runtime | None = None,
        on_status: Callable[[SendStatus], None] | None = None,
        crash_point: CrashHook | None = None,
    ) -> None:
        self._queue = queue
        self._client_factory = client_factory
        self._url = events_url
        self._app_key = app_key
        self.keys = ServerKeyRing(server_key)
        self.config = config or SenderConfig()
        runtime = runtime or Runtime()
        self._clock = runtime.clock
        self._monotonic = runtime.monotonic
        self._rng = runtime.rng
        self._on_status = on_status
        self._crash = crash_point
        self._envelope = Envelope(pause=queue.file.yield_to_writer)
        self._budget_for = (-1, 0)  # (key generation, payload bytes per batch)
        self.parking = ParkingLot(self.config.split_after_attempts, self.config.split_after_s)
        self._init_process_state()

    def _init_process_state(self) -> None:
        self.io_lock = threading.RLock()
        """Held around every attempt (every socket use); the fork hooks take it."""
        self._client: PostClient | None = None
        self._flight: Flight | None = None
        self._deliveries = 0
        self._streak = 0
        self._held_since: float | None = None
        self._reports: list[SendStatus] = []
        self.parking.clear()

    @property
    def in_flight(self) -> bool:
        """A batch is out or awaits its retry: the next step resumes it, leasing nothing."""
        return self._flight is not None

    # -- one attempt (no waiting; tests call this directly) -------------------

    def step(self, *, lease_new: bool = True) -> float | None:
        """Make one attempt. Return the seconds to wait before the next, or None if idle.

        ``lease_new=False`` only resumes batches already persisted (linger not over).
        """
        reports: list[SendStatus] = []
        try:
            with self.io_lock:
                try:
                    return self._step(lease_new)
                finally:
                    reports, self._reports = self._reports, []
        finally:
            # on_status is app code: it runs after the lock, never under it.
            for status in reports:
                self._report(status)

    def _step(self, lease_new: bool) -> float | None:
        now = self._monotonic()
        if self._flight is None:
            batch = self._queue.next_batch(
                self.config.batch_max_events,
                self._payload_budget(),
                lease_new=lease_new,
                skip=self.parking.parked(now),
            )
            if batch is None:
                return self.parking.next_due(now)
            if self._crash is not None:
                self._crash(CrashPoint.LEASE_AFTER_COMMIT)
            if not self._valid(batch):
                return 0.0
            self._flight = Flight(batch, b"", "", -1, self.parking.strikes(batch.batch_id))
        elif not self._queue.renew(self._flight.batch.batch_id):
            # Our lease lapsed and another process took the batch over: let it.
            self._flight = None
            return 0.0
        key = self.keys.current()
        if key is None:
            return self._hold(self._flight, SendState.KEY_REJECTED, "no configured key accepted")
        if not self._seal(self._flight, key):
            return 0.0
        return self._attempt(self._flight, key)

    def _payload_budget(self) -> int:
        """Payload bytes per batch under the largest seal overhead of the configured keys."""
        generation, budget = self._budget_for
        if generation != self.keys.generation:
            overhead = max(len(seal(b"", key)) for key in self.keys.keys)
            budget = self.config.batch_max_bytes - self._envelope.overhead - overhead
            self._budget_for = (self.keys.generation, budget)
        return budget

    def _valid(self, batch: QueuedBatch) -> bool:
        """Check every payload against v1 before anything leaves (see :mod:`.body`).

        A bad payload (only a bug could queue one) is isolated by halving and
        dead-lettered alone.
        """
        if self._envelope.valid(batch.payloads):
            return True
        self._split_or_dead(batch, None, "invalid_payload", "invalid payload")
        return False

    def _seal(self, flight: Flight, key: ServerKey) -> bool:
        """(Re)seal the flight to ``key`` if it is not sealed to it yet; False if split."""
        if flight.key_id == key.key_id and flight.generation == self.keys.generation:
            return True
        batch = flight.batch
        body = seal(self._envelope.plaintext(batch.payloads), key)
        if len(body) > self.config.batch_max_bytes:
            self._flight = None
            self._split_or_dead(batch, None, "too_large", "event larger than batch_max_bytes")
            return False
        flight.body, flight.key_id, flight.generation = body, key.key_id, self.keys.generation
        return True

    def _split_or_dead(
        self, batch: QueuedBatch, status: int | None, key: str, reason: str
    ) -> None:
        halves = self._queue.split(batch.batch_id)
        if halves is None:
            self._finish_dead(batch, status, key, reason)
        else:
            self.parking.inherit(batch.batch_id, halves)
            self._emit(
                SendStatus(SendState.SPLIT, batch.batch_id, len(batch), status, reason=reason)
            )

    def _client_now(self) -> PostClient:
        if self._client is None:
            self._client = self._client_factory()
        return self._client

    def _post(self, flight: Flight) -> EgressResponse | tuple[SendState, str]:
        """One POST; network trouble comes back as (state, reason), never raised."""
        batch = flight.batch
        headers = request_headers(self._app_key, batch.batch_id, flight.key_id)
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
        except RelayTooLargeError:
            return SendState.SPLIT, "the OHTTP relay refused the size (outer 413)"
        except EgressPolicyError:
            return SendState.BLOCKED, "blocked by egress policy"
        except NetworkTimeout:
            return SendState.RETRYING, failure_reason(None, timeout=True)
        except NetworkError:
            return SendState.RETRYING, failure_reason(None, network_error=True)

    def _attempt(self, flight: Flight, key: ServerKey) -> float:
        batch = flight.batch
        response = self._post(flight)
        if isinstance(response, tuple):
            return self._no_reply(flight, *response)
        status = response.status
        outcome = classify(status)
        if outcome is Outcome.DELIVERED:
            self._delivered(flight, response)
            return 0.0
        if outcome is Outcome.HOLD:
            if error_code(response.content) == "unknown_key_id":
                self.keys.reject(key.key_id)
                _log.warning("the server does not know server key %s", key.key_id)
                self._emit(
                    SendStatus(SendState.KEY_REJECTED, batch.batch_id, len(batch), status,
                               reason=f"server key {key.key_id} unknown to the server")
                )
                return 0.0  # the next configured key, if any, goes at once
            return self._hold(flight, SendState.UNAUTHORIZED, "app key refused", status)
        if outcome is Outcome.RETRY:
            retry_after = parse_retry_after(response.header("retry-after"), self._clock())
            return self._park(flight, status, retry_after)
        self._flight = None
        if outcome is Outcome.SPLIT:
            self._split_or_dead(batch, status, f"http_{status}", failure_reason(status))
        else:
            self._finish_dead(batch, status, f"http_{status}", failure_reason(status))
        return 0.0

    def _no_reply(self, flight: Flight, state: SendState, reason: str) -> float:
        """No inner reply came back: retry, or split on an OHTTP relay's outer 413.

        Never dead-letter on a relay's 413: it cannot see inside, and a
        hostile relay could forge it. A single event is retried later.
        """
        if state is not SendState.SPLIT:
            return self._retry(flight, state, None, reason, None)
        if len(flight.batch) > 1:
            self._flight = None
            self._split_or_dead(flight.batch, 413, "relay_413", reason)
            return 0.0
        return self._retry(flight, SendState.RETRYING, None, reason, None)

    def _hold(
        self, flight: Flight, state: SendState, reason: str, status: int | None = 401
    ) -> float:
        """A configuration problem: keep everything, report it, look again later."""
        now = self._monotonic()
        if self._held_since is None:
            self._held_since = now
        elif now - self._held_since >= self.config.backoff_cap_s:
            self.keys.forget_rejections()  # the server may have restored a key
            self._held_since = now
        _log.warning("uploads held (%s); events stay queued", reason)
        self._emit(
            SendStatus(state, flight.batch.batch_id, len(flight.batch), status,
                       flight.attempt, self.config.backoff_cap_s, reason)
        )
        return self.config.backoff_cap_s

    def _delivered(self, flight: Flight, response: EgressResponse) -> None:
        batch = flight.batch
        if self._crash is not None:
            self._crash(CrashPoint.ACK_BEFORE_DELETE)
        self._queue.ack(batch.batch_id)
        self._flight = None
        self._deliveries += 1
        self._streak = 0
        self._held_since = None
        self.parking.forget(batch.batch_id)
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

    def _park(self, flight: Flight, status: int, retry_after: float | None) -> float:
        """An HTTP-level failure: park this batch if others can go meanwhile, else retry it."""
        batch = flight.batch
        self._streak += 1
        wait = backoff_delay(
            flight.attempt, retry_after, self._rng,
            base=self.config.backoff_base_s, cap=self.config.backoff_cap_s,
        )
        flight.attempt += 1
        reason = failure_reason(status)
        now = self._monotonic()
        if self.parking.fail(batch.batch_id, now, self._deliveries, wait):
            _log.warning("upload batch keeps failing (%s) while others go: splitting", reason)
            self._flight = None
            self._split_or_dead(batch, status, "retries_exhausted", f"retries exhausted, {reason}")
            return 0.0
        _log.info("upload attempt %d failed (%s); retrying in %.2fs", flight.attempt, reason, wait)
        self._emit(
            SendStatus(SendState.RETRYING, batch.batch_id, len(batch), status,
                       flight.attempt, wait, reason)
        )
        skip = self.parking.parked(now) | {batch.batch_id}
        if not self._queue.other_work(skip):
            self.parking.due_now(batch.batch_id)
            return wait  # nothing else to send: this batch again, after its backoff
        self._flight = None  # parked: the batches behind it go meanwhile
        if retry_after is not None or self._streak > 1:
            # The server asked us to slow down, or a second batch in a row
            # failed: it is the server, not the batch. Back off as a whole.
            return backoff_delay(
                self._streak - 2 if retry_after is None else 0, retry_after, self._rng,
                base=self.config.backoff_base_s, cap=self.config.backoff_cap_s,
            )
        return 0.0

    def _retry(
        self,
        flight: Flight,
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
        self.parking.forget(batch.batch_id)
        _log.warning("upload batch dead-lettered (%s): %d events", reason, count)
        self._emit(
            SendStatus(SendState.DEAD_LETTERED, batch.batch_id, len(batch), status, reason=reason)
        )

    def _emit(self, status: SendStatus) -> None:
        """Report ``status`` once this step has released :attr:`io_lock`."""
        if self._on_status is not None:
            self._reports.append(status)

    def _report(self, status: SendStatus) -> None:
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
        with self.io_lock:
            if self._client is not None:
                self._client.close()
                self._client = None
