"""The minimal-metadata uploader: wire contract v1, retry policy, queue and sender.

Pure parts: :mod:`~n2net_privacy.uploader.wire` (models, canonical JSON,
HPKE seal, headers, reply) and :mod:`~n2net_privacy.uploader.send.decisions` (what to
do after an attempt, and how long to wait).

On the device: :class:`~n2net_privacy.uploader.recorder.Uploader` (the facade),
:mod:`~n2net_privacy.uploader.store.at_rest` (at-rest keys),
:mod:`~n2net_privacy.uploader.store.queue` (the encrypted SQLite queue) and
:mod:`~n2net_privacy.uploader.send.sender` / :mod:`~n2net_privacy.uploader.send.worker`
(attempts and the background thread). See docs/uploader.md.

The recorder's names (:class:`Uploader`, :class:`RecordResult`, ...) load on
first use: the recorder brings the HTTP client, and importing a pure name from
here (``ServerKeyPair``, ``classify``) must not.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from n2net_privacy._lazy import lazy_names
from n2net_privacy.uploader.crashpoints import CrashPoint
from n2net_privacy.uploader.send.decisions import (
    Outcome,
    backoff_delay,
    classify,
    failure_reason,
    parse_retry_after,
)
from n2net_privacy.uploader.send.sender import SenderConfig, SendState, SendStatus
from n2net_privacy.uploader.store.at_rest import (
    AtRestKey,
    KeyStore,
)
from n2net_privacy.uploader.store.drops import DropReason
from n2net_privacy.uploader.store.queue import QueueStats
from n2net_privacy.uploader.wire.models import (
    CONTENT_TYPE,
    EVENTS_PATH,
    HPKE_INFO,
    SCHEMA,
    EventBatch,
    IngestReply,
    ServerKey,
    ServerKeyPair,
    WireEvent,
    decode_batch,
    encode_batch,
    json_schema,
    open_sealed,
    parse_reply,
    request_headers,
    seal,
)

if TYPE_CHECKING:
    from n2net_privacy.uploader.recorder import HasNumber, RecordOutcome, RecordResult, Uploader

__all__ = [
    "CONTENT_TYPE",
    "EVENTS_PATH",
    "HPKE_INFO",
    "SCHEMA",
    "AtRestKey",
    "CrashPoint",
    "DropReason",
    "EventBatch",
    "HasNumber",
    "IngestReply",
    "KeyStore",
    "Outcome",
    "QueueStats",
    "RecordOutcome",
    "RecordResult",
    "SendState",
    "SendStatus",
    "SenderConfig",
    "ServerKey",
    "ServerKeyPair",
    "Uploader",
    "WireEvent",
    "backoff_delay",
    "classify",
    "decode_batch",
    "encode_batch",
    "failure_reason",
    "json_schema",
    "open_sealed",
    "parse_reply",
    "parse_retry_after",
    "request_headers",
    "seal",
]

__getattr__, __dir__ = lazy_names(
    __name__,
    globals(),
    {
        name: "n2net_privacy.uploader.recorder"
        for name in ("HasNumber", "RecordOutcome", "RecordResult", "Uploader")
    },
    moved=dict.fromkeys(
        ["SimulatedAndroidKeystore", "SimulatedIOSKeychain"], "n2net_privacy.simulation"
    ),
)
