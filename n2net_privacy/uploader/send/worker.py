"""The uploader's background thread: when to attempt, and how to stop.

The thread decides nothing itself. It tells a pure
:class:`~n2net_privacy.uploader.send.decisions.Pacer` what happened (an event
queued, :meth:`SenderThread.notify`, stamped on the injected monotonic clock;
a flush; a stop; the delay the last :meth:`Sender.step` asked for) and sleeps
on one :class:`threading.Condition` for as long as the pacer says: until the
linger deadline, until a scheduled retry, or (nothing queued, nothing
scheduled) until told. When a batch is cut is the pacer's
:class:`~n2net_privacy.uploader.send.decisions.Linger` rule; while a batch is
in flight (out, or waiting for its retry) no new one is cut and the linger of
the events behind it runs on. There is no periodic tick, so an idle sender
never wakes. The wait itself is injected (``wait(condition, timeout)``), so
tests drive every interleaving on a fake clock without sleeping. The thread
also checkpoints the queue's WAL every so many commits, off the ``record_*``
path.

The lock is held only to read and update the pacer, never across I/O or a
callback, so ``record_*`` never waits for a request. The thread is a daemon
and :meth:`SenderThread.stop` is bounded, so it never holds up interpreter
exit; what is unsent stays queued. After ``fork`` the child calls
:meth:`SenderThread.after_fork` (the uploader does when it sees a new
process id) to get a worker of its own.
"""

from __future__ import annotations

import sqlite3
import threading
from collections.abc import Callable

from n2net_privacy.errors import UploaderError
from n2net_privacy.redact import get_logger
from n2net_privacy.runtime import Runtime, Wait, wait_on
from n2net_privacy.uploader.send.decisions import Pacer
from n2net_privacy.uploader.send.sender import Sender
from n2net_privacy.uploader.store.queue import EventQueue

__all__ = ["SenderThread", "Wait", "wait_on"]

_POLL_S = 0.05
_STOP_GRACE_S = 0.2
_log = get_logger(__name__)


class SenderThread:
    """Runs a :class:`Sender` on a daemon thread until stopped.

    The runtime's ``monotonic`` and ``wait`` go together: every wait (the
    linger, a backoff, :meth:`flush` and :meth:`stop`) is ``wait(condition,
    seconds)`` with the condition held, and every deadline is read on ``monotonic``.
    """

    def __init__(
        self,
        sender: Sender,
        queue: EventQueue,
        *,
        runtime: Runtime | None = None,
    ) -> None:
        self.sender = sender
        self._queue = queue
        runtime = runtime or Runtime()
        self._monotonic = runtime.monotonic
        self._wait = runtime.wait
        self._init_process_state()

    def _init_process_state(self) -> None:
        self._thread: threading.Thread | None = None
        self._lock = threading.Lock()  # never re-entered; notify() takes it bare, for speed
        self._cond = threading.Condition(self._lock)
        config = self.sender.config
        self._pacer = Pacer(config.batch_max_events, config.linger_s)
        self._alive = False
        self._progress = 0
        self._writes_seen = 0
        self._at_exit: Callable[[], object] | None = None

    def start(self) -> None:
        """Start the worker (again after fork or stop). A no-op while it runs."""
        with self._cond:
            if self._alive:
                return
            self._pacer.stopping = False
            self._pacer.look = True
            self._alive = True
        self._thread = threading.Thread(target=self._run, name="n2net-uploader", daemon=True)
        try:
            self._thread.start()
        except BaseException:  # no thread to be had (RuntimeError): start may be tried again
            with self._cond:
                self._alive = False
            raise

    @property
    def running(self) -> bool:
        return self._thread is not None and self._thread.is_alive()

    def notify(self, at: float | None = None) -> None:
        """An event was queued at ``at`` (default: now): its linger starts there.

        Wakes the thread only when that moves its next wake earlier (the first
        event of a linger, the one that fills a batch), not for every event.
        """
        when = self._monotonic() if at is None else at
        with self._lock:  # the condition's own lock
            if self._pacer.arrived(when):
                self._cond.notify_all()

    def kick(self) -> None:
        """The configuration changed (new server keys): cut any wait short."""
        with self._cond:
            self._pacer.kick()
            self._cond.notify_all()

    def after_fork(self) -> None:
        """In a forked child: the parent's thread does not exist here; forget it."""
        self.sender.after_fork()
        self._init_process_state()

    # -- the loop -------------------------------------------------------------

    def _run(self) -> None:
        try:
            while self._next_turn():
                self._turn()
        finally:
            with self._cond:
                self._alive = False
                self._progress += 1
                self._cond.notify_all()
                at_exit, self._at_exit = self._at_exit, None
            if at_exit is not None:  # left behind by stop(): the owner's close is ours to finish
                self.sender.close()
                at_exit()

    def _next_turn(self) -> bool:
        """Sleep until the pacer says act; False once stopping."""
        with self._cond:
            while True:
                if self._pacer.stopping:
                    return False
                timeout = self._pacer.timeout(self._monotonic())
                if timeout == 0.0:
                    return True
                self._wait(self._cond, timeout)

    def _turn(self) -> None:
        """Count the queue, cut if due, make one attempt; never under the lock."""
        with self._cond:
            at_once = self._pacer.looking()
        try:
            self._maybe_checkpoint()
            cut = False
            if not self.sender.in_flight:
                # (With a batch in flight the step resumes it: no new batch, the linger runs on.)
                free = self._queue.free_events()
                with self._cond:
                    cut = self._pacer.looked(free, self._monotonic(), at_once=at_once)
            delay = self.sender.step(lease_new=cut)
        except Exception as exc:
            # Storage trouble, a closed queue: never let the worker die of it.
            _log.warning("uploader step failed: %s", type(exc).__name__)
            delay = self.sender.config.backoff_base_s
        with self._cond:
            self._pacer.stepped(delay, self._monotonic())
            self._progress += 1
            self._cond.notify_all()

    def _maybe_checkpoint(self) -> None:
        writes = self._queue.writes
        if writes - self._writes_seen >= self.sender.config.checkpoint_every:
            self._writes_seen = writes
            self._queue.file.checkpoint()

    # -- flush and stop -------------------------------------------------------

    def flush(self, timeout: float) -> bool:
        """Send everything queued now; wait at most ``timeout`` s. True if drained.

        The thread reports each attempt; between attempts the queue file is
        read again every 50 ms, because another process sharing it may be the
        one sending.
        """
        deadline = self._monotonic() + max(timeout, 0.0)
        with self._cond:
            self._pacer.flushing += 1
            self._pacer.flush()
            self._cond.notify_all()
        try:
            while True:
                with self._cond:
                    seen = self._progress
                if self._queued() == 0:
                    return True
                with self._cond:
                    remaining = deadline - self._monotonic()
                    if remaining <= 0 or not self._alive:
                        break
                    if self._progress == seen:
                        self._wait(self._cond, min(remaining, _POLL_S))
                    if self._progress == seen:
                        self._pacer.flush()  # nothing happened: look again
                        self._cond.notify_all()
        finally:
            with self._cond:
                self._pacer.flushing -= 1
        return self._queued() == 0

    def _queued(self) -> int:
        """Events left in the file (every process's); -1 if it cannot be read."""
        try:
            return len(self._queue)
        except (sqlite3.Error, UploaderError) as exc:
            _log.debug("queue unreadable: %s", type(exc).__name__)
            return -1

    def stop(self, timeout: float) -> bool:
        """Flush for up to ``timeout`` s, then stop the worker. True if it stopped.

        A worker stuck in a request past the deadline is left behind (it is a
        daemon); whatever it was sending stays queued for the next start.
        """
        deadline = self._monotonic() + max(timeout, 0.0)
        if self.running:
            # Keep a little of the budget for the worker to notice the stop.
            self.flush(timeout - min(_STOP_GRACE_S, timeout / 5))
        with self._cond:
            self._pacer.stop()
            self._cond.notify_all()
            while self._alive:
                remaining = deadline - self._monotonic()
                if remaining <= 0:
                    return False
                self._wait(self._cond, remaining)
        thread = self._thread
        if thread is not None:
            thread.join()  # it said it is leaving: only its return is left
        self.sender.close()
        return True

    def after_exit(self, release: Callable[[], object]) -> None:
        """Run ``release`` once the worker has exited: now if it has, else on its way out.

        A worker that :meth:`stop` left behind (stuck in a request) still uses the
        queue file; its owner's ``close`` hands the file's release to it here, so
        the file is closed when the request ends instead of never.
        """
        with self._cond:
            if self._alive:
                self._at_exit = release
                return
        release()
