"""The one place that makes uploaders safe across ``os.fork``.

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
"""

from __future__ import annotations

import os
import threading
import weakref
from typing import Protocol

from n2net_privacy.redact import get_logger

__all__ = ["ForkAware", "register"]

_log = get_logger(__name__)


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
