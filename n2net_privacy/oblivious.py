"""Requests over Oblivious HTTP: the same request, through a relay, unlinkable.

:class:`ObliviousClient` (and :class:`AsyncObliviousClient`) stand in for an
egress client wherever the SDK sends: the uploader's sender and the Gravatar
fetcher. Each ``request()`` is encoded as a Binary HTTP request,
encapsulated to the gateway's key (RFC 9458) and POSTed to the relay through
the egress under purpose ``OHTTP_RELAY``. The gateway's answer is opened and
handed back as an ordinary :class:`EgressResponse`, so the uploader's
retries, idempotency, 413 splitting, ``Retry-After`` and dead-lettering, and
the fetcher's caching and back-off, work exactly as on the direct path: the
*inner* status drives them.

Outer trouble is never data loss. A relay or gateway that does not answer
with an encapsulated response, an answer that does not open, or a gateway
that no longer holds our key id (the RFC 9458 §5.3 ``ohttp-key`` problem)
raises :class:`~n2net_privacy.errors.NetworkError`: the sender keeps the
batch and retries, and a key mismatch first drops the cached key config so
the next attempt fetches the current one.

The events body inside keeps its own wire-v1 seal to the ingest key, so a
gateway run by someone other than the ingest cannot read events either.
This module does no I/O of its own: it wraps the egress client it is given.
"""

from __future__ import annotations

import asyncio
import threading
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Protocol
from urllib.parse import urlsplit

from n2net_privacy import ohttp
from n2net_privacy.egress_policy import EgressResponse, RequestClient
from n2net_privacy.errors import ConfigurationError, NetworkError, WireFormatError

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


RelayClient = RequestClient
"""What the oblivious client needs from an egress client (``EgressClient`` fits)."""


class AsyncRelayClient(Protocol):
    """The asyncio twin (``AsyncEgressClient`` fits)."""

    async def request(
        self,
        method: str,
        url: str,
        *,
        headers: Mapping[str, str] | None = None,
        content: bytes | None = None,
        timeout: float | None = None,
        max_response_bytes: int | None = None,
    ) -> EgressResponse: ...

    async def aclose(self) -> None: ...
_DEFAULT_TTL_S = 3600.0


@dataclass(frozen=True, slots=True)
class ObliviousConfig:
    """Where the relay is, and how to learn the gateway's key.

    Give ``key_config`` (an ``application/ohttp-keys`` body, for a pinned
    key) or ``key_config_url`` (fetched through the relay's egress purpose
    and cached for ``key_config_ttl_s``), or both: the URL then refreshes
    the pinned config after a rotation.
    """

    relay_url: str
    key_config: bytes | None = None
    key_config_url: str | None = None
    key_config_ttl_s: float = _DEFAULT_TTL_S

    def __post_init__(self) -> None:
        if urlsplit(self.relay_url).scheme not in ("https", "http"):
            raise ConfigurationError("relay_url must be an http(s) URL")
        if self.key_config is None and self.key_config_url is None:
            raise ConfigurationError("give key_config or key_config_url for Oblivious HTTP")
        if self.key_config is not None:
            try:
                ohttp.KeyConfig.decode_list(self.key_config)
            except WireFormatError as exc:
                raise ConfigurationError(f"key_config is not usable: {exc}") from exc
        if self.key_config_ttl_s <= 0:
            raise ConfigurationError("key_config_ttl_s must be positive")


class KeyConfigSource:
    """The gateway key config in use: pinned, fetched, cached, and dropped on mismatch."""

    def __init__(
        self,
        config: ObliviousConfig,
        client: Callable[[], RelayClient],
        *,
        monotonic: Callable[[], float] = time.monotonic,
    ) -> None:
        self._config = config
        self._client = client
        self._monotonic = monotonic
        self._lock = threading.Lock()
        self._pinned = ohttp.KeyConfig.decode_list(config.key_config) if config.key_config else None
        self._fetched: tuple[ohttp.KeyConfig, ...] | None = None
        self._fetched_at = 0.0
        self._stale = False

    def current(self) -> ohttp.KeyConfig:
        """The config to encrypt to; fetches when there is none or it is stale."""
        with self._lock:
            fresh = (
                self._fetched is not None
                and not self._stale
                and self._monotonic() - self._fetched_at < self._config.key_config_ttl_s
            )
            if fresh and self._fetched:
                return self._fetched[0]
            if self._config.key_config_url is None:
                assert self._pinned is not None
                return self._pinned[0]
            if self._pinned is not None and not self._stale and self._fetched is None:
                return self._pinned[0]
        configs = self._fetch()
        with self._lock:
            self._fetched, self._fetched_at, self._stale = configs, self._monotonic(), False
        return configs[0]

    def mismatch(self) -> None:
        """The gateway refused our key id: fetch the config again before the next try."""
        with self._lock:
            self._stale = True

    def _fetch(self) -> tuple[ohttp.KeyConfig, ...]:
        assert self._config.key_config_url is not None
        client = self._client()
        try:
            response = client.request(
                "GET",
                self._config.key_config_url,
                headers={"accept": ohttp.KEY_CONFIG_MEDIA_TYPE},
                max_response_bytes=_MAX_KEYS_BYTES,
            )
        finally:
            client.close()
        if response.status != 200:
            raise NetworkError(f"OHTTP key config fetch answered HTTP {response.status}")
        try:
            return ohttp.KeyConfig.decode_list(response.content)
        except WireFormatError as exc:
            raise NetworkError(f"OHTTP key config is not usable: {exc}") from exc


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


def _seal(
    keys: KeyConfigSource,
    method: str,
    url: str,
    headers: Mapping[str, str] | None,
    content: bytes | None,
) -> _Sealed:
    target = urlsplit(url)
    path = (target.path or "/") + (f"?{target.query}" if target.query else "")
    inner = ohttp.bhttp.encode_request(
        method.upper(),
        target.scheme,
        target.netloc,
        path,
        headers=list((headers or {}).items()),
        content=content or b"",
    )
    body, context = ohttp.encapsulate_request(keys.current(), inner)
    return _Sealed(body, context)


def _open(keys: KeyConfigSource, sealed: _Sealed, outer: EgressResponse) -> EgressResponse:
    if is_key_problem(outer):
        keys.mismatch()
        raise NetworkError("the OHTTP gateway does not hold our key id; refetching its config")
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
    # The encapsulation adds a nonce, a tag and the BHTTP framing around the body.
    return None if max_response_bytes is None else max_response_bytes + 1024


_OUTER_HEADERS = {"content-type": ohttp.REQUEST_MEDIA_TYPE}


class ObliviousClient:
    """A blocking client that sends every request through an OHTTP relay."""

    def __init__(self, relay: RelayClient, config: ObliviousConfig, keys: KeyConfigSource) -> None:
        self._relay = relay
        self._config = config
        self._keys = keys

    def request(
        self,
        method: str,
        url: str,
        *,
        headers: Mapping[str, str] | None = None,
        content: bytes | None = None,
        timeout: float | None = None,
        max_response_bytes: int | None = None,
    ) -> EgressResponse:
        sealed = _seal(self._keys, method, url, headers, content)
        outer = self._relay.request(
            "POST",
            self._config.relay_url,
            headers=_OUTER_HEADERS,
            content=sealed.body,
            timeout=timeout,
            max_response_bytes=_outer_limit(max_response_bytes),
        )
        return _open(self._keys, sealed, outer)

    def close(self) -> None:
        self._relay.close()


class AsyncObliviousClient:
    """The asyncio twin of :class:`ObliviousClient` (the Gravatar batch path)."""

    def __init__(
        self, relay: AsyncRelayClient, config: ObliviousConfig, keys: KeyConfigSource
    ) -> None:
        self._relay = relay
        self._config = config
        self._keys = keys

    async def request(
        self,
        method: str,
        url: str,
        *,
        headers: Mapping[str, str] | None = None,
        content: bytes | None = None,
        timeout: float | None = None,
        max_response_bytes: int | None = None,
    ) -> EgressResponse:
        # A key-config fetch blocks; keep it off the event loop.
        sealed = await asyncio.to_thread(_seal, self._keys, method, url, headers, content)
        outer = await self._relay.request(
            "POST",
            self._config.relay_url,
            headers=_OUTER_HEADERS,
            content=sealed.body,
            timeout=timeout,
            max_response_bytes=_outer_limit(max_response_bytes),
        )
        return _open(self._keys, sealed, outer)

    async def aclose(self) -> None:
        await self._relay.aclose()
