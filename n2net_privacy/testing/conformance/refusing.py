"""Checks of what an ingest must refuse, each with its documented status.

Where the refused request carried real events, the check then sends the
same event ids in a valid batch: they must all be accepted, which shows the
refusal stored nothing.
"""

from __future__ import annotations

from collections.abc import Callable

from n2net_privacy.testing.conformance.model import Check, CheckFailed
from n2net_privacy.testing.conformance.session import Batch, Exchange, Session
from n2net_privacy.uploader.send.decisions import Outcome, classify

__all__ = ["REFUSING"]


def _without(headers: dict[str, str], name: str) -> dict[str, str]:
    return {key: value for key, value in headers.items() if key.lower() != name.lower()}


def _refused(session: Session, exchange: Exchange, status: int, batch: Batch, what: str) -> None:
    session.expect_status(exchange, status, what)
    session.expect_not_stored(batch, what)


def unknown_key_id(session: Session) -> None:
    batch = session.batch(1)
    headers = {**session.headers(), "N2Net-Key-Id": f"conformance-unknown-{session.new_id()[:8]}"}
    exchange = session.post(headers, session.sealed(batch))
    # The SDK's own reading: 401 holds the batch, and only this code moves to the next key.
    if exchange.status is None or classify(exchange.status) is not Outcome.HOLD:
        raise CheckFailed(
            f"an unknown N2Net-Key-Id must get 401 unknown_key_id; got {exchange.describe()},"
            " which the SDK does not read as a key to rotate away from"
        )
    if exchange.error_code != "unknown_key_id":
        raise CheckFailed(
            f"an unknown N2Net-Key-Id got {exchange.describe()}: without the error code"
            " unknown_key_id the SDK holds the events instead of rotating keys"
        )
    session.expect_not_stored(batch, "the batch under an unknown key id")


def wrong_app_key_refused(session: Session) -> None:
    for label, headers in (
        ("a wrong app key", {**session.headers(), "Authorization": "Bearer conformance-wrong"}),
        ("no Authorization header", _without(session.headers(), "Authorization")),
    ):
        batch = session.batch(1)
        exchange = session.post(headers, session.sealed(batch))
        session.expect_status(exchange, 401, label)
        if exchange.error_code == "unknown_key_id":
            raise CheckFailed(f"{label} was answered unknown_key_id: the SDK would rotate keys")
        session.expect_not_stored(batch, label)


def missing_key_id(session: Session) -> None:
    batch = session.batch(1)
    exchange = session.post(_without(session.headers(), "N2Net-Key-Id"), session.sealed(batch))
    _refused(session, exchange, 400, batch, "a request without N2Net-Key-Id")


def missing_idempotency_key(session: Session) -> None:
    batch = session.batch(1)
    exchange = session.post(_without(session.headers(), "Idempotency-Key"), session.sealed(batch))
    _refused(session, exchange, 400, batch, "a request without Idempotency-Key")


def tampered_ciphertext(session: Session) -> None:
    batch = session.batch(1)
    body = bytearray(session.sealed(batch))
    body[-20] ^= 0x01  # one bit of the ciphertext, just before the tag
    exchange = session.post(session.headers(), bytes(body))
    _refused(session, exchange, 400, batch, "a sealed body with one bit flipped")


def _invalid(field: str, value: object, what: str) -> Callable[[Session], None]:
    """A check that one v1 breach in an otherwise valid batch is refused with 422."""

    def check(session: Session) -> None:
        batch = session.batch(1)
        altered = session.altered(batch, field, value)
        exchange = session.send(altered)
        _refused(session, exchange, 422, batch, what)

    return check


def wrong_content_type(session: Session) -> None:
    batch = session.batch(1)
    headers = {**session.headers(), "Content-Type": "application/json"}
    exchange = session.post(headers, session.sealed(batch))
    _refused(session, exchange, 415, batch, "Content-Type application/json")


def missing_length(session: Session) -> None:
    batch = session.batch(1)
    body = session.sealed(batch)
    # Given as chunks, the door frames it Transfer-Encoding: chunked, with no length.
    exchange = session.post(session.headers(), iter((body[:32], body[32:])))
    _refused(session, exchange, 411, batch, "a body without Content-Length (chunked)")


def oversize_body(session: Session) -> None:
    size = session.target.oversize_bytes
    exchange = session.post(session.headers(), bytes(size))
    session.expect_status(exchange, 413, f"a body of {size:,} bytes")


REFUSING: tuple[Check[Session], ...] = (
    Check(
        "unknown-key-id",
        "An N2Net-Key-Id the server does not hold is answered 401 with"
        " {\"error\": \"unknown_key_id\"}: the reply that makes the SDK move to its next key"
        " instead of holding or dropping the events. Nothing is stored.",
        unknown_key_id,
    ),
    Check(
        "wrong-app-key-refused",
        "A missing or wrong Authorization: Bearer app key is answered 401 (not unknown_key_id),"
        " and nothing is stored.",
        wrong_app_key_refused,
    ),
    Check(
        "missing-key-id-refused",
        "A request without N2Net-Key-Id is answered 400 (missing_key_id); nothing is stored.",
        missing_key_id,
    ),
    Check(
        "missing-idempotency-key-refused",
        "A request without Idempotency-Key is answered 400 (missing_idempotency_key);"
        " nothing is stored.",
        missing_idempotency_key,
    ),
    Check(
        "tampered-ciphertext-refused",
        "A body that does not open with the named key, suite and info (here: one ciphertext"
        " bit flipped) is answered 400 (unsealable); nothing is stored.",
        tampered_ciphertext,
    ),
    Check(
        "extra-field-refused",
        "Any key outside v1, at any level, is an error: a batch whose event carries an extra"
        " field is answered 422 (invalid_batch); nothing is stored.",
        _invalid("device", "conformance-kit", "an event with an extra field"),
    ),
    Check(
        "non-e164-number-refused",
        "number is E.164, ^\\+[1-9][0-9]{1,14}$: a national-format number is answered 422"
        " (invalid_batch); nothing is stored.",
        _invalid("number", "(202) 555-0172", "a number that is not E.164"),
    ),
    Check(
        "timestamp-not-whole-seconds-refused",
        "at is RFC 3339 UTC with whole seconds and Z: a fraction of a second is answered 422"
        " (invalid_batch); nothing is stored.",
        _invalid("at", "2026-11-29T03:04:05.250Z", "a timestamp with a fraction of a second"),
    ),
    Check(
        "timestamp-not-utc-refused",
        "at is RFC 3339 UTC with Z: an offset such as +02:00 is answered 422 (invalid_batch);"
        " nothing is stored.",
        _invalid("at", "2026-11-29T05:04:05+02:00", "a timestamp with an offset"),
    ),
    Check(
        "wrong-content-type-refused",
        "A Content-Type other than application/n2net-sealed is answered 415"
        " (unsupported_media_type); nothing is stored.",
        wrong_content_type,
    ),
    Check(
        "missing-length-refused",
        "A body without Content-Length (sent chunked) is answered 411 (length_required);"
        " nothing is stored.",
        missing_length,
    ),
    Check(
        "oversize-body-refused",
        "A body over the server's limit is answered 413 (payload_too_large), the status on"
        " which the SDK splits a batch.",
        oversize_body,
    ),
)
