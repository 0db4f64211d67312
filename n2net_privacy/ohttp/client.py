"""Requests over Oblivious HTTP: the same request, through a relay, unlinkable.

:class:`ObliviousClient` (and :class:`AsyncObliviousClient`) stand in for an
egress client wherever the SDK sends: the uploader's sender and the Gravatar
fetcher. Each ``request()``:

1. meets the egress door for its true purpose (``N2NET_API`` or
   ``GRAVATAR``): host, port, scheme and method allowlist, inspectors and an
   audit entry marked ``via=OHTTP_RELAY`` (:meth:`Egress.inner_door`);
2. is encoded as Binary HTTP, padded to its size bucket
   (:mod:`n2net_privacy.ohttp.padding`) and encapsulated to a *pinned*
   gateway key (RFC 9458);
3. is POSTed to the relay through the egress under purpose ``OHTTP_RELAY``.

The gateway's answer is opened and handed back as an ordinary
:class:`EgressResponse`, so the uploader's retries, idempotency, 413
splitting, ``Retry-After`` and dead-lettering, and the fetcher's caching and
back-off work exactly as on the direct path: the *inner* status drives them.

Keys (:class:`KeyConfigSource`): the device never connects to the gateway.
A configuration is shipped in the app (``key_config``) or fetched through
the relay (``key_config_url``, which must be on the relay's origin), and is
used only when its pin is in ``key_pins`` (see
:mod:`n2net_privacy.ohttp.consistency` for why). Fetches run on their own
schedule, never because a send is about to go; concurrent fetches collapse
into one; an error reply never unpins anything.

Outer trouble is never data loss: a relay or gateway that does not answer
with an encapsulated response, an answer that does not open, no
authenticated key yet, or an ``ohttp-key`` problem (which a relay can forge)
raises :class:`~n2net_privacy.errors.NetworkError`; the sender keeps the
batch and retries. An outer 413 raises
:class:`~n2net_privacy.errors.RelayTooLargeError`, which the sender answers
by splitting, never by dead-lettering.
"""

from __future__ import annotations

import contextlib
import functools
import os
import random
import threading
import time
import weakref
from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Generic, TypeVar
from urllib.parse import urlsplit

from n2net_privacy import ohttp
from n2net_privacy.egress.policy import (
    DEFAULT_PORTS,
    AdmittedRequest,
    AsyncRequestClient,
    EgressResponse,
    InnerDoor,
    OutgoingRequest,
    RequestClient,
)
from n2net_privacy.egress.tls import PinSet
from n2net_privacy.errors import (
    ConfigurationError,
    EgressPolicyError,
    KeyConfigMismatchError,
    NetworkError,
    RelayTooLargeError,
    WireFormatError,
)
from n2net_privacy.ohttp.consistency import (
    KeyCheck,
    KeyVerdict,
    RefreshSchedule,
    check_key_configs,
    pinned,
)
from n2net_privacy.ohttp.padding import bucket_for, pad
from n2net_privacy.redact import get_logger
from n2net_privacy.runtime import Clock, epoch_seconds, require_clock, utc_now

__all__ = [
    "AsyncObliviousClient",
    "AsyncRelayClient",
    "KeyConfigSource",
    "ObliviousClient",
    "ObliviousConfig",
    "RelayClient",
    "is_key_problem",
]

_MAX_KEYS_BYTES = 64 * 1024
_DEFAULT_TTL_S = 3600.0
_DEFAULT_JITTER_S = 300.0
_DEFAULT_RETRY_S = 600.0
_log = get_logger(__name__)


#: What the oblivious clients need from an egress client: the one request shape.
RelayClient = RequestClient
AsyncRelayClient = AsyncRequestClient


def _origin(url: str) -> tuple[str, str, int]:
    parts = urlsplit(url)
    return parts.scheme, (parts.hostname or ""), parts.port or DEFAULT_PORTS.get(parts.scheme, 0)


@dataclass(frozen=True, slots=True)
class ObliviousConfig:
    """Where the relay is, and which gateway keys the app trusts.

    ``key_pins`` is a :class:`~n2net_privacy.egress.PinSet` of
    :func:`~n2net_privacy.ohttp.key_config_pin` values: the gateway's current
    key and at least one backup (its next key), with an expiry. Then give
    ``key_config`` (an ``application/ohttp-keys`` body shipped in the app;
    every entry must be pinned), ``key_config_url`` (on the relay's origin:
    the relay forwards it to the gateway, so the gateway never sees the
    device), or both. Fetches happen ``key_refresh_jitter_s`` at most after
    keys are first needed, then every ``key_config_ttl_s``, ``key_retry_s``
    after a failure.

    >>> import datetime
    >>> from n2net_privacy.egress import PinSet
    >>> ObliviousConfig(                                     # doctest: +SKIP
    ...     relay_url="https://relay.example/n2net",
    ...     key_config_url="https://relay.example/n2net/ohttp-keys",
    ...     key_pins=PinSet({CURRENT_PIN, NEXT_PIN}, expires=datetime.date(2027, 6, 1)))
    """

    relay_url: str
    key_pins: PinSet
    key_config: bytes | None = None
    key_config_url: str | None = None
    key_config_ttl_s: float = _DEFAULT_TTL_S
    key_refresh_jitter_s: float = _DEFAULT_JITTER_S
    key_retry_s: float = _DEFAULT_RETRY_S

    def __post_init__(self) -> None:
        if urlsplit(self.relay_url).scheme not in ("https", "http"):
            raise ConfigurationError("relay_url must be an http(s) URL")
        if not isinstance(self.key_pins, PinSet):
            raise ConfigurationError(
                "key_pins must be a PinSet of key-configuration pins (ohttp.key_config_pin)"
            )
        if self.key_config is None and self.key_config_url is None:
            raise ConfigurationError("give key_config or key_config_url for Oblivious HTTP")
        if self.key_config is not None:
            try:
                configs = ohttp.KeyConfig.decode_list(self.key_config)
            except WireFormatError as exc:
                raise ConfigurationError(f"key_config is not usable: {exc}") from exc
            if len(pinned(self.key_pins, configs)) != len(configs):
                raise ConfigurationError(
                    "key_config holds a configuration that key_pins does not pin"
                )
        if self.key_config_url is not None and _origin(self.key_config_url) != _origin(
            self.relay_url
        ):
            raise ConfigurationError(
                "key_config_url must be on the relay's origin: fetching keys anywhere else "
                "(the gateway) shows that host the device's address"
            )
        for name in ("key_config_ttl_s", "key_retry_s"):
            if getattr(self, name) <= 0:
                raise ConfigurationError(f"{name} must be positive")
        if self.key_refresh_jitter_s < 0:
            raise ConfigurationError("key_refresh_jitter_s must not be negative")


def _condition_wait(condition: threading.Condition, timeout: float | None) -> None:
    condition.wait(timeout)


class KeyConfigSource:
    """The pinned gateway keys in use, refreshed through the relay on a schedule.

    :meth:`start` (called when the owner starts) schedules the first fetch
    within ``key_refresh_jitter_s``, on a thread of its own. :meth:`current`
    never touches the network: it returns the first pinned configuration the
    app shipped or the relay last served, and starts the refresher if nobody
    did (a Gravatar fetcher whose toggle was off at start fetches nothing
    until it is needed). :meth:`refresh` fetches once; concurrent callers
    share that one fetch. :meth:`mismatch` (the gateway refused our key id) only brings the
    next refresh forward: an error reply never unpins. ``wait`` replaces
    every condition wait (the refresher's and a collapsed caller's), so tests
    drive each interleaving; ``background=False`` leaves the refresher thread
    off and the owner calls :meth:`refresh` itself.
    """

    def __init__(
        self,
        config: ObliviousConfig,
        client: Callable[[], RelayClient],
        *,
        clock: Clock = utc_now,
        monotonic: Callable[[], float] = time.monotonic,
        rng: random.Random | None = None,
        wait: Callable[[threading.Condition, float | None], None] = _condition_wait,
        background: bool = True,
    ) -> None:
        ohttp.require_extra()  # fail when the uploader or fetcher is built, not in its loop
        self._config = config
        self._background = background
        self._client = client
        require_clock(clock)
        self._now_s = functools.partial(epoch_seconds, clock)  # Unix seconds, as the pins'
        self._monotonic = monotonic
        self._wait = wait
        self._configs: tuple[ohttp.KeyConfig, ...] = (
            ohttp.KeyConfig.decode_list(config.key_config) if config.key_config else ()
        )
        self._schedule = RefreshSchedule(
            ttl_s=config.key_config_ttl_s,
            jitter_s=config.key_refresh_jitter_s,
            retry_s=config.key_retry_s,
            rng=rng or random.Random(),
        )
        self._verdicts: Counter[KeyVerdict] = Counter()
        self._last: KeyCheck | None = None
        self._warned_expired = False
        self._closed = False
        self._init_process_state()
        _track(self)

    def _init_process_state(self) -> None:
        self._cond = threading.Condition()
        self._fetching = False
        self._round = 0
        self._mismatches = 0
        self._thread: threading.Thread | None = None

    # -- what the clients use --------------------------------------------------

    def start(self) -> None:
        """Schedule the first fetch (a no-op without ``key_config_url``, or once started)."""
        with self._cond:
            if self._config.key_config_url is not None:
                self._start_locked()

    def current(self) -> ohttp.KeyConfig:
        """The pinned configuration to encrypt to; NetworkError when there is none (yet)."""
        with self._cond:
            if self._config.key_pins.lapsed(self._now_s()):
                if not self._warned_expired:
                    self._warned_expired = True
                    _log.warning(
                        "OHTTP key pins expired: nothing is sent until the app ships new pins"
                    )
                raise NetworkError("the OHTTP key pins have expired; events stay queued")
            if self._config.key_config_url is not None:
                self._start_locked()
            if not self._configs:
                raise NetworkError("no authenticated OHTTP key configuration yet; retry later")
            return self._configs[0]

    def mismatch(self) -> None:
        """The gateway (or a relay, forging it) refused our key id: look again soon."""
        with self._cond:
            self._mismatches += 1
            if self._config.key_config_url is not None:
                self._schedule.stale(self._monotonic())
                self._start_locked()
                self._cond.notify_all()

    # -- fetching ----------------------------------------------------------------

    def refresh(self) -> KeyCheck:
        """Fetch the served list through the relay once and keep what is pinned.

        Callers that arrive while a fetch runs wait for it and get its verdict.
        """
        if self._config.key_config_url is None:
            return KeyCheck(KeyVerdict.ACCEPTED, self._configs)
        with self._cond:
            if self._fetching:
                target = self._round
                while self._round == target and not self._closed:
                    self._wait(self._cond, None)
                return self._last or KeyCheck(KeyVerdict.UNUSABLE)
            self._fetching = True
            mismatches = self._mismatches
        check = KeyCheck(KeyVerdict.UNUSABLE)
        try:
            check = self._fetch(self._config.key_config_url)
        finally:
            with self._cond:
                self._fetching = False
                self._round += 1
                self._last = check
                self._verdicts[check.verdict] += 1
                if check.usable:
                    self._configs = check.accepted
                if self._mismatches == mismatches:
                    self._schedule.fetched(self._monotonic(), ok=check.usable)
                # else: a mismatch arrived mid-fetch; its "look again soon" stands.
                self._cond.notify_all()
        self._log(check)
        return check

    def _fetch(self, url: str) -> KeyCheck:
        try:
            client = self._client()
            try:
                response = client.request(
                    "GET",
                    url,
                    headers={"accept": ohttp.KEY_CONFIG_MEDIA_TYPE},
                    max_response_bytes=_MAX_KEYS_BYTES,
                )
            finally:
                client.close()
        except (NetworkError, EgressPolicyError) as exc:
            _log.info("OHTTP key configuration fetch failed: %s", type(exc).__name__)
            return KeyCheck(KeyVerdict.UNUSABLE)
        if response.status != 200:
            return KeyCheck(KeyVerdict.UNUSABLE)
        return check_key_configs(self._config.key_pins, response.content, self._now_s())

    @staticmethod
    def _log(check: KeyCheck) -> None:
        if check.verdict in (KeyVerdict.INCONSISTENT, KeyVerdict.UNPINNED):
            _log.warning(
                "OHTTP key consistency: %d served key configurations are not pinned "
                "(per-device keys or a forged list); they are never used", check.unpinned,
            )
        elif check.verdict is not KeyVerdict.ACCEPTED:
            _log.info("OHTTP key configuration not refreshed (%s)", check.verdict.value)

    # -- the refresher thread -----------------------------------------------------

    def _start_locked(self) -> None:
        if self._closed:
            return
        self._schedule.start(self._monotonic())
        if self._background and (self._thread is None or not self._thread.is_alive()):
            self._thread = threading.Thread(
                target=self._run, name="n2net-ohttp-keys", daemon=True
            )
            self._thread.start()

    def _run(self) -> None:
        while True:
            with self._cond:
                while not self._closed:
                    delay = self._schedule.wait(self._monotonic())
                    if delay == 0.0:
                        break
                    self._wait(self._cond, delay)
                if self._closed:
                    return
            self.refresh()

    # -- what QA and the app can read ----------------------------------------------

    @property
    def key_id(self) -> int | None:
        """The key id requests are encrypted to now (None: no authenticated key yet)."""
        with self._cond:
            return self._configs[0].key_id if self._configs else None

    def due_in(self) -> float | None:
        """Seconds until the next scheduled fetch (0: due now; None: not started)."""
        with self._cond:
            return self._schedule.wait(self._monotonic())

    @property
    def last_check(self) -> KeyCheck | None:
        with self._cond:
            return self._last

    def verdicts(self) -> dict[KeyVerdict, int]:
        """How many fetches ended in each verdict.

        Any INCONSISTENT or UNPINNED is a key-consistency alarm: something
        served keys that are not pinned (per-device keys, or a forged list).
        """
        with self._cond:
            return dict(self._verdicts)

    def close(self) -> None:
        with self._cond:
            self._closed = True
            self._cond.notify_all()

    def _after_fork_in_child(self) -> None:
        self._init_process_state()


_SOURCES: weakref.WeakSet[KeyConfigSource] = weakref.WeakSet()


def _track(source: KeyConfigSource) -> None:
    _SOURCES.add(source)


def _reinit_after_fork() -> None:
    # The parent's refresher thread and any lock it held do not exist here.
    for source in list(_SOURCES):
        source._after_fork_in_child()


if hasattr(os, "register_at_fork"):
    os.register_at_fork(after_in_child=_reinit_after_fork)


# -- sealing and opening --------------------------------------------------------


def is_key_problem(response: EgressResponse) -> bool:
    """Whether an outer answer is the gateway's ``ohttp-key`` problem (RFC 9458 §5.3).

    The client then refetches the key configuration; the conformance kit
    judges a gateway's answer to an unknown key id with this same reading.
    """
    return response.status in (400, 401, 422) and b"ohttp-key" in response.content


@dataclass(frozen=True, slots=True)
class _Sealed:
    body: bytes
    context: ohttp.ClientResponseContext


def _seal(keys: KeyConfigSource, request: AdmittedRequest) -> _Sealed:
    inner = ohttp.bhttp.encode_request(
        request.method,
        request.scheme,
        request.authority,
        request.path,
        headers=request.headers,
        content=request.content,
    )
    try:
        body, context = ohttp.encapsulate_request(keys.current(), pad(inner))
    except KeyConfigMismatchError as exc:
        raise NetworkError(f"the pinned OHTTP key cannot be used: {exc}") from exc
    return _Sealed(body, context)


def _open(keys: KeyConfigSource, sealed: _Sealed, outer: EgressResponse) -> EgressResponse:
    if is_key_problem(outer):
        keys.mismatch()
        raise NetworkError("the OHTTP gateway refused our key id; pinned keys kept, retry later")
    if outer.status == 413:
        raise RelayTooLargeError("the OHTTP relay refused the request's size (HTTP 413)")
    if outer.status != 200 or outer.header("content-type") != ohttp.RESPONSE_MEDIA_TYPE:
        raise NetworkError(f"the OHTTP relay answered HTTP {outer.status}")
    try:
        response = ohttp.bhttp.decode_response(sealed.context.open_response(outer.content))
    except WireFormatError as exc:
        raise NetworkError(f"the OHTTP response could not be opened: {exc}") from exc
    return EgressResponse(
        status=response.status,
        headers={n.decode("ascii"): v.decode("latin-1") for n, v in response.headers},
        content=response.content,
    )


def _outer_limit(max_response_bytes: int | None) -> int | None:
    # The gateway pads the BHTTP answer to its bucket; add the nonce and the tag.
    return None if max_response_bytes is None else bucket_for(max_response_bytes + 1024) + 64


_OUTER_HEADERS = {"content-type": ohttp.REQUEST_MEDIA_TYPE}
_NO_RESPONSE = EgressResponse(status=0, headers={}, content=b"")
_Relay = TypeVar("_Relay", RequestClient, AsyncRequestClient)


class _Relayed(Generic[_Relay]):
    """What both oblivious clients share: the door, the seal and the opening.

    Only the POST to the relay differs (a call or an await), and it happens
    inside :meth:`_exchange`, which audits the inner request either way.
    """

    def __init__(
        self, relay: _Relay, config: ObliviousConfig, keys: KeyConfigSource, door: InnerDoor
    ) -> None:
        self._relay: _Relay = relay
        self._config = config
        self._keys = keys
        self._door = door

    @contextlib.contextmanager
    def _exchange(self, request: OutgoingRequest) -> Iterator[_Exchange]:
        admitted = self._door.admit(request)
        try:
            # No I/O before the POST: keys.current() never fetches.
            sealed = _seal(self._keys, admitted)
            exchange = _Exchange(OutgoingRequest(
                "POST",
                self._config.relay_url,
                headers=_OUTER_HEADERS,
                content=sealed.body,
                timeout=request.timeout,
                max_response_bytes=_outer_limit(request.max_response_bytes),
            ))
            yield exchange
            if exchange.outer is None:
                raise NetworkError("the OHTTP relay was not asked")
            exchange.response = _open(self._keys, sealed, exchange.outer)
        except BaseException as exc:  # cancelled too: the audit entry is written either way
            self._door.done(admitted, None, exc)
            raise
        self._door.done(admitted, exchange.response.status)


@dataclass(slots=True)
class _Exchange:
    post: OutgoingRequest
    outer: EgressResponse | None = None
    response: EgressResponse = _NO_RESPONSE


class ObliviousClient(_Relayed[RequestClient], RequestClient):
    """A blocking client that sends every request through an OHTTP relay.

    ``door`` is :meth:`Egress.inner_door` for the requests' true purpose.
    """

    def send(self, request: OutgoingRequest) -> EgressResponse:
        with self._exchange(request) as exchange:
            exchange.outer = self._relay.send(exchange.post)
        return exchange.response

    def close(self) -> None:
        self._relay.close()


class AsyncObliviousClient(_Relayed[AsyncRequestClient], AsyncRequestClient):
    """The asyncio twin of :class:`ObliviousClient` (the Gravatar batch path)."""

    async def send(self, request: OutgoingRequest) -> EgressResponse:
        with self._exchange(request) as exchange:
            exchange.outer = await self._relay.send(exchange.post)
        return exchange.response

    async def aclose(self) -> None:
        await self._relay.aclose()
