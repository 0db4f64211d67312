"""Deprecated alias of :mod:`n2net_privacy.uploader.send.sender`, kept for one release."""

from n2net_privacy._deprecated import moved
from n2net_privacy.uploader.send.sender import (
    MAX_BATCH_BYTES,
    MAX_BATCH_EVENTS,
    MAX_LINGER_S,
    PostClient,
    SenderConfig,
    SendState,
    SendStatus,
)

__all__ = [
    "MAX_BATCH_BYTES",
    "MAX_BATCH_EVENTS",
    "MAX_LINGER_S",
    "PostClient",
    "SendState",
    "SendStatus",
    "SenderConfig",
]

moved(__name__, "n2net_privacy.uploader.send.sender")
