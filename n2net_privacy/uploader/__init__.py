"""The minimal-metadata uploader: wire contract v1, the durable queue, the sender.

* :mod:`~n2net_privacy.uploader.wire`: the v1 models, the HPKE seal and the
  queued payload. Pure: no file, no network.
* :mod:`~n2net_privacy.uploader.store`: the encrypted SQLite queue with its
  leases, and the at-rest key stores. Files, no network.
* :mod:`~n2net_privacy.uploader.send`: :mod:`~n2net_privacy.uploader.send.decisions`
  (pure: retry policy, parking, linger), the sender (one attempt through the
  egress client it is given) and its thread.
* :class:`~n2net_privacy.uploader.recorder.Uploader`: the facade that builds
  them over one egress door. See docs/uploader.md.

Nothing imported here loads the HTTP client: the recorder's names
(:class:`Uploader`, :class:`RecordResult`, ...) load on first use, since the
recorder builds the egress client, and importing a pure name from here
(``ServerKeyPair``, ``classify``) must not.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from n2net_privacy._lazy import lazy_names
from n2net_privacy.uploader._process import CrashPoint
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
    from n2net_privacy.uploader.recorder import (
        Endpoint,
        HasNumber,
        QueueLimits,
        RecordOutcome,
        RecordResult,
        Uploader,
        UploaderEvents,
    )

__all__ = [
    "CONTENT_TYPE",
    "EVENTS_PATH",
    "HPKE_INFO",
    "SCHEMA",
    "AtRestKey",
    "CrashPoint",
    "DropReason",
    "Endpoint",
    "EventBatch",
    "HasNumber",
    "IngestReply",
    "KeyStore",
    "Outcome",
    "QueueLimits",
    "QueueStats",
    "RecordOutcome",
    "RecordResult",
    "SendState",
    "SendStatus",
    "SenderConfig",
    "ServerKey",
    "ServerKeyPair",
    "Uploader",
    "UploaderEvents",
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
        for name in ("Endpoint", "HasNumber", "QueueLimits", "RecordOutcome", "RecordResult",
                     "Uploader", "UploaderEvents")
    },
    moved=dict.fromkeys(
        ["SimulatedAndroidKeystore", "SimulatedIOSKeychain"], "n2net_privacy.simulation"
    ),
)
