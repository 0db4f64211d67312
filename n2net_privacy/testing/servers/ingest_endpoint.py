"""The reference ``POST /v1/events`` decision, without sockets.

:class:`IngestEndpoint` turns (path, headers, body) into a :class:`Reply`:
the checks in order, the seal opened, the plaintext validated and the
events stored. :mod:`n2net_privacy.testing.servers.ingest` only moves bytes.

======  =========================  =============================================
Status  ``error``                  When
======  =========================  =============================================
404     not_found                  path is not ``/v1/events``
401     unauthorized               missing or wrong ``Authorization: Bearer``
415     unsupported_media_type     ``Content-Type`` is not the sealed type
400     missing_key_id             no ``N2Net-Key-Id``
401     unknown_key_id             ``N2Net-Key-Id`` names no key of this server
400     missing_idempotency_key    no ``Idempotency-Key``
400     unsealable                 the body does not open with that key
422     invalid_batch              the plaintext breaks v1 (``paths`` names fields)
422     idempotency_key_reused     same key, different batch
200     (reply)                    ``{"accepted": [...], "duplicates": [...]}``
======  =========================  =============================================
"""

from __future__ import annotations

import hashlib
import hmac
import json
import threading
from collections.abc import Mapping
from dataclasses import dataclass

from n2net_privacy.errors import WireFormatError
from n2net_privacy.testing.servers.ingest_store import EventStore
from n2net_privacy.uploader.wire import (
    CONTENT_TYPE,
    EVENTS_PATH,
    ServerKeyPair,
    decode_batch,
    open_sealed,
)

__all__ = ["IngestEndpoint", "Reply", "error_reply"]


@dataclass(frozen=True, slots=True)
class Reply:
    """An HTTP reply: status, JSON body, optional ``Retry-After``."""

    status: int
    body: bytes
    retry_after: str | None = None
    replayed: bool = False


def error_reply(
    status: int,
    code: str,
    detail: str,
    paths: tuple[str, ...] = (),
    retry_after: str | None = None,
) -> Reply:
    """A JSON error body ``{"error", "detail"[, "paths"]}``; never carries a value."""
    payload: dict[str, object] = {"error": code, "detail": detail}
    if paths:
        payload["paths"] = list(paths)
    return Reply(status, json.dumps(payload).encode("utf-8"), retry_after=retry_after)


class _Rejected(Exception):
    def __init__(self, reply: Reply) -> None:
        super().__init__(reply.status)
        self.reply = reply


class IngestEndpoint:
    """Wire contract v1 as the server enforces it. Thread-safe."""

    def __init__(
        self, keys: Mapping[str, ServerKeyPair], *, app_key: str, store: EventStore
    ) -> None:
        self._keys_lock = threading.Lock()
        self._keys = dict(keys)
        self._app_key = app_key.encode("utf-8")
        self._store = store

    def set_keys(self, keys: Mapping[str, ServerKeyPair]) -> None:
        """Serve exactly these keys from now on (key rotation)."""
        with self._keys_lock:
            self._keys = dict(keys)

    def key_ids(self) -> tuple[str, ...]:
        with self._keys_lock:
            return tuple(self._keys)

    def handle(self, path: str, headers: Mapping[str, str], body: bytes) -> Reply:
        """Answer one POST; ``headers`` must have lower-case names."""
        try:
            pair, idempotency_key = self._admit(path, headers)
            plaintext = self._open(body, pair)
        except _Rejected as rejected:
            return rejected.reply
        try:
            batch = decode_batch(plaintext)
        except WireFormatError as exc:
            return error_reply(422, "invalid_batch", str(exc), exc.paths)
        result = self._store.store(
            batch,
            idempotency_key=idempotency_key,
            digest=hashlib.sha256(plaintext).digest(),
        )
        if result.conflict:
            return error_reply(
                422, "idempotency_key_reused", "Idempotency-Key was used for a different batch"
            )
        return Reply(200, result.reply, replayed=result.replayed)

    def _admit(self, path: str, headers: Mapping[str, str]) -> tuple[ServerKeyPair, str]:
        if path.split("?", 1)[0] != EVENTS_PATH:
            raise _Rejected(error_reply(404, "not_found", f"only POST {EVENTS_PATH}"))
        scheme, _, token = headers.get("authorization", "").partition(" ")
        # compare_digest: the app key must not leak through response timing.
        if scheme != "Bearer" or not hmac.compare_digest(token.encode("utf-8"), self._app_key):
            raise _Rejected(error_reply(401, "unauthorized", "missing or wrong app key"))
        media_type = headers.get("content-type", "").split(";", 1)[0].strip().lower()
        if media_type != CONTENT_TYPE:
            raise _Rejected(
                error_reply(415, "unsupported_media_type", f"Content-Type must be {CONTENT_TYPE}")
            )
        key_id = headers.get("n2net-key-id", "")
        if not key_id:
            raise _Rejected(error_reply(400, "missing_key_id", "N2Net-Key-Id is required"))
        with self._keys_lock:
            pair = self._keys.get(key_id)
        if pair is None:
            raise _Rejected(
                error_reply(401, "unknown_key_id", "N2Net-Key-Id names no key of this server")
            )
        idempotency_key = headers.get("idempotency-key", "")
        if not idempotency_key:
            raise _Rejected(
                error_reply(400, "missing_idempotency_key", "Idempotency-Key is required")
            )
        return pair, idempotency_key

    @staticmethod
    def _open(body: bytes, pair: ServerKeyPair) -> bytes:
        try:
            return open_sealed(body, pair.private_key)
        except WireFormatError as exc:
            raise _Rejected(error_reply(400, "unsealable", str(exc))) from None
