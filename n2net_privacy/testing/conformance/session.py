"""One conformance run's connection to the ingest: batches, probes and the exchange log.

Every request goes through the SDK's egress door (the ``client`` is an
:class:`~n2net_privacy.egress.EgressClient` or anything shaped like one),
every body is sealed with the SDK's own :func:`~n2net_privacy.uploader.wire.seal`,
every valid plaintext comes from the SDK's wire models, and replies are read
with the SDK's own parsers. A retryable reply (``429``, ``503``, other
``5xx``, ``408``) is retried as the SDK would, after the SDK's backoff
honouring ``Retry-After``; every attempt is kept in :attr:`Session.exchanges`
for the checks that judge the whole run.
"""

from __future__ import annotations

import json
import re
import uuid
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from typing import Any

from n2net_privacy.egress.policy import RequestClient
from n2net_privacy.errors import NetworkError, NetworkTimeout, WireFormatError
from n2net_privacy.retry import backoff_delay, parse_retry_after
from n2net_privacy.testing.conformance.model import CheckFailed, KitRuntime, Target
from n2net_privacy.uploader.send.decisions import Outcome, classify
from n2net_privacy.uploader.wire import (
    EVENTS_PATH,
    EventBatch,
    IngestReply,
    ServerKey,
    WireEvent,
    encode_batch,
    parse_reply,
    request_headers,
    seal,
)
from n2net_privacy.uploader.wire.models import error_code
from n2net_privacy.wording import plural

__all__ = ["Batch", "Exchange", "ProbeClient", "Session", "compact_json"]

_MAX_REPLY_BYTES = 64 * 1024
_TOKEN = re.compile(r"[a-z0-9_]{1,64}")


@dataclass(frozen=True, slots=True)
class Batch:
    """A plaintext the kit sends, with the event ids and numbers it holds."""

    ids: tuple[str, ...]
    plaintext: bytes


@dataclass(frozen=True, slots=True)
class Exchange:
    """One attempt: what the check sent it for, and what came back (or did not)."""

    check: str
    status: int | None
    headers: Mapping[str, str]
    body: bytes
    elapsed_s: float
    observed_at: datetime
    error: str | None = None
    timed_out: bool = False

    @property
    def error_code(self) -> str | None:
        """The reply's ``error`` code, shown only when it is a plain token."""
        code = error_code(self.body)
        return code if code is not None and _TOKEN.fullmatch(code) else None

    def describe(self) -> str:
        """``"401 unknown_key_id"``, ``"200"`` or ``"network error: ConnectError"``."""
        if self.status is None:
            return self.error or "no reply"
        code = self.error_code
        return f"{self.status} {code}" if code else str(self.status)


ProbeClient = RequestClient
"""What the kit needs from the egress door (:class:`~n2net_privacy.egress.EgressClient`):
the one request shape, whose bodies may be chunks (the ``411`` probe)."""


def compact_json(value: Any) -> bytes:
    """JSON as the wire writes it: compact UTF-8."""
    return json.dumps(value, separators=(",", ":"), ensure_ascii=False).encode("utf-8")


class Session:
    """The state of one run: the target, the door's client, the runtime and the log."""

    def __init__(self, target: Target, client: ProbeClient, runtime: KitRuntime) -> None:
        self.target = target
        self.client = client
        self.runtime = runtime
        self.events_url = target.url.rstrip("/").removesuffix(EVENTS_PATH) + EVENTS_PATH
        self.exchanges: list[Exchange] = []
        self.sent_values: set[str] = set()
        """Every number the kit sent: no reply may echo one."""
        self.check = ""
        """The name of the check now running (each exchange is labelled with it)."""

    # -- what to send -------------------------------------------------------

    def new_id(self) -> str:
        return str(uuid.UUID(int=self.runtime.rng.getrandbits(128), version=4))

    def _number(self) -> str:
        # 555-0100..0199: reserved for fiction in the North American plan.
        number = f"+1202555{self.runtime.rng.randrange(100, 200):04d}"
        self.sent_values.add(number)
        return number

    def batch(self, count: int = 2, *, ids: Iterable[str] = ()) -> Batch:
        """A valid v1 batch built by the SDK's models: SMS and calls, fresh ids unless given."""
        chosen = list(ids) or [self.new_id() for _ in range(count)]
        at = self.runtime.now().astimezone(UTC).replace(microsecond=0)
        events = [
            WireEvent.call(event_id, self._number(), at, duration_s=42)
            if index % 2
            else WireEvent.sms(event_id, self._number(), at)
            for index, event_id in enumerate(chosen)
        ]
        return Batch(tuple(chosen), encode_batch(EventBatch.of(events)))

    def altered(self, batch: Batch, field: str, value: object) -> Batch:
        """The batch with ``field`` of its first event set to ``value`` (a v1 breach)."""
        document = json.loads(batch.plaintext)
        document["events"][0][field] = value
        if isinstance(value, str):
            self.sent_values.add(value)
        return replace(batch, plaintext=compact_json(document))

    def sealed(self, batch: Batch, key: ServerKey | None = None) -> bytes:
        return seal(batch.plaintext, key or self.target.server_keys[0])

    def headers(
        self, *, key: ServerKey | None = None, batch_id: str | None = None
    ) -> dict[str, str]:
        """The SDK's four v1 headers for a fresh (or the given) batch id."""
        return request_headers(
            self.target.app_key,
            batch_id or self.new_id(),
            (key or self.target.server_keys[0]).key_id,
        )

    # -- sending ------------------------------------------------------------

    def post(
        self,
        headers: Mapping[str, str],
        content: bytes | Iterable[bytes],
    ) -> Exchange:
        """POST once, retrying a retryable status as the SDK does; the last attempt."""
        exchange = self._attempt(headers, content)
        for attempt in range(self.runtime.max_attempts - 1):
            status = exchange.status
            if status is None or status < 400 or classify(status) is not Outcome.RETRY:
                break
            retry_after = parse_retry_after(
                exchange.headers.get("retry-after"), exchange.observed_at
            )
            self.runtime.sleep(
                backoff_delay(attempt, retry_after, self.runtime.rng, cap=self.runtime.max_wait_s)
            )
            exchange = self._attempt(headers, content)
        return exchange

    def _attempt(self, headers: Mapping[str, str], content: bytes | Iterable[bytes]) -> Exchange:
        body = content if isinstance(content, bytes) else list(content)
        payload: bytes | Iterable[bytes] = body if isinstance(body, bytes) else iter(body)
        started = self.runtime.monotonic()
        status: int | None = None
        reply_headers: Mapping[str, str] = {}
        reply_body = b""
        error: str | None = None
        timed_out = False
        try:
            response = self.client.request(
                "POST", self.events_url, headers=headers, content=payload,
                timeout=self.target.request_timeout_s, max_response_bytes=_MAX_REPLY_BYTES,
            )
        except NetworkTimeout as exc:
            error, timed_out = str(exc), True
        except NetworkError as exc:
            error = str(exc)
        else:
            status, reply_headers, reply_body = response.status, response.headers, response.content
        exchange = Exchange(
            check=self.check,
            status=status,
            headers=dict(reply_headers),
            body=reply_body,
            elapsed_s=self.runtime.monotonic() - started,
            observed_at=self.runtime.now(),
            error=error,
            timed_out=timed_out,
        )
        self.exchanges.append(exchange)
        return exchange

    def send(
        self, batch: Batch, *, key: ServerKey | None = None, batch_id: str | None = None
    ) -> Exchange:
        """Seal ``batch`` to ``key`` and POST it with the SDK's headers."""
        return self.post(self.headers(key=key, batch_id=batch_id), self.sealed(batch, key))

    # -- judging ------------------------------------------------------------

    def reply(self, exchange: Exchange, what: str) -> IngestReply:
        """The 200 reply read by the SDK's parser, or :class:`CheckFailed` saying why not."""
        if exchange.status != 200:
            raise CheckFailed(f"{what}: expected 200, got {exchange.describe()}")
        try:
            return parse_reply(200, exchange.body)
        except WireFormatError as exc:
            raise CheckFailed(f"{what}: the 200 reply does not match the schema ({exc})") from None

    def expect_status(self, exchange: Exchange, status: int, what: str) -> None:
        if exchange.status != status:
            raise CheckFailed(f"{what}: expected {status}, got {exchange.describe()}")

    def expect_not_stored(self, batch: Batch, what: str) -> None:
        """The events of a refused batch were not stored: a clean resend is all accepted."""
        clean = self.batch(ids=batch.ids)
        reply = self.reply(self.send(clean), f"{what}, then the same event ids in a valid batch")
        if sorted(reply.accepted) != sorted(set(batch.ids)):
            raise CheckFailed(
                f"{what}: the refused batch was stored after all; its event ids came back"
                f" as {plural(len(reply.duplicates), 'duplicate')} in a later valid batch"
            )
