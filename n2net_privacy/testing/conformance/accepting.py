"""Checks of what an ingest must accept: valid batches, replays, duplicates, rotation."""

from __future__ import annotations

from n2net_privacy.testing.conformance.model import Check, CheckFailed
from n2net_privacy.testing.conformance.session import Session

__all__ = ["ACCEPTING"]


def _same(got: list[str], want: tuple[str, ...] | list[str]) -> bool:
    return sorted(got) == sorted(want)


def valid_batch_accepted(session: Session) -> None:
    batch = session.batch(2)
    exchange = session.send(batch)
    reply = session.reply(exchange, "a valid sealed batch")
    media_type = exchange.headers.get("content-type", "").split(";", 1)[0].strip().lower()
    if media_type != "application/json":
        raise CheckFailed("the 200 reply's Content-Type is not application/json")
    if not _same(reply.accepted, batch.ids) or reply.duplicates:
        raise CheckFailed(
            "a batch of fresh events must come back with every id in accepted and none in"
            f" duplicates; got {len(reply.accepted)} accepted, {len(reply.duplicates)} duplicates"
            f" for {len(batch.ids)} events"
        )


def idempotency_replay(session: Session) -> None:
    batch = session.batch(2)
    batch_id = session.new_id()
    first = session.send(batch, batch_id=batch_id)
    first_reply = session.reply(first, "the first send")
    again = session.send(batch, batch_id=batch_id)  # sealed again: different bytes
    again_reply = session.reply(again, "the same Idempotency-Key and plaintext, sealed again")
    if (again_reply.accepted, again_reply.duplicates) != (
        first_reply.accepted, first_reply.duplicates
    ):
        raise CheckFailed(
            "a repeat of the Idempotency-Key with the same plaintext did not get the stored"
            " reply back unchanged"
        )
    later = session.reply(session.send(batch), "the same events under a new Idempotency-Key")
    if later.accepted or not _same(later.duplicates, batch.ids):
        raise CheckFailed(
            "after the replay, the same events in a new batch were not all reported as"
            f" duplicates ({len(later.accepted)} accepted again): they were stored twice"
        )


def idempotency_key_conflict(session: Session) -> None:
    batch_id = session.new_id()
    session.reply(session.send(session.batch(1), batch_id=batch_id), "the first send")
    other = session.batch(2)
    conflict = session.send(other, batch_id=batch_id)
    if conflict.status != 422 or conflict.error_code != "idempotency_key_reused":
        raise CheckFailed(
            "the same Idempotency-Key with a different plaintext must get 422"
            f" idempotency_key_reused; got {conflict.describe()}"
        )
    session.expect_not_stored(other, "the conflicting batch")


def replayed_ids_duplicate(session: Session) -> None:
    earlier = session.batch(2)
    session.reply(session.send(earlier), "the first batch")
    fresh = session.new_id()
    mixed = session.batch(ids=(earlier.ids[0], fresh))
    reply = session.reply(session.send(mixed), "a new batch holding an earlier event id")
    if reply.accepted != [fresh] or reply.duplicates != [earlier.ids[0]]:
        raise CheckFailed(
            "a new batch with one stored and one fresh event id must accept only the fresh"
            f" one and report the other as a duplicate; got {len(reply.accepted)} accepted,"
            f" {len(reply.duplicates)} duplicates"
        )


def duplicate_within_batch(session: Session) -> None:
    event_id = session.new_id()
    batch = session.batch(ids=(event_id, event_id))
    reply = session.reply(session.send(batch), "a batch holding one event id twice")
    if reply.accepted != [event_id] or reply.duplicates != [event_id]:
        raise CheckFailed(
            "an id repeated inside one batch must be stored once: once in accepted, once in"
            f" duplicates; got {len(reply.accepted)} accepted, {len(reply.duplicates)} duplicates"
        )


def every_server_key_accepted(session: Session) -> None:
    for key in session.target.server_keys:
        batch = session.batch(1)
        reply = session.reply(session.send(batch, key=key), f"a batch sealed to key {key.key_id}")
        if reply.accepted != list(batch.ids):
            raise CheckFailed(f"a fresh event sealed to key {key.key_id} was not accepted")


def rotation_reseal_accepted(session: Session) -> None:
    keys = session.target.server_keys
    retired = f"conformance-retired-{session.new_id()[:8]}"
    batch = session.batch(2)
    batch_id = session.new_id()
    headers = {**session.headers(batch_id=batch_id), "N2Net-Key-Id": retired}
    session.post(headers, session.sealed(batch))  # judged by unknown-key-id, not here
    following = keys[1] if len(keys) > 1 else keys[0]
    resealed = session.send(batch, key=following, batch_id=batch_id)
    reply = session.reply(
        resealed,
        f"the batch resealed to key {following.key_id} under the same Idempotency-Key",
    )
    if not _same(reply.accepted, batch.ids):
        raise CheckFailed(
            "the resealed batch was not accepted in full: the refused attempt must not have"
            " stored the events or the Idempotency-Key"
        )


ACCEPTING: tuple[Check[Session], ...] = (
    Check(
        "valid-batch-accepted",
        "A valid sealed batch is answered 200 with Content-Type application/json and the"
        " reply {\"accepted\": [...], \"duplicates\": [...]}, read by the SDK's parser;"
        " fresh events are all in accepted.",
        valid_batch_accepted,
    ),
    Check(
        "idempotency-replay",
        "A repeat of an Idempotency-Key with the same plaintext (sealed again, so different"
        " bytes) gets the stored reply back unchanged, and the events are stored once: the"
        " same events in a new batch are all duplicates.",
        idempotency_replay,
    ),
    Check(
        "idempotency-key-conflict",
        "A repeat of an Idempotency-Key with a different plaintext gets 422"
        " idempotency_key_reused, and nothing of it is stored.",
        idempotency_key_conflict,
    ),
    Check(
        "replayed-ids-duplicate",
        "Each event id is stored at most once across every batch: an id replayed inside a new"
        " batch is reported in duplicates, the fresh one in accepted.",
        replayed_ids_duplicate,
    ),
    Check(
        "duplicate-within-batch",
        "duplicates lists events the server already held, from an earlier batch or earlier in"
        " this one: an id twice in one batch is accepted once and reported duplicate once.",
        duplicate_within_batch,
    ),
    Check(
        "every-server-key-accepted",
        "The server picks the private key (and with it the KEM) by N2Net-Key-Id: a batch sealed"
        " to each configured server key is accepted.",
        every_server_key_accepted,
    ),
    Check(
        "rotation-reseal-accepted",
        "After 401 unknown_key_id the SDK reseals the same batch to its next key under the"
        " same Idempotency-Key; error replies are not stored, so that resend is accepted in full.",
        rotation_reseal_accepted,
    ),
)
