"""Wire contract v1: the plaintext models, their canonical JSON, headers and reply.

What leaves the device is exactly::

    {"schema": "n2net.events/1", "events": [{"id": "<uuid>", "type": "sms" | "call",
     "number": "<E.164>", "at": "<RFC 3339 UTC, whole seconds, Z>",
     "duration_s": <int >= 0, calls only>}]}

sealed with HPKE (see :mod:`n2net_privacy.uploader.wire.seal`, re-exported
here) and POSTed to ``/v1/events``. The models are strict, so nothing else
can ride along; the reply model is lenient, so the server may grow.
Validation errors name the field path, never the value: a phone number must
not end up in a log because a batch was malformed.
"""

from __future__ import annotations

import json
import re
import uuid
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from typing import Any, Final, Literal, Self

from pydantic import (
    ConfigDict,
    Field,
    ValidationError,
    ValidationInfo,
    field_validator,
    model_validator,
)
from pydantic_core import PydanticCustomError

from n2net_privacy.errors import WireFormatError
from n2net_privacy.models import LenientModel, StrictModel
from n2net_privacy.redact import scrub
from n2net_privacy.uploader.wire.seal import (
    HPKE_INFO,
    ServerKey,
    ServerKeyPair,
    open_sealed,
    seal,
)

__all__ = [
    "CONTENT_TYPE",
    "EVENTS_PATH",
    "HPKE_INFO",
    "SCHEMA",
    "UUID_PATTERN",
    "EventBatch",
    "IngestReply",
    "ServerKey",
    "ServerKeyPair",
    "WireEvent",
    "decode_batch",
    "encode_batch",
    "error_code",
    "json_schema",
    "open_sealed",
    "parse_reply",
    "request_headers",
    "seal",
]

SCHEMA: Final = "n2net.events/1"
CONTENT_TYPE = "application/n2net-sealed"
EVENTS_PATH = "/v1/events"

E164_PATTERN = r"^\+[1-9][0-9]{1,14}$"
UUID_PATTERN = r"^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$"
TIMESTAMP_PATTERN = r"^[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:[0-9]{2}Z$"
MAX_DURATION_S = 2**31 - 1
_TIMESTAMP = re.compile(TIMESTAMP_PATTERN)
_ZERO = timedelta(0)
_ROOT_ERROR_PATHS = {"missing_schema": "schema"}
# hide_input_in_errors: a pydantic error must never echo a number back.
_WIRE_CONFIG = ConfigDict(
    frozen=True,
    extra="forbid",
    strict=True,
    hide_input_in_errors=True,
    validate_by_name=True,
    validate_by_alias=True,
    serialize_by_alias=True,
)


def _utc_second(at: datetime) -> datetime:
    if at.tzinfo is None or at.utcoffset() is None:
        raise WireFormatError("invalid event: at: must be timezone-aware", paths=("at",))
    return at.astimezone(UTC).replace(microsecond=0)


def _wire_error(exc: ValidationError, what: str) -> WireFormatError:
    paths: list[str] = []
    parts: list[str] = []
    errors = exc.errors(include_url=False, include_input=False, include_context=False)
    locs = [error["loc"] for error in errors]
    for error in errors:
        # pydantic adds "too short" for a list whose items failed; the item errors say it.
        if any(len(other) > len(error["loc"]) and other[: len(error["loc"])] == error["loc"]
               for other in locs):
            continue
        loc = ".".join(str(part) for part in error["loc"])
        # Messages never hold the input (hide_input_in_errors), but a field
        # *name* can itself be a number: scrub the path.
        path = scrub(loc or _ROOT_ERROR_PATHS.get(error["type"], "<root>"))
        paths.append(path)
        parts.append(f"{path}: {error['msg'].removeprefix('Value error, ')}")
    return WireFormatError(f"invalid {what}: " + "; ".join(parts), paths=tuple(paths))


class WireEvent(StrictModel):
    """One SMS or call: the number and its pertinent metadata, nothing else."""

    model_config = _WIRE_CONFIG

    id: str = Field(pattern=UUID_PATTERN, description="Event UUID, lower-case, hyphenated.")
    type: Literal["sms", "call"]
    number: str = Field(pattern=E164_PATTERN, description="The other party, E.164.")
    at: datetime = Field(
        description="When, RFC 3339 UTC, whole seconds, with Z.",
        json_schema_extra={"pattern": TIMESTAMP_PATTERN},
    )
    duration_s: int | None = Field(
        default=None,
        ge=0,
        le=MAX_DURATION_S,
        description="Call duration in seconds; calls only, omitted for SMS.",
    )

    @classmethod
    def sms(cls, id: str | uuid.UUID, number: str, at: datetime) -> WireEvent:
        """An SMS event; ``at`` may be any aware datetime (made UTC, whole seconds)."""
        return cls._build({"id": str(id), "type": "sms", "number": number, "at": _utc_second(at)})

    @classmethod
    def call(
        cls,
        id: str | uuid.UUID,
        number: str,
        at: datetime,
        duration_s: int,
    ) -> WireEvent:
        """A call event; ``at`` may be any aware datetime (made UTC, whole seconds)."""
        return cls._build(
            {
                "id": str(id),
                "type": "call",
                "number": number,
                "at": _utc_second(at),
                "duration_s": duration_s,
            }
        )

    @classmethod
    def _build(cls, data: dict[str, Any]) -> WireEvent:
        try:
            return cls.model_validate(data)
        except ValidationError as exc:
            raise _wire_error(exc, "event") from None

    @field_validator("at", mode="before")
    @classmethod
    def _check_at(cls, value: object) -> object:
        if isinstance(value, str):
            if not _TIMESTAMP.fullmatch(value):
                raise ValueError("must be RFC 3339 UTC with whole seconds and Z")
            return datetime.fromisoformat(value)  # ValueError for e.g. month 13
        if isinstance(value, datetime):
            if value.tzinfo is None or value.utcoffset() != _ZERO:
                raise ValueError("must be timezone-aware UTC")
            if value.microsecond:
                raise ValueError("must be whole seconds")
            # pydantic's JSON form of a UTC datetime without microseconds is
            # exactly the v1 form, "2026-11-29T03:04:05Z" (tested byte for byte).
            return value.replace(tzinfo=UTC)
        return value

    @field_validator("duration_s", mode="before")
    @classmethod
    def _no_null_duration(cls, value: object, info: ValidationInfo) -> object:
        # On the wire an SMS omits the key; an explicit null is a different shape.
        if value is None and info.mode == "json":
            raise ValueError("must be omitted rather than null")
        return value

    @model_validator(mode="after")
    def _duration_matches_type(self) -> Self:
        if self.type == "call" and self.duration_s is None:
            raise ValueError("duration_s is required for a call")
        if self.type == "sms" and self.duration_s is not None:
            raise ValueError("duration_s is not allowed for an sms")
        return self


class EventBatch(StrictModel):
    """The plaintext of one upload: the schema tag and the events."""

    model_config = ConfigDict(
        **_WIRE_CONFIG,
        json_schema_extra={"required": ["schema", "events"]},
    )

    schema_: Literal["n2net.events/1"] = Field(default=SCHEMA, alias="schema")
    events: tuple[WireEvent, ...] = Field(min_length=1)

    @classmethod
    def of(cls, events: Sequence[WireEvent]) -> EventBatch:
        """A v1 batch of ``events`` (at least one)."""
        try:
            return cls(events=tuple(events))
        except ValidationError as exc:
            raise _wire_error(exc, "batch") from None

    @model_validator(mode="before")
    @classmethod
    def _schema_present(cls, data: object, info: ValidationInfo) -> object:
        # In Python the tag defaults; in JSON it must be spelled out.
        if info.mode == "json" and isinstance(data, dict) and "schema" not in data:
            raise PydanticCustomError("missing_schema", "Field required")
        return data

    @field_validator("events", mode="before")
    @classmethod
    def _events_as_tuple(cls, value: object) -> object:
        return tuple(value) if isinstance(value, list) else value


class IngestReply(LenientModel):
    """The server's 200 reply: which event ids it stored now, which it already had."""

    accepted: list[str]
    duplicates: list[str]


def encode_batch(batch: EventBatch) -> bytes:
    """The canonical plaintext: compact JSON with exactly the v1 keys."""
    return batch.model_dump_json(by_alias=True, exclude_none=True).encode("utf-8")


def decode_batch(plaintext: bytes) -> EventBatch:
    """Parse a plaintext strictly against v1; raise :class:`WireFormatError` otherwise."""
    try:
        return EventBatch.model_validate_json(plaintext)
    except ValidationError as exc:
        raise _wire_error(exc, "batch") from None


def request_headers(app_key: str, batch_id: str, key_id: str) -> dict[str, str]:
    """The four v1 headers; ``batch_id`` is reused on every retry of that batch."""
    return {
        "Content-Type": CONTENT_TYPE,
        "Authorization": f"Bearer {app_key}",
        "Idempotency-Key": batch_id,
        "N2Net-Key-Id": key_id,
    }


def parse_reply(status: int, body: bytes) -> IngestReply:
    """Read a 2xx reply. 200 must carry the v1 reply; an empty non-200 2xx is empty.

    Raises :class:`WireFormatError` for a malformed 200 body and for any
    status outside 2xx, which carries no ingest reply.
    """
    if not 200 <= status < 300:
        raise WireFormatError(f"status {status} carries no ingest reply")
    if status != 200 and not body.strip():
        return IngestReply(accepted=[], duplicates=[])
    try:
        return IngestReply.model_validate_json(body)
    except ValidationError as exc:
        raise _wire_error(exc, "reply") from None


def json_schema() -> dict[str, Any]:
    """The JSON Schema (draft 2020-12) of the v1 plaintext, generated from the models."""
    schema = EventBatch.model_json_schema(by_alias=True, mode="validation")
    schema["$schema"] = "https://json-schema.org/draft/2020-12/schema"
    schema["$id"] = f"urn:n2net:schema:{SCHEMA}"
    event = schema["$defs"]["WireEvent"]
    # Conditional rules pydantic cannot express from the types alone.
    event["allOf"] = [
        {
            "if": {"properties": {"type": {"const": "call"}}},
            "then": {"required": ["duration_s"]},
            "else": {"not": {"required": ["duration_s"]}},
        }
    ]
    event["properties"]["duration_s"] = {
        "type": "integer",
        "minimum": 0,
        "maximum": MAX_DURATION_S,
        "description": event["properties"]["duration_s"].get("description", ""),
        "title": "Duration S",
    }
    event["$comment"] = (
        "duration_s is an integer literal: 42, never 42.0 or 4.2e1. JSON Schema counts 42.0"
        " as an integer; decode_batch and the reference server reject it."
    )
    return schema


def error_code(body: bytes) -> str | None:
    """The ``error`` field of a JSON error reply, if there is one."""
    try:
        value = json.loads(body)
    except ValueError:
        return None
    code = value.get("error") if isinstance(value, dict) else None
    return code if isinstance(code, str) else None
