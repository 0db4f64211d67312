"""Fetch Gravatar avatars for contacts, only while the user allows it.

:class:`GravatarFetcher` hashes each contact's emails and asks Gravatar for
the hash, through the egress chokepoint (purpose ``GRAVATAR``), never with
the email. It returns values, not exceptions: an :class:`Avatar` or a
:class:`NoAvatar` with its reason, so the app shows initials on any trouble.

The consent switch is read at the moment of use and observed:

* toggle off: no request, ``NoAvatar(DISABLED)`` at once;
* switched off mid-flight: the fetcher is a revocation hook of the Settings
  consent core, so before the setter returns (and whatever the disk does
  with the saved file) no request can start, running :meth:`fetch_many`
  tasks are cancelled, waiting callers get ``DISABLED``, and the caches are
  purged. Every result of an interrupted batch is ``DISABLED``. Requests
  already on the wire when the switch happened are not recalled: their
  answers are discarded.

One lookup per hash is written once, as a generator of actions (sleep, send)
in the sans-I/O manner; :meth:`fetch` and :meth:`fetch_many` only drive it
with blocking and asyncio I/O respectively.

Do not call :meth:`fetch` from inside a running event loop: it blocks.
"""

from __future__ import annotations

import concurrent.futures
import functools
import random
import threading
import time
from collections.abc import Awaitable, Callable, Iterable
from urllib.parse import urlsplit

from n2net_privacy.checks import ensure_open, require_type
from n2net_privacy.consent.core import WithdrawalScope
from n2net_privacy.egress import Egress, Purpose
from n2net_privacy.egress.policy import InnerDoor
from n2net_privacy.errors import InvalidArgumentTypeError, NetworkError
from n2net_privacy.gravatar.backoff import HostBackoff
from n2net_privacy.gravatar.batch import Lanes, RunningBatch
from n2net_privacy.gravatar.cache import AvatarCache, CacheEntry, DiskCache, MemoryCache
from n2net_privacy.gravatar.config import ContactLike, GravatarConfig, GravatarSettings
from n2net_privacy.gravatar.lookup import (
    Outcome,
    Reply,
    Sleep,
    Steps,
    check_contact_like,
    hashes_for,
    lookup_steps,
    summarize,
)
from n2net_privacy.gravatar.result import Avatar, AvatarResult, NoAvatar, NoAvatarReason
from n2net_privacy.ohttp.client import (
    AsyncObliviousClient,
    AsyncRelayClient,
    KeyConfigSource,
    ObliviousClient,
    ObliviousConfig,
    RelayClient,
)
from n2net_privacy.redact import get_logger
from n2net_privacy.runtime import Clock, epoch_seconds, require_clock, utc_now

__all__ = ["GravatarFetcher"]


async def _asyncio_sleep(seconds: float) -> None:
    import asyncio

    await asyncio.sleep(seconds)

_log = get_logger(__name__)
_DISABLED = NoAvatar(NoAvatarReason.DISABLED)
#: How long a revocation waits for a batch's event loop to confirm the cancellation.
_CANCEL_WAIT = 2.0


class GravatarFetcher:
    """Avatars for contacts, through one egress, gated by the Settings toggle.

    >>> fetcher = GravatarFetcher(settings, Egress())      # doctest: +SKIP
    >>> fetcher.fetch(contact)                             # doctest: +SKIP
    NoAvatar(reason=<NoAvatarReason.DISABLED: 'disabled'>)

    ``clock`` (the wall time, a :data:`~n2net_privacy.runtime.Clock`: aware
    UTC; TTLs and Retry-After dates), ``sleep``, ``async_sleep`` and ``rng``
    (back-off jitter) are injectable for tests. ``sleep`` stays a plain sleep,
    not a :class:`~n2net_privacy.runtime.Runtime` ``wait``: a lookup waits out
    a Retry-After in the caller's own thread, holding no condition that a
    revocation could notify (it checks consent again before each request).
    With ``oblivious`` every lookup goes through an Oblivious HTTP relay to a
    gateway that fetches from Gravatar, so Gravatar never sees the device's
    address; the toggle, caches, dedup and back-off apply unchanged.
    """

    def __init__(
        self,
        settings: GravatarSettings,
        egress: Egress,
        config: GravatarConfig | None = None,
        *,
        cache: AvatarCache | None = None,
        clock: Clock = utc_now,
        sleep: Callable[[float], None] = time.sleep,
        async_sleep: Callable[[float], Awaitable[None]] | None = None,
        rng: random.Random | None = None,
        oblivious: ObliviousConfig | None = None,
    ) -> None:
        require_type("egress", egress, Egress, hint="build one with Egress(EgressPolicy(...))")
        if config is not None:
            require_type("config", config, GravatarConfig)
        self.config = config if config is not None else GravatarConfig()
        if oblivious is not None:  # checked now, as the Uploader does, not at the first lookup
            require_type("oblivious", oblivious, ObliviousConfig)
            egress.policy.check_url(
                Purpose.OHTTP_RELAY, oblivious.relay_url, name="oblivious.relay_url"
            )
        self._closed = False
        self._oblivious = oblivious
        #: The pinned OHTTP keys in use (None on the direct path); QA reads its verdicts.
        self.oblivious_keys: KeyConfigSource | None = None
        self._door: InnerDoor | None = None
        if oblivious is not None:
            self._door = _oblivious_door(egress, oblivious, self.config.base_url)
            self.oblivious_keys = KeyConfigSource(
                oblivious,
                lambda: egress.client(Purpose.OHTTP_RELAY, timeout=self.config.timeout),
                clock=clock,
            )
            if settings.gravatar_enabled:
                self.oblivious_keys.start()  # keys at start, never just before a lookup
        self._urls = self.config.url_builder()
        self._settings = settings
        self._egress = egress
        if cache is None:
            disk = DiskCache(self.config.cache_dir) if self.config.cache_dir else None
            cache = AvatarCache(MemoryCache(self.config.memory_entries), disk)
        self.cache = cache
        require_clock(clock)
        self._now_s = functools.partial(epoch_seconds, clock)  # Unix seconds
        self._sleep = sleep
        self._async_sleep = async_sleep
        self._backoff = HostBackoff(self.config.backoff, rng or random.Random())
        self._lock = threading.Lock()  # the in-flight table and memory, never held for I/O
        self._inflight: dict[str, concurrent.futures.Future[AvatarResult]] = {}
        self._batches: set[RunningBatch] = set()
        self._sync_slots = threading.BoundedSemaphore(self.config.concurrency)
        self._client: RelayClient | None = None
        if not settings.gravatar_enabled:
            # Leftovers from a run that ended before a purge finished.
            try:
                self.cache.purge()
            except OSError as exc:
                _log.warning("gravatar disk cache could not be purged: %s", type(exc).__name__)
        self._unsubscribe = settings.on_revoke(self._on_revoke)

    # -- consent -----------------------------------------------------------

    def _on_revoke(self, _change: object) -> None:
        self.revoke()

    def revoke(self) -> None:
        """Stop all work and forget everything now (run when the toggle goes off).

        Runs as a revocation hook of the Settings consent core, after the
        switch-off was published: every lookup's withdrawal scope already
        reads withdrawn, so no new request can start. Waiting callers get
        ``DISABLED``; both cache layers are purged; running
        :meth:`fetch_many` batches are cancelled, and this returns once their
        event loop confirmed it (at most about 2 s), so no request of a batch
        leaves the device after it returns. A cache file that resists
        deletion is logged, never raised: the work has stopped and the
        memory layer is empty either way.
        """
        with self._lock:
            waiting = list(self._inflight.values())
            self._inflight.clear()
            batches = list(self._batches)
            for future in waiting:
                if not future.done():
                    future.set_result(_DISABLED)
            self.cache.memory.clear()
        # The disk outside the lock, so no lookup waits on it: a disk entry read
        # before this purge is promoted to memory only if its scope was not
        # withdrawn (_claim), and a file written after it is removed again (_finish).
        try:
            self.cache.clear_disk()
        except OSError as exc:
            _log.warning("gravatar disk cache could not be purged: %s", type(exc).__name__)
        # Outside the lock: the loop may need it to reach the await where it is cancelled.
        for batch in batches:
            batch.cancel(_CANCEL_WAIT)
        _log.info("gravatar revoked: caches purged, %d batches cancelled", len(batches))

    def _start(self) -> WithdrawalScope | None:
        """A withdrawal scope for work starting now, or None when the toggle is off."""
        scope = self._settings.withdrawal_scope()  # opened first: a later switch-off shows
        return scope if self._settings.gravatar_enabled else None

    def _current(self, scope: WithdrawalScope) -> bool:
        return not scope.withdrawn and self._settings.gravatar_enabled

    # -- one lookup: cache, in-flight table, steps ------------------------

    def _key(self, email_hash: str) -> str:
        return f"{email_hash}.{self._urls.size}.{self._urls.rating.value}"

    def _steps(self, email_hash: str, scope: WithdrawalScope) -> Steps:
        return lookup_steps(
            email_hash, urls=self._urls, config=self.config, backoff=self._backoff,
            now_s=self._now_s, may_send=lambda: self._current(scope),
        )

    def _claim(
        self, key: str, scope: WithdrawalScope
    ) -> AvatarResult | tuple[concurrent.futures.Future[AvatarResult], bool]:
        """A cached result, or the in-flight future and whether we own it.

        Only memory is read under the lock. The owner of a new flight then
        reads the disk without it, so a slow disk delays this key's lookup
        alone; what it read reaches memory only if no revocation came since.
        """
        with self._lock:
            if not self._current(scope):
                return _DISABLED
            entry = self.cache.recall(key, self._now_s())
            if entry is not None:
                return entry.result
            future = self._inflight.get(key)
            if future is not None:
                return future, False
            future = concurrent.futures.Future()
            self._inflight[key] = future
        try:
            entry = self.cache.read_disk(key, self._now_s())
        except BaseException as exc:
            self._abandon(key, future, exc)
            raise
        if entry is None:
            return future, True
        with self._lock:
            current = self._current(scope)
            if current:
                self.cache.remember(key, entry)
            if self._inflight.get(key) is future:
                del self._inflight[key]
        result = entry.result if current else _DISABLED
        if not future.done():
            future.set_result(result)
        return result


    def _finish(
        self,
        key: str,
        future: concurrent.futures.Future[AvatarResult],
        outcome: Outcome,
        scope: WithdrawalScope,
    ) -> AvatarResult:
        result, ttl = outcome
        entry: CacheEntry | None = None
        with self._lock:
            if not self._current(scope):
                result = _DISABLED
            elif ttl > 0:
                entry = CacheEntry(result, self._now_s() + ttl)
                self.cache.remember(key, entry)
            if self._inflight.get(key) is future:
                del self._inflight[key]
        if not future.done():
            future.set_result(result)
        if entry is not None:
            self.cache.write_disk(key, entry)  # outside the lock: nobody waits on it
            if not self._current(scope):
                # A revocation's purge may have run before this file landed.
                self.cache.forget_disk(key)
        return result

    def _abandon(
        self, key: str, future: concurrent.futures.Future[AvatarResult], exc: BaseException
    ) -> None:
        with self._lock:
            if self._inflight.get(key) is future:
                del self._inflight[key]
        if future.done():
            return
        import asyncio

        if isinstance(exc, asyncio.CancelledError):
            future.set_result(NoAvatar(NoAvatarReason.CANCELLED))
        else:
            future.set_exception(exc)

    def _hashes(self, contact: ContactLike) -> list[str]:
        return hashes_for(contact, self._settings.gravatar_hash_algorithm)

    # -- blocking ----------------------------------------------------------

    def fetch(self, contact: ContactLike) -> AvatarResult:
        """The first avatar among the contact's emails, in order, or a :class:`NoAvatar`.

        Blocks for at most about ``timeout`` per email (plus a back-off wait
        of at most ``backoff.max_wait``). Never raises for network trouble,
        a disabled toggle or a bad image.
        """
        ensure_open(self._closed, "GravatarFetcher")
        check_contact_like("contact", contact)
        scope = self._start()
        if scope is None:
            return _DISABLED
        hashes = self._hashes(contact)
        if not hashes:
            return NoAvatar(NoAvatarReason.INVALID_EMAIL)
        reasons: list[NoAvatarReason] = []
        for email_hash in hashes:
            result = self._lookup(email_hash, scope)
            if isinstance(result, Avatar) or result.reason is NoAvatarReason.DISABLED:
                break
            reasons.append(result.reason)
        else:
            result = summarize(reasons)
        return result if self._current(scope) else _DISABLED

    def _lookup(self, email_hash: str, scope: WithdrawalScope) -> AvatarResult:
        key = self._key(email_hash)
        claim = self._claim(key, scope)
        if not isinstance(claim, tuple):
            return claim
        future, owner = claim
        if not owner:
            return future.result()
        try:
            with self._sync_slots:
                outcome = self._drive(self._steps(email_hash, scope))
        except BaseException as exc:
            self._abandon(key, future, exc)
            raise
        return self._finish(key, future, outcome, scope)

    def _drive(self, steps: Steps) -> Outcome:
        reply: Reply = None
        try:
            while True:
                action = steps.send(reply)
                if isinstance(action, Sleep):
                    self._sleep(action.seconds)
                    reply = None
                    continue
                try:
                    reply = self._sync_client().request(
                        "GET", action.url, timeout=self.config.timeout,
                        max_response_bytes=self.config.max_image_bytes,
                    )
                except NetworkError as exc:
                    reply = exc
        except StopIteration as stop:
            outcome: Outcome = stop.value
            return outcome
        finally:
            steps.close()

    def _sync_client(self) -> RelayClient:
        with self._lock:
            if self._client is None:
                self._client = self._new_sync_client()
            return self._client

    def _new_sync_client(self) -> RelayClient:
        keys, door = self.oblivious_keys, self._door
        if self._oblivious is None or keys is None or door is None:
            return self._egress.client(Purpose.GRAVATAR, timeout=self.config.timeout)
        relay = self._egress.client(Purpose.OHTTP_RELAY, timeout=self.config.timeout)
        return ObliviousClient(relay, self._oblivious, keys, door)

    def _new_async_client(self) -> AsyncRelayClient:
        keys, door = self.oblivious_keys, self._door
        if self._oblivious is None or keys is None or door is None:
            return self._egress.async_client(Purpose.GRAVATAR, timeout=self.config.timeout)
        relay = self._egress.async_client(Purpose.OHTTP_RELAY, timeout=self.config.timeout)
        return AsyncObliviousClient(relay, self._oblivious, keys, door)

    # -- asyncio -----------------------------------------------------------

    async def fetch_many(self, contacts: Iterable[ContactLike]) -> list[AvatarResult]:
        """Fetch avatars for many contacts; one result per contact, in order.

        At most ``concurrency`` requests are in flight, and each hash is
        requested once however many contacts share it. If the toggle goes off
        while this runs, every result is ``NoAvatar(DISABLED)``.
        """
        ensure_open(self._closed, "GravatarFetcher")
        if isinstance(contacts, str):
            raise InvalidArgumentTypeError(
                "contacts must be an iterable of contacts, not one str; fetch() takes one"
            )
        require_type("contacts", contacts, Iterable)
        items = list(contacts)
        for index, item in enumerate(items):
            check_contact_like(f"contacts[{index}]", item)
        scope = self._start()
        if scope is None:
            return [_DISABLED] * len(items)
        import asyncio

        loop = asyncio.get_running_loop()
        lanes = Lanes(self.config.concurrency, self._new_async_client)
        batch = RunningBatch(loop)
        with self._lock:
            self._batches.add(batch)
        try:
            batch.tasks = [
                loop.create_task(self._fetch_one(item, scope, lanes)) for item in items
            ]
            outcomes = await asyncio.gather(*batch.tasks, return_exceptions=True)
        finally:
            with self._lock:
                self._batches.discard(batch)
            await lanes.aclose()
        if not self._current(scope):
            return [_DISABLED] * len(items)
        results: list[AvatarResult] = []
        for outcome in outcomes:
            if isinstance(outcome, asyncio.CancelledError):
                results.append(NoAvatar(NoAvatarReason.CANCELLED))
            elif isinstance(outcome, BaseException):
                raise outcome
            else:
                results.append(outcome)
        return results

    async def _fetch_one(
        self,
        contact: ContactLike,
        scope: WithdrawalScope,
        lanes: Lanes,
    ) -> AvatarResult:
        hashes = self._hashes(contact)
        if not hashes:
            return NoAvatar(NoAvatarReason.INVALID_EMAIL)
        reasons: list[NoAvatarReason] = []
        for email_hash in hashes:
            result = await self._lookup_async(email_hash, scope, lanes)
            if isinstance(result, Avatar) or result.reason is NoAvatarReason.DISABLED:
                return result
            reasons.append(result.reason)
        return summarize(reasons)

    async def _lookup_async(
        self,
        email_hash: str,
        scope: WithdrawalScope,
        lanes: Lanes,
    ) -> AvatarResult:
        key = self._key(email_hash)
        claim = self._claim(key, scope)
        if not isinstance(claim, tuple):
            return claim
        future, owner = claim
        if not owner:
            # Shielded: one waiter being cancelled must not cancel the shared lookup.
            import asyncio

            return await asyncio.shield(asyncio.wrap_future(future))
        try:
            async with lanes.lane() as client:
                outcome = await self._drive_async(self._steps(email_hash, scope), client)
        except BaseException as exc:
            self._abandon(key, future, exc)
            raise
        return self._finish(key, future, outcome, scope)

    async def _drive_async(self, steps: Steps, client: AsyncRelayClient) -> Outcome:
        reply: Reply = None
        try:
            while True:
                action = steps.send(reply)
                if isinstance(action, Sleep):
                    await (self._async_sleep or _asyncio_sleep)(action.seconds)
                    reply = None
                    continue
                try:
                    reply = await client.request(
                        "GET", action.url, timeout=self.config.timeout,
                        max_response_bytes=self.config.max_image_bytes,
                    )
                except NetworkError as exc:
                    reply = exc
        except StopIteration as stop:
            outcome: Outcome = stop.value
            return outcome
        finally:
            steps.close()

    # -- lifecycle ---------------------------------------------------------

    def close(self) -> None:
        """Stop observing Settings and close the blocking client.

        Idempotent; :meth:`fetch` and :meth:`fetch_many` afterwards raise
        :class:`ClosedError`.
        """
        self._closed = True
        self._unsubscribe()
        with self._lock:
            client, self._client = self._client, None
        if client is not None:
            client.close()
        if self.oblivious_keys is not None:
            self.oblivious_keys.close()

    def __enter__(self) -> GravatarFetcher:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()


def _oblivious_door(egress: Egress, oblivious: ObliviousConfig, base_url: str) -> InnerDoor:
    """Check the relay and the inner Gravatar target now; the door checks each request again.

    Under OHTTP the device never connects to Gravatar, but the target it
    names inside must still be on the ``GRAVATAR`` allowlist: otherwise the
    gateway would fetch whatever host a misconfigured ``base_url`` names.
    """
    relay = urlsplit(oblivious.relay_url)
    egress.policy.check(Purpose.OHTTP_RELAY, relay.scheme, relay.hostname or "", relay.port)
    egress.policy.check_method(Purpose.OHTTP_RELAY, "POST", relay.hostname or "")
    target = urlsplit(base_url)
    egress.policy.check(Purpose.GRAVATAR, target.scheme, target.hostname or "", target.port)
    egress.policy.check_method(Purpose.GRAVATAR, "GET", target.hostname or "")
    return egress.inner_door(Purpose.GRAVATAR)
