"""One serial dispatcher for change notifications: in order, never lost, never under a lock.

Every component that tells the app about changes (Settings, the permission
service, the contacts gateway) hands its changes to a :class:`Dispatcher`:

* **In order.** A change takes a ticket when it happens (:meth:`reserve`,
  cheap, usually under the caller's state lock) and is handed over later
  (:meth:`fulfil`); listeners see changes in ticket order, one at a time.
* **Never lost.** Whichever thread hands over a change delivers the queue
  unless another thread is already delivering. The delivering thread checks
  for more work and gives up the delivering role in one step, under the same
  lock a hand-over takes: a change arriving "just as it finishes" is either
  seen by it or finds nobody delivering and delivers itself. There is no
  window in between.
* **Outside every lock.** Listeners run with no lock held, so one may call
  back into the SDK (read, change a setting, subscribe) without deadlock. A
  change made from inside a listener is delivered after that listener
  returns, by the same thread.
* **Isolated.** A listener that raises is logged (its exception type only:
  messages may carry personal data) and the others still run.

A hand-over returns as soon as its change is queued when another thread is
delivering; that thread delivers it next. A hand-over with ``wait=True``
returns only once its change has been delivered (the simulated OS needs
"after ``request()`` returns, listeners have heard"), except on the
delivering thread itself: there, inside a listener, the change is delivered
after that listener returns, as above, and waiting would deadlock. ``checkpoint`` is a test hook
called at named points of the delivery loop, so a test can stop a deliverer
at the exact moment a lost wakeup would happen.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import Generic, TypeVar

from n2net_privacy.redact import get_logger

__all__ = ["Checkpoint", "Dispatcher", "Unsubscribe"]

_log = get_logger(__name__)
T = TypeVar("T")
Unsubscribe = Callable[[], None]
#: Called with "delivered" after each change is delivered, before looking for the next,
#: and with "waiting" (under the dispatcher's lock) just before a hand-over waits.
Checkpoint = Callable[[str], None]


class Dispatcher(Generic[T]):
    """Delivers changes of type ``T`` to listeners, serially, in ticket order."""

    def __init__(self, name: str, *, checkpoint: Checkpoint | None = None) -> None:
        self.name = name
        self._checkpoint = checkpoint
        self._lock = threading.Lock()
        self._delivered_cond = threading.Condition(self._lock)
        self._listeners: tuple[tuple[object, Callable[[T], None]], ...] = ()
        # ticket -> a producer of the change (None: the ticket carries no change)
        self._ready: dict[int, Callable[[], T | None] | None] = {}
        self._issued = 0
        self._next = 0
        self._delivered = 0  # every ticket below this one has been delivered
        self._delivering = False
        self._deliverer: int | None = None  # the delivering thread's ident

    # -- listeners -----------------------------------------------------------

    def subscribe(self, listener: Callable[[T], None]) -> Unsubscribe:
        """Call ``listener`` with every later change; returns an idempotent unsubscribe."""
        token = object()
        with self._lock:
            self._listeners = (*self._listeners, (token, listener))

        def unsubscribe() -> None:
            with self._lock:
                self._listeners = tuple(e for e in self._listeners if e[0] is not token)

        return unsubscribe

    @property
    def listener_count(self) -> int:
        return len(self._listeners)

    def clear(self) -> None:
        """Forget every listener (on close)."""
        with self._lock:
            self._listeners = ()

    # -- hand-over -----------------------------------------------------------

    def reserve(self) -> int:
        """A ticket: this change's place in the delivery order. Must be fulfilled."""
        with self._lock:
            ticket = self._issued
            self._issued += 1
            return ticket

    def fulfil(self, ticket: int, change: T | None, *, wait: bool = False) -> None:
        """Hand over the change of ``ticket`` (None: nothing to tell) and deliver.

        ``wait=True``: return once it has been delivered (see the module docstring).
        """
        self._hand_over(ticket, None if change is None else (lambda: change))
        if wait:
            self.wait_delivered(ticket)

    def post(self, change: T, *, wait: bool = False) -> None:
        """Reserve and fulfil in one step: deliver ``change`` after everything before it."""
        self.fulfil(self.reserve(), change, wait=wait)

    def wait_delivered(self, ticket: int) -> None:
        """Block until ``ticket`` has been delivered; at once on the delivering thread."""
        me = threading.get_ident()
        with self._delivered_cond:
            while self._delivered <= ticket and self._deliverer != me:
                if self._checkpoint is not None:
                    self._checkpoint("waiting")
                self._delivered_cond.wait()

    def post_lazy(self, produce: Callable[[], T | None]) -> None:
        """Queue a change computed on the delivering thread, when its turn comes.

        For changes that are relative to what listeners were told before (the
        contacts gateway's deltas): computing them serially keeps them exact.
        ``produce`` may return None when there is nothing to tell.
        """
        self._hand_over(self.reserve(), produce)

    def _hand_over(self, ticket: int, produce: Callable[[], T | None] | None) -> None:
        with self._lock:
            self._ready[ticket] = produce
            if self._delivering:
                return  # the deliverer will reach it: it checks under this lock before leaving
            self._delivering = True
            self._deliverer = threading.get_ident()
        self._deliver_queue()

    def _deliver_queue(self) -> None:
        try:
            while True:
                with self._lock:
                    self._delivered = self._next
                    self._delivered_cond.notify_all()
                    if self._next not in self._ready:
                        # Checked and given up under one lock: no lost wakeup.
                        self._delivering = False
                        self._deliverer = None
                        return
                    produce = self._ready.pop(self._next)
                    self._next += 1
                    listeners = self._listeners
                if produce is not None:
                    self._deliver(produce, listeners)
                if self._checkpoint is not None:
                    self._checkpoint("delivered")
        except BaseException:
            with self._lock:
                self._delivering = False
                self._deliverer = None
                self._delivered = self._next
                self._delivered_cond.notify_all()
            raise

    def _deliver(
        self,
        produce: Callable[[], T | None],
        listeners: tuple[tuple[object, Callable[[T], None]], ...],
    ) -> None:
        try:
            change = produce()
        except Exception as exc:
            _log.error("%s: computing a change failed: %s", self.name, type(exc).__name__)
            return
        if change is None:
            return
        for _token, listener in listeners:
            try:
                listener(change)
            except Exception as exc:  # an app bug must not stop the other listeners
                _log.error("%s listener raised %s", self.name, type(exc).__name__)
