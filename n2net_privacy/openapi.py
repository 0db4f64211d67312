"""The OpenAPI 3.1 document of ``POST /v1/events``, generated from the wire models.

    n2net-privacy schema --openapi > n2net-ingest.openapi.json

:func:`openapi_document` builds it from the same pydantic models as
``n2net-privacy schema`` (:func:`~n2net_privacy.uploader.wire.json_schema`
for the sealed plaintext, :class:`~n2net_privacy.uploader.wire.IngestReply`
for the 200 reply) plus :class:`ErrorReply` for every error body, so a
backend in any language can check its ingest against what devices send and
expect. It states the headers, the sealed content type and its HPKE suites,
each status with the ``error`` codes it may carry, and ``Retry-After`` where
the client honours it. The test suite validates it with
``openapi-spec-validator`` and checks the reference server's real replies
against it.
"""

from __future__ import annotations

import copy
from typing import Any, Final

from pydantic import BaseModel, ConfigDict, Field

from n2net_privacy._version import __version__
from n2net_privacy.uploader.wire import (
    CONTENT_TYPE,
    EVENTS_PATH,
    HPKE_INFO,
    SCHEMA,
    IngestReply,
    json_schema,
)

__all__ = ["ERROR_CODES", "KEY_ID_PATTERN", "OPENAPI_VERSION", "ErrorReply", "openapi_document"]

OPENAPI_VERSION: Final = "3.1.0"
_REF = "#/components/schemas/{model}"
KEY_ID_PATTERN: Final = r"^[A-Za-z0-9._-]{1,64}$"

ERROR_CODES: Final[dict[int, tuple[str, ...]]] = {
    400: ("missing_key_id", "missing_idempotency_key", "unsealable"),
    401: ("unauthorized", "unknown_key_id"),
    411: ("length_required",),
    413: ("payload_too_large",),
    415: ("unsupported_media_type",),
    422: ("invalid_batch", "idempotency_key_reused"),
}
"""The ``error`` codes each status may carry, in the order the reference server checks."""

_STATUS_TEXT: Final[dict[int, str]] = {
    400: "A header is missing or the body does not open with that key, suite and `info`."
    " Final: the client dead-letters the batch.",
    401: "`unauthorized`: wrong or missing app key. `unknown_key_id`: the server holds no"
    " key of that id; the client reseals to its next configured key under the same"
    " Idempotency-Key. Either way the client drops nothing.",
    411: "No Content-Length. Final.",
    413: "The body exceeds the server's limit. The client splits the batch in two and"
    " sends each half under a new Idempotency-Key.",
    415: "Content-Type is not " + CONTENT_TYPE + ". Final.",
    422: "`invalid_batch`: the plaintext breaks " + SCHEMA + " (`paths` names the fields)."
    " `idempotency_key_reused`: the Idempotency-Key was used for a different plaintext."
    " Final.",
}


class ErrorReply(BaseModel):
    """Every error reply. It never contains a field's value."""

    model_config = ConfigDict(extra="allow", title="ErrorReply", defer_build=True)

    error: str = Field(description="A stable machine-readable code, e.g. `unknown_key_id`.")
    detail: str = Field(description="A human-readable explanation; never a field's value.")
    paths: list[str] | None = Field(
        default=None,
        description="`invalid_batch` only: the offending field paths, e.g. `events.0.number`.",
    )


def _rewrite_refs(node: Any) -> Any:
    """``#/$defs/X`` (JSON Schema) -> ``#/components/schemas/X`` (OpenAPI)."""
    if isinstance(node, dict):
        return {
            key: (value.replace("#/$defs/", "#/components/schemas/")
                  if key == "$ref" and isinstance(value, str) else _rewrite_refs(value))
            for key, value in node.items()
        }
    if isinstance(node, list):
        return [_rewrite_refs(item) for item in node]
    return node


def _component_schemas() -> dict[str, Any]:
    plaintext = copy.deepcopy(json_schema())
    defs = plaintext.pop("$defs", {})
    plaintext.pop("$schema", None)
    # A $id would make "#/components/..." resolve against the id, not this document.
    schema_id = plaintext.pop("$id", None)
    plaintext["description"] = (
        f"The plaintext inside the seal ({SCHEMA}); the same schema as"
        f" `n2net-privacy schema` ({schema_id})."
    )
    schemas: dict[str, Any] = {"EventBatch": plaintext, **defs}
    schemas["IngestReply"] = IngestReply.model_json_schema(ref_template=_REF)
    error = ErrorReply.model_json_schema(ref_template=_REF)
    # Absent rather than null: the server omits `paths` except for invalid_batch.
    error["properties"]["paths"] = {
        "type": "array", "items": {"type": "string"},
        "description": error["properties"]["paths"]["description"],
    }
    schemas["ErrorReply"] = error
    schemas["SealedBody"] = {
        "type": "string",
        "format": "binary",
        "description": (
            "HPKE base mode (RFC 9180), single shot: `enc || AES-128-GCM ciphertext`,"
            f" `info` = `{HPKE_INFO.decode('ascii')}`, empty `aad`, sealed to the server"
            " key that N2Net-Key-Id names. KEM 0x0020 DHKEM(X25519, HKDF-SHA256) for an"
            " X25519 key (enc 32 bytes), or 0x647A MLKEM768-X25519 (X-Wing) for a hybrid"
            " key (enc 1120 bytes); KDF 0x0001 HKDF-SHA256; AEAD 0x0001 AES-128-GCM."
            " It opens to an EventBatch."
        ),
    }
    rewritten: dict[str, Any] = _rewrite_refs(schemas)
    return rewritten


def _error_response(status: int) -> dict[str, Any]:
    return {
        "description": _STATUS_TEXT[status],
        "content": {"application/json": {"schema": {
            "allOf": [
                {"$ref": _REF.format(model="ErrorReply")},
                {"properties": {"error": {"enum": list(ERROR_CODES[status])}}},
            ],
        }}},
    }


def _retry_response(description: str) -> dict[str, Any]:
    return {
        "description": description,
        "headers": {"Retry-After": {"$ref": "#/components/headers/Retry-After"}},
        "content": {"application/json": {"schema": {"$ref": _REF.format(model="ErrorReply")}}},
    }


def _operation() -> dict[str, Any]:
    responses: dict[str, Any] = {
        "200": {
            "description": "Every event of the batch is stored: `accepted` now, `duplicates`"
            " already held. A repeat of the Idempotency-Key with the same plaintext gets the"
            " stored reply again.",
            "content": {"application/json": {
                "schema": {"$ref": _REF.format(model="IngestReply")},
            }},
        },
    }
    responses.update({str(status): _error_response(status) for status in ERROR_CODES})
    responses["429"] = _retry_response(
        "Too many requests. The client retries the same batch after Retry-After or its backoff."
    )
    responses["5XX"] = _retry_response(
        "Server trouble. The client retries the same batch after Retry-After or its backoff"
        " (501 and 505 are final)."
    )
    return {
        "operationId": "postEvents",
        "summary": "Upload one sealed batch of SMS and call events",
        "description": (
            "The device sends one batch per request, sealed to the server's public key, and"
            " retries it under the same Idempotency-Key until it gets a final answer. Event"
            " ids are stored once across every batch and retry. Content-Length is required."
        ),
        "security": [{"appKey": []}],
        "parameters": [
            {
                "name": "Idempotency-Key",
                "in": "header",
                "required": True,
                "description": "The batch id, reused on every retry of the same batch.",
                "schema": {"type": "string", "minLength": 1},
            },
            {
                "name": "N2Net-Key-Id",
                "in": "header",
                "required": True,
                "description": "The server key the body is sealed to, and with it the KEM.",
                "schema": {"type": "string", "pattern": KEY_ID_PATTERN},
            },
        ],
        "requestBody": {
            "required": True,
            "description": "The sealed batch. Servers ignore Content-Type parameters and case.",
            "content": {CONTENT_TYPE: {
                "schema": {"$ref": _REF.format(model="SealedBody")},
                "x-n2net-plaintext": {"$ref": _REF.format(model="EventBatch")},
            }},
        },
        "responses": responses,
    }


def openapi_document() -> dict[str, Any]:
    """The OpenAPI 3.1 document of ``POST /v1/events`` (a fresh dict on every call)."""
    return {
        "openapi": OPENAPI_VERSION,
        "jsonSchemaDialect": "https://json-schema.org/draft/2020-12/schema",
        "info": {
            "title": "N2Net ingest: wire contract v1",
            "version": __version__,
            "summary": f"POST {EVENTS_PATH}: sealed {SCHEMA} batches from the N2Net SDK.",
            "description": "Generated from the SDK's wire models; see docs/wire-format.md.",
        },
        "paths": {EVENTS_PATH: {"post": _operation()}},
        "components": {
            "schemas": _component_schemas(),
            "headers": {
                "Retry-After": {
                    "description": "Seconds (decimals tolerated) or an HTTP date. A positive"
                    " value replaces the client's backoff, capped at its backoff_cap_s.",
                    "schema": {"type": "string"},
                },
            },
            "securitySchemes": {
                "appKey": {
                    "type": "http",
                    "scheme": "bearer",
                    "description": "The app's key: `Authorization: Bearer <app key>`.",
                },
            },
        },
    }
