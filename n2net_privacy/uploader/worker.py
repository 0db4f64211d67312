"""The uploader's background thread: when to attempt, and how to stop.

It cuts a new batch once ``batch_max_events`` events wait, once the oldest
waiting event has lingered ``linger_s``, or at once during :meth:`flush` and
:meth:`stop`. Between attempts it waits the delay :meth:`Sender.step` asked
for. It also checkpoints the queue's WAL every so many commits, off the
``record_*`` path.

The thread is a daemon and every wait is bounded, so it never holds up
interpreter exit; :meth:`stop` gives up after its timeout and leaves what is
unsent queued. After ``fork`` the child calls :meth:`after_fork` (the
uploader does when it sees a new process id) to get a worker of its own.
"""

from __future__ import annotations

import sqlite3
import threading
import time
from collections.abc import Callable

from n2net_privacy.errors import UploaderError
from n2net_privacy.redact import get_logger
from n2net_privacy.uploader.linger import Linger
from n2net_privacy.uploader.queue import EventQueue
from n2net_privacy.uploader.sender import Sender

__all__ = ["SenderThread"]

_IDLE_TICK_S = 5.0
_POLL_S = 0.05
_STOP_GRACE_S = 0.2
_log = get_logger(__name__)


class SenderThread:
    """Runs a :class:`Sender` on a daemon thread until stopped.

    ``sleep`` replaces the backoff wait (tests pass a recorder); by default it
    waits on an event that :meth:`stop` sets, so a backoff never delays close.
    """

    def __init__(
        self,
        sender: Sender,
        queue: EventQueue,
        *,
        monotonic: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], None] | None = None,
    ) -> None:
        self.sender = sender
        self._queue = queue
        self._monotonic = monotonic
        self._sleep = sleep
        self._init_process_state()

    def _init_process_state(self) -> None:
        self._thread: threading.Thread | None = None
        self._stop = threading.Event()
        self._wake = threading.Event()
        self._interrupt = threading.Event()
        self._progress = threading.Condition()
        self._flushing = 0
        self._flushing_lock = threading.Lock()
        self._linger = Linger(self.sender.config.batch_max_events, self.sender.config.linger_s)
        self._writes_seen = 0
        # While lingering, only the linger timer or a full batch need the worker:
        # notify() counts events and wakes it at ``_wake_after``, not on every one.
        self._lingering = False
        self._notified = 0
        self._wake_after = 1

    def start(self) -> None:
        """Start the worker (again after fork). A no-op while it runs."""
        if self.running:
            return
        self._stop.clear()
        self._thread = threading.Thread(target=self._run, name="n2net-uploader", daemon=True)
        self._thread.start()

    @property
    def running(self) -> bool:
        return self._thread is not None and self._thread.is_alive()

    def notify(self) -> None:
        """An event was queued: wake the worker if it idles, or if a batch is now full.

        While the worker lingers over a partial batch, waking it for every
        event would cost a thread switch and a few queries per event; its
        linger timer or the event that fills the batch wakes it instead.
        """
        self._notified += 1
        if self._lingering and self._notified < self._wake_after:
            return
        if not self._wake.is_set():  # set() takes a lock; is_set() does not
            self._wake.set()

    def kick(self) -> None:
        """The configuration changed (new server keys): cut any wait short."""
        self._interrupt.set()
        self._wake.set()

    def after_fork(self) -> None:
        """In a forked child: the parent's thread does not exist here; forget it."""
        self.sender.after_fork()
        self._init_process_state()

    # -- the loop -------------------------------------------------------------

    def _should_cut(self, now: float) -> bool:
        free = self._queue.free_events()
        self._wake_after = max(self.sender.config.batch_max_events - free, 1)
        at_once = self._flushing > 0 or self._stop.is_set()
        return self._linger.should_cut(free, now, at_once=at_once)

    def _run(self) -> None:
        while not self._stop.is_set():
            # _lingering keeps its value while we look: a reset here let every event
            # that arrived during the look wake us again, a loop per event.
            self._notified = 0
            self._wake.clear()
            now = self._monotonic()
            try:
                self._maybe_checkpoint()
                cut = self._should_cut(now)
                # From here events that do not fill a batch need not wake us: we will
                # wait out the linger anyway (see notify). Waking on each one during a
                # step made the worker spin, a step per event, fighting record_* for the GIL.
                self._lingering = not cut and self._linger.lingering
                if not self._lingering and self._notified:
                    self._wake.set()  # events that came while we looked, and were let pass
                delay = self.sender.step(lease_new=cut)
                if cut:
                    # The linger restarts with the events left behind: without this the
                    # clock of the first one ever queued ran on, and under a steady stream
                    # every step cut whatever had arrived (batches of 20, not 500).
                    self._linger.cut()
            except Exception as exc:
                # Storage trouble, a closed queue: never let the worker die of it.
                _log.warning("uploader step failed: %s", type(exc).__name__)
                delay = self.sender.config.backoff_base_s
            self._notify_progress()
            if delay is None:
                self._wait_for_work(now)
            elif delay > 0:
                self._pause(delay)
        self._notify_progress()

    def _wait_for_work(self, now: float) -> None:
        deadline = self._linger.deadline()
        timeout = _IDLE_TICK_S if deadline is None else max(0.0, deadline - now)
        self._wake.wait(timeout)

    def _pause(self, delay: float) -> None:
        if self._sleep is not None:
            self._sleep(delay)
        else:
            self._interrupt.wait(delay)
            self._interrupt.clear()

    def _maybe_checkpoint(self) -> None:
        writes = self._queue.writes
        if writes - self._writes_seen >= self.sender.config.checkpoint_every:
            self._writes_seen = writes
            self._queue.file.checkpoint()

    def _notify_progress(self) -> None:
        with self._progress:
            self._progress.notify_all()

    # -- flush and stop -------------------------------------------------------

    def flush(self, timeout: float) -> bool:
        """Send everything queued now; wait at most ``timeout`` s. True if drained."""
        deadline = self._monotonic() + max(timeout, 0.0)
        with self._flushing_lock:
            self._flushing += 1
        self._wake.set()
        try:
            with self._progress:
                while self._queued() != 0:
                    remaining = deadline - self._monotonic()
                    if remaining <= 0 or not self.running:
                        break
                    self._progress.wait(min(remaining, _POLL_S))
        finally:
            with self._flushing_lock:
                self._flushing -= 1
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
        self._stop.set()
        self._interrupt.set()
        self._wake.set()
        thread = self._thread
        if thread is not None and thread.is_alive():
            thread.join(max(deadline - self._monotonic(), 0.0))
            if thread.is_alive():
                return False
        self.sender.close()
        return True
