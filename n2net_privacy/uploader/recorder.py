"""The uploader facade: ``record_sms`` and ``record_call``, fast and never in the way.

>>> uploader = Uploader(  # doctest: +SKIP
...     Endpoint("https://api.n2net.com", app_key, server_key), data_dir,
...     key_store=SimulatedAndroidKeystore(), egress=Egress(), region="US")
>>> uploader.record_sms(contact.phones[0]).queued  # doctest: +SKIP
True

Only the number is taken from ``to`` (a string, or anything with a
``.number`` such as :class:`~n2net_privacy.contacts.model.ContactPhone`),
never a name or an email. It is normalized to E.164; a number that cannot be,
a short code or an emergency number is not uploaded but counted by reason
(:meth:`Uploader.skipped_counts`). A queued event is durable when the call
returns; the network is only ever touched by the background sender.

Numbers are normalized once and the result kept in a bounded in-memory
cache (``QueueLimits.normalize_cache_size`` entries, 16,384 by default, 0 turns it off;
inputs longer than 32 characters are never cached, so it cannot hold
arbitrary strings). When full it keeps what it has and does not cache the
newcomer, so a phone's few contacts always hit and a fleet simulation cycling
through N > size numbers still hits size/N of the time, where an LRU would
miss every time. It is never written anywhere.

Fork safety (see :mod:`~n2net_privacy.uploader._process`): the worker is
quiesced around ``fork``; a child reopens the queue and starts its own worker
on first use. Several processes may share one queue file: the counts
(:meth:`Uploader.pending`, :meth:`Uploader.flush`, :meth:`Uploader.close`)
are read from the file, so they cover every process's events, and a batch is
leased to one process at a time (:mod:`~n2net_privacy.uploader.store.queue`).
"""

from __future__ import annotations

import atexit
import contextlib
import os
import sqlite3
import threading
import weakref
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from enum import StrEnum
from pathlib import Path
from typing import Protocol, TypeVar, cast
from urllib.parse import urlsplit

from n2net_privacy import ohttp
from n2net_privacy._closing import ClosingContextManager
from n2net_privacy.checks import ensure_open, require_int, require_type
from n2net_privacy.device import DeviceContext
from n2net_privacy.egress import Egress
from n2net_privacy.egress.policy import Purpose
from n2net_privacy.errors import (
    InvalidArgumentError,
    InvalidArgumentTypeError,
    StorageError,
    UploaderError,
)
from n2net_privacy.ohttp.client import KeyConfigSource, ObliviousClient, ObliviousConfig
from n2net_privacy.phone import PhoneNumberErrorReason, normalize
from n2net_privacy.redact import get_logger
from n2net_privacy.runtime import Runtime
from n2net_privacy.uploader import _process
from n2net_privacy.uploader._process import CrashHook, CrashPoint
from n2net_privacy.uploader.send.sender import PostClient, Sender, SenderConfig, SendStatus
from n2net_privacy.uploader.send.worker import SenderThread
from n2net_privacy.uploader.store.at_rest import KeyStore
from n2net_privacy.uploader.store.drops import DropReason, OnDrop
from n2net_privacy.uploader.store.queue import EventQueue, QueueStats
from n2net_privacy.uploader.wire.models import EVENTS_PATH, ServerKey
from n2net_privacy.uploader.wire.payload import (
    StampCache,
    encode_event,
    encode_with_stamp,
    new_event_id,
)
from n2net_privacy.uploader.wire.seal import server_keys

__all__ = [
    "Endpoint",
    "HasNumber",
    "QueueLimits",
    "RecordOutcome",
    "RecordResult",
    "Uploader",
    "UploaderEvents",
    "encode_event",
]

QUEUE_FILE = "n2net-uploader.sqlite3"
KEY_ALIAS = "n2net-uploader-queue"
MAX_DURATION_S = 2**31 - 1
_log = get_logger(__name__)


class HasNumber(Protocol):
    """Anything carrying a phone number, such as a contact's phone entry."""

    @property
    def number(self) -> str: ...


class RecordOutcome(StrEnum):
    """What ``record_*`` did with the event."""

    QUEUED = "queued"
    """Durably queued; it will be uploaded."""
    SKIPPED = "skipped"
    """Not uploaded: the number is invalid, a short code or an emergency number."""
    DROPPED = "dropped"
    """Not stored: the queue was full of in-flight events, or the disk failed."""


@dataclass(frozen=True, slots=True)
class RecordResult:
    """The value ``record_*`` returns. Carries no number."""

    outcome: RecordOutcome
    event_id: str | None = None
    skip_reason: PhoneNumberErrorReason | None = None

    @property
    def queued(self) -> bool:
        return self.outcome is RecordOutcome.QUEUED


_T = TypeVar("_T")
_MAX_CACHED_INPUT = 32
_Normalized = tuple[str | None, PhoneNumberErrorReason | None]
_LIVE: weakref.WeakSet[Uploader] = weakref.WeakSet()


def _close_all_at_exit() -> None:
    """Bounded best-effort flush at interpreter exit; skips uploaders of another process."""
    for uploader in list(_LIVE):
        if uploader.owned_by_this_process:
            uploader.close(uploader.exit_flush_timeout_s)


atexit.register(_close_all_at_exit)


@dataclass(frozen=True)
class Endpoint:
    """Where the events go: the ingest's URL, the app's key, the server keys, the path.

    ``server_key`` is one key or several (current first, then next: see
    "Rotating the server key" in docs/uploader.md). ``oblivious`` sends every
    upload through an OHTTP relay (docs/ohttp.md), so the ingest never sees
    the device's address. The URL is checked against the egress policy when
    the :class:`Uploader` is built; the rest here.
    """

    api_url: str
    app_key: str
    server_key: ServerKey | Sequence[ServerKey]
    oblivious: ObliviousConfig | None = None

    def __post_init__(self) -> None:
        require_type("api_url", self.api_url, str, hint="such as 'https://api.n2net.com'")
        require_type("app_key", self.app_key, str)
        if not self.app_key or any(ch.isspace() for ch in self.app_key):
            raise InvalidArgumentError("app_key must be a non-empty token without spaces")
        object.__setattr__(self, "server_key", server_keys(self.server_key))
        if self.oblivious is not None:
            require_type("oblivious", self.oblivious, ObliviousConfig)

    @property
    def server_keys(self) -> tuple[ServerKey, ...]:
        """The keys, checked, current first."""
        return cast(tuple[ServerKey, ...], self.server_key)

    def __repr__(self) -> str:  # the app key is a credential
        key_ids = [key.key_id for key in self.server_keys]
        return (
            f"Endpoint(api_url={self.api_url!r}, key_ids={key_ids!r}, "
            f"oblivious={self.oblivious is not None})"
        )


@dataclass(frozen=True, slots=True)
class QueueLimits:
    """What the uploader may hold on the device, and how long it may hold up exit.

    ``max_events`` and ``max_bytes`` bound the queue file (drop-oldest beyond,
    see docs/uploader.md); ``power_safe`` syncs every commit, so not even a
    power loss loses an event (at some cost in throughput); ``normalize_cache_size``
    bounds the in-memory cache of normalized numbers (0 turns it off);
    ``exit_flush_timeout_s`` bounds the best-effort flush at interpreter exit.
    """

    max_events: int = 100_000
    max_bytes: int = 32 * 1024 * 1024
    power_safe: bool = False
    normalize_cache_size: int = 16_384
    exit_flush_timeout_s: float = 1.0

    def __post_init__(self) -> None:
        require_int("max_events", self.max_events, 1)
        require_int("max_bytes", self.max_bytes, 1)
        require_type("power_safe", self.power_safe, bool)
        require_int("normalize_cache_size", self.normalize_cache_size, 0)
        require_type("exit_flush_timeout_s", self.exit_flush_timeout_s, (int, float))


@dataclass(frozen=True, slots=True)
class UploaderEvents:
    """What the app (or a test) hears from the uploader. Every callback is optional.

    ``on_status`` hears of every attempt (:class:`SendStatus`; its only signal of
    ``KEY_REJECTED`` and ``UNAUTHORIZED``), ``on_drop`` of events thrown away on
    the device, ``on_storage_error`` of a queue file that cannot be written or
    read (a full disk). Callbacks run on the SDK's threads, never under its
    locks; one that raises is logged and ignored. ``crash_point`` is a test
    hook called at each :class:`CrashPoint`.
    """

    on_status: Callable[[SendStatus], None] | None = None
    on_drop: OnDrop | None = None
    on_storage_error: Callable[[StorageError], None] | None = None
    crash_point: CrashHook | None = None

    def __post_init__(self) -> None:
        for name in ("on_status", "on_drop", "on_storage_error", "crash_point"):
            value = getattr(self, name)
            if value is not None and not callable(value):
                raise InvalidArgumentTypeError(
                    f"{name} must be callable, not {type(value).__name__}"
                )


class Uploader(ClosingContextManager):
    """Records SMS and calls to a durable encrypted queue and uploads them sealed.

    Configuration errors (a URL the egress policy refuses, a bad region, an
    unusable key store) raise at construction. After that nothing raises for
    network or server trouble: it is retried, dead-lettered or reported to
    ``events.on_status``. ``start=False`` leaves the sender thread off, so a
    test can drive ``uploader.sender.step()`` itself; ``runtime`` gives every
    part its clock, monotonic time, wait and random source.
    """

    def __init__(
        self,
        endpoint: Endpoint,
        data_dir: str | os.PathLike[str],
        *,
        key_store: KeyStore,
        egress: Egress,
        region: str | DeviceContext | None = None,
        sending: SenderConfig | None = None,
        limits: QueueLimits | None = None,
        events: UploaderEvents | None = None,
        runtime: Runtime | None = None,
        start: bool = True,
    ) -> None:
        require_type("endpoint", endpoint, Endpoint,
                     hint="Endpoint(api_url, app_key, server_key)")
        require_type("egress", egress, Egress, hint="build one with Egress(EgressPolicy(...))")
        events_url = _events_url(endpoint.api_url, egress)
        oblivious = endpoint.oblivious
        if oblivious is not None:
            ohttp.require_extra()  # before anything is opened, so nothing is left behind
            egress.policy.check_url(
                Purpose.OHTTP_RELAY, oblivious.relay_url, name="oblivious.relay_url"
            )
            _check_oblivious(egress, oblivious, events_url)
        require_type("data_dir", data_dir, (str, os.PathLike))
        require_type("key_store", key_store, KeyStore,
                     hint="pass SimulatedAndroidKeystore() or SimulatedIOSKeychain()")
        config = _given("sending", sending, SenderConfig)
        limits = _given("limits", limits, QueueLimits)
        events = _given("events", events, UploaderEvents)
        runtime = _given("runtime", runtime, Runtime)
        require_type("start", start, bool)
        normalize("0", region)  # raises ConfigurationError for an unknown region now
        self._region = region
        self._cache: dict[str, _Normalized] = {}
        self._stamps = StampCache()
        self._cache_size = limits.normalize_cache_size
        self._clock = runtime.clock
        self._crash = events.crash_point
        self.exit_flush_timeout_s = limits.exit_flush_timeout_s
        with contextlib.ExitStack() as opened:  # a part that fails closes those before it
            self._queue = EventQueue(
                Path(data_dir) / QUEUE_FILE,
                key_store.at_rest_key(KEY_ALIAS),
                max_events=limits.max_events,
                max_bytes=limits.max_bytes,
                on_drop=events.on_drop,
                on_storage_error=events.on_storage_error,
                crash_point=events.crash_point,
                power_safe=limits.power_safe,
                clock=runtime.clock,
            )
            opened.callback(self._queue.close)
            #: The pinned OHTTP keys in use (None on the direct path); QA reads its verdicts.
            self.oblivious_keys = (
                KeyConfigSource(
                    oblivious,
                    lambda: egress.client(Purpose.OHTTP_RELAY, timeout=config.request_timeout_s),
                    clock=runtime.clock,
                    monotonic=runtime.monotonic,
                )
                if oblivious is not None
                else None
            )
            if self.oblivious_keys is not None:
                opened.callback(self.oblivious_keys.close)
                self.oblivious_keys.start()  # keys at start, never just before a send
            self.sender = Sender(
                self._queue,
                _client_factory(egress, config, oblivious, self.oblivious_keys),
                events_url=events_url,
                app_key=endpoint.app_key,
                server_key=endpoint.server_keys,
                config=config,
                runtime=runtime,
                on_status=events.on_status,
                crash_point=events.crash_point,
            )
            self._worker = SenderThread(self.sender, self._queue, runtime=runtime)
            self._pid = os.getpid()
            self._fork_lock = threading.Lock()
            self._final_stats = QueueStats(0, 0, 0)
            self._started = start
            self._closed = False
            self._drained = False
            if start:
                self._worker.start()
            opened.pop_all()
        _LIVE.add(self)
        _process.register(self)

    # -- recording ------------------------------------------------------------

    def record_sms(self, to: str | HasNumber) -> RecordResult:
        """Queue an SMS to ``to``. Fast (sub-millisecond), durable on return."""
        return self._record(to, None)

    def record_call(self, to: str | HasNumber, duration_s: int) -> RecordResult:
        """Queue a call to ``to`` that lasted ``duration_s`` whole seconds."""
        return self._record(to, require_int("duration_s", duration_s, 0, MAX_DURATION_S))

    def _record(self, to: str | HasNumber, duration_s: int | None) -> RecordResult:
        # The hot path: every step here is paid once per event, so the helpers
        # are inlined (the process check, the cache hit) where that saves calls.
        if self._pid != os.getpid():
            self._check_process()
        if self._closed:
            ensure_open(self._closed, "Uploader")
        raw = to if isinstance(to, str) else getattr(to, "number", None)
        if not isinstance(raw, str):
            raise InvalidArgumentTypeError(
                f"to must be a str or have a str .number (a ContactPhone), not {type(to).__name__}"
            )
        found = self._cache.get(raw)
        e164, reason = found if found is not None else self._normalized(raw)
        if e164 is None:
            reason = reason or PhoneNumberErrorReason.INVALID
            _log.debug("number not uploaded: %s", reason.value)
            self._queue.file.bump(f"skipped:{reason.value}")
            return RecordResult(RecordOutcome.SKIPPED, skip_reason=reason)
        event_id = new_event_id()
        payload = encode_with_stamp(event_id, e164, self._stamps.stamp(self._clock()), duration_s)
        if self._crash is not None:
            self._crash(CrashPoint.RECORD_BEFORE_WRITE)
        if self._queue.append(payload) is None:
            return RecordResult(RecordOutcome.DROPPED)
        if self._crash is not None:
            self._crash(CrashPoint.RECORD_AFTER_WRITE)
        self._worker.notify()
        return RecordResult(RecordOutcome.QUEUED, event_id=event_id)

    def _normalized(self, raw: str) -> _Normalized:
        found = self._cache.get(raw)
        if found is not None:
            return found
        result = normalize(raw, self._region)
        value = (result.e164, result.reason)
        if len(raw) <= _MAX_CACHED_INPUT and len(self._cache) < self._cache_size:
            self._cache[raw] = value
        return value

    def set_server_keys(self, keys: ServerKey | Sequence[ServerKey]) -> None:
        """Replace the server keys (current first, then next) and resume sending at once.

        Events held because the server knew none of the old keys go out under the new ones.
        """
        ensure_open(self._closed, "Uploader")
        self.sender.keys.replace(keys)
        self._worker.kick()

    # -- process and lifecycle -------------------------------------------------

    def before_fork(self) -> None:
        """Fork hook: wait for the attempt in progress, then hold every lock."""
        self.sender.io_lock.acquire()
        self._queue.file.quiesce()

    def after_fork_in_parent(self) -> None:
        self._queue.file.resume()
        self.sender.io_lock.release()

    def after_fork_in_child(self) -> None:
        """Fork hook: fresh locks now; the file is reopened on first use here."""
        self._fork_lock = threading.Lock()
        self._queue.after_fork()
        self._worker.after_fork()

    @property
    def owned_by_this_process(self) -> bool:
        """False in a forked child that has not used this uploader yet."""
        return self._pid == os.getpid()

    def _check_process(self) -> None:
        if self._pid == os.getpid():
            return
        with self._fork_lock:
            if self._pid == os.getpid():
                return
            # A forked child: the parent's thread is gone and its connections are not ours.
            self._queue.reopen()
            self._pid = os.getpid()
            if self._started and not self._closed:
                self._worker.start()

    def flush(self, timeout: float = 5.0) -> bool:
        """Upload everything queued, waiting at most ``timeout`` s. True if drained.

        "Drained" is read from the queue file: no event of any process sharing
        it is left. Never raises; storage trouble reads as not drained.
        """
        try:
            self._check_process()
            if self._closed:
                return self._drained
            return self._worker.flush(timeout)
        except (sqlite3.Error, UploaderError) as exc:
            _log.warning("flush could not read the queue: %s", type(exc).__name__)
            self._queue.report_storage_error("flushing", exc)
            return False

    def close(self, timeout: float = 5.0) -> bool:
        """Flush for at most ``timeout`` s and stop. True if everything was sent.

        What is not sent stays queued for the next start. Idempotent; never raises.
        """
        try:
            self._check_process()
        except (sqlite3.Error, UploaderError) as exc:
            _log.warning("close could not reopen the queue: %s", type(exc).__name__)
            self._queue.report_storage_error("reopening after fork", exc)
        if self._closed:
            return self._drained
        self._closed = True
        stopped = self._worker.stop(timeout)
        if self.oblivious_keys is not None:
            self.oblivious_keys.close()
        try:
            self._final_stats = self._queue.stats()
        except (sqlite3.Error, UploaderError) as exc:
            _log.warning("close could not read the queue: %s", type(exc).__name__)
            self._queue.report_storage_error("closing", exc)
        self._drained = self._final_stats.events == 0
        if not self._drained:
            _log.info(
                "uploader closed with %d events queued for next time", self._final_stats.events
            )
        if not stopped:
            _log.info("uploader closed while a request is still in flight; it ends on its own")
        self._worker.after_exit(self._queue.close)
        _LIVE.discard(self)
        return self._drained

    # -- counts ---------------------------------------------------------------

    def pending(self) -> QueueStats:
        """Events (and sealed bytes) queued on the device now, read from the file.

        Counts every process sharing the queue file; after :meth:`close`, the
        figures as of close. Never raises: storage trouble reads as the last figures.
        """
        if self._closed:
            return self._final_stats
        try:
            self._check_process()
            self._final_stats = self._queue.stats()
        except (sqlite3.Error, UploaderError) as exc:
            _log.warning("pending could not read the queue: %s", type(exc).__name__)
            self._queue.report_storage_error("counting", exc)
        return self._final_stats

    def skipped_counts(self) -> dict[PhoneNumberErrorReason, int]:
        """Numbers not uploaded, by reason (persisted across restarts)."""
        ensure_open(self._closed, "Uploader")
        self._check_process()
        counts = self._queue.file.counters("skipped:")
        return {PhoneNumberErrorReason(k): v for k, v in counts.items()}

    def dropped_counts(self) -> dict[DropReason, int]:
        """Events thrown away locally, by reason (see the queue's drop policy)."""
        ensure_open(self._closed, "Uploader")
        self._check_process()
        return self._queue.dropped_counts()

    def dead_letter_counts(self) -> dict[str, int]:
        """Events the server refused for good, by reason (``"http_422"``, ``"invalid_payload"``)."""
        ensure_open(self._closed, "Uploader")
        self._check_process()
        return self._queue.dead_letter_counts()


def _given(name: str, value: _T | None, kind: type[_T]) -> _T:
    """``value``, checked to be a ``kind``, or a default ``kind()``."""
    if value is None:
        return kind()
    require_type(name, value, kind)
    return value


def _client_factory(
    egress: Egress,
    config: SenderConfig,
    oblivious: ObliviousConfig | None,
    keys: KeyConfigSource | None,
) -> Callable[[], PostClient]:
    """Direct POSTs to the ingest, or (``oblivious``) POSTs through an OHTTP relay."""
    if oblivious is None or keys is None:
        return lambda: egress.client(Purpose.N2NET_API, timeout=config.request_timeout_s)
    # The inner POST meets the door for its true purpose, as a direct one would.
    door = egress.inner_door(Purpose.N2NET_API)
    return lambda: ObliviousClient(
        egress.client(Purpose.OHTTP_RELAY, timeout=config.request_timeout_s), oblivious, keys, door
    )


def _check_oblivious(egress: Egress, oblivious: ObliviousConfig, events_url: str) -> None:
    """At construction: the relay is allowed, and so is the inner POST to the ingest."""
    relay = urlsplit(oblivious.relay_url)
    egress.policy.check(Purpose.OHTTP_RELAY, relay.scheme, relay.hostname or "", relay.port)
    egress.policy.check_method(Purpose.OHTTP_RELAY, "POST", relay.hostname or "")
    inner = urlsplit(events_url)
    egress.policy.check_method(Purpose.N2NET_API, "POST", inner.hostname or "")


def _events_url(api_url: str, egress: Egress) -> str:
    """Check ``api_url`` against the egress policy now, and build the endpoint URL."""
    egress.policy.check_url(Purpose.N2NET_API, api_url, name="api_url")
    return api_url.strip().rstrip("/") + EVENTS_PATH
