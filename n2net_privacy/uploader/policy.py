"""Deprecated alias of :mod:`n2net_privacy.uploader.send.decisions`, kept for one release."""

from n2net_privacy._deprecated import moved
from n2net_privacy.uploader.send.decisions import (
    Outcome,
    backoff_delay,
    classify,
    failure_reason,
    parse_retry_after,
)

__all__ = ["Outcome", "backoff_delay", "classify", "failure_reason", "parse_retry_after"]

moved(__name__, "n2net_privacy.uploader.send.decisions")
