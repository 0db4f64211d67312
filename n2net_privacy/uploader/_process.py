"""The uploader and its process: safe across ``os.fork``, and named moments to crash at.

``fork`` copies a process with only the calling thread. If the uploader's
worker thread is inside SQLite or a socket at that moment, the child inherits
a mutex held by a thread that does not exist there, and its first
``record_sms`` can hang forever. So, through ``os.register_at_fork``:

* **before** the fork, every live uploader is *quiesced*: its I/O lock (held
  by the worker around every attempt, i.e. every socket use) and its queue
  file's locks (held around every SQLite use) are taken, in that order, so
  no thread is inside SQLite or a socket when the fork happens. A fork may
  therefore wait for one upload attempt in progress (at most the request
  timeout);
* **after**, in the parent, the locks are released and the worker carries on;
* **after**, in the child, every lock is replaced by a fresh one, the
  inherited connections and HTTP client are abandoned (never closed: they
  belong to the parent), and the uploader reopens the file and starts a
  worker of its own on first use.

``subprocess`` does not run these hooks (it execs at once), so it pays nothing.

Crash points (:class:`CrashPoint`) name the moments where a crash test may
kill the process: the uploader calls its ``crash_point`` hook (if any) with
one of them there; a test's hook calls ``os.kill(os.getpid(), SIGKILL)``,
restarts, and checks that the server holds every recorded event exactly once.
In production the hook is ``None`` and costs one comparison.
"""

from __future__ import annotations

import os
import threading
import weakref
from collections.abc import Callable
from enum import StrEnum
from typing import Protocol

from n2net_privacy.redact import get_logger

__all__ = ["CrashHook", "CrashPoint", "ForkAware", "register"]

_log = get_logger(__name__)


class CrashPoint(StrEnum):
    """Where the uploader calls its ``crash_point`` hook."""

    RECORD_BEFORE_WRITE = "record.before_write"
    """``record_*``: normalized and encoded, not yet written."""
    RECORD_AFTER_WRITE = "record.after_write"
    """``record_*``: committed to the queue, not yet returned."""
    LEASE_BEFORE_COMMIT = "lease.before_commit"
    """Batch building: rows assigned to a new batch id, transaction open."""
    LEASE_AFTER_COMMIT = "lease.after_commit"
    """Batch building: the batch is persisted, not yet sealed."""
    POST_BEFORE_SEND = "post.before_send"
    """Sealed, headers built, the POST about to go out."""
    ACK_BEFORE_DELETE = "ack.before_delete"
    """The server answered 200; the local rows are not yet deleted."""
    ACK_BEFORE_COMMIT = "ack.before_commit"
    """Deleting the delivered rows, transaction open."""


CrashHook = Callable[[CrashPoint], None]


class ForkAware(Protocol):
    """An object that quiesces before a fork and rebuilds in the child."""

    def before_fork(self) -> None: ...

    def after_fork_in_parent(self) -> None: ...

    def after_fork_in_child(self) -> None: ...


_REGISTRY: weakref.WeakSet[ForkAware] = weakref.WeakSet()
_REGISTRY_LOCK = threading.Lock()
_QUIESCED: list[ForkAware] = []


def register(obj: ForkAware) -> None:
    """Quiesce ``obj`` around every fork for as long as it lives."""
    with _REGISTRY_LOCK:
        _REGISTRY.add(obj)


def _before() -> None:
    _REGISTRY_LOCK.acquire()
    for obj in list(_REGISTRY):
        obj.before_fork()
        _QUIESCED.append(obj)


def _after_in_parent() -> None:
    try:
        for obj in reversed(_QUIESCED):
            obj.after_fork_in_parent()
    finally:
        _QUIESCED.clear()
        _REGISTRY_LOCK.release()


def _after_in_child() -> None:
    global _REGISTRY_LOCK  # noqa: PLW0603
    _REGISTRY_LOCK = threading.Lock()
    try:
        for obj in _QUIESCED:
            try:
                obj.after_fork_in_child()
            except Exception:
                _log.exception("uploader after-fork hook failed")
    finally:
        _QUIESCED.clear()


os.register_at_fork(
    before=_before, after_in_parent=_after_in_parent, after_in_child=_after_in_child
)
