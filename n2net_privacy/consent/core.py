"""The consent core: runs a transition's effects in the order the table gives, with its I/O.

:class:`ConsentCore` holds one published state (an immutable value swapped
atomically: a read is one attribute load and never waits for a disk) and
walks :data:`~n2net_privacy.consent.state.EFFECTS`:

* ``SAVE`` writes the proposed state before anything counts; if that fails a
  :class:`~n2net_privacy.errors.StorageError` is raised and nothing changed.
* ``PUBLISH`` swaps the new state in and takes the change's place in the
  notification order.
* ``CANCEL_AND_PURGE`` calls the revocation hooks (:meth:`on_revoke`) on the
  calling thread, outside every lock, before the call returns.
* ``NOTIFY`` hands the change to the serial
  :class:`~n2net_privacy.consent.dispatcher.Dispatcher`.
* ``PERSIST`` writes the *latest* published state. A failure is logged and
  passed to ``on_storage_error``; it never raises and never undoes anything.

Writes are serialised by one disk lock that no read and no ``PUBLISH`` ever
waits for: a revocation is in force while an earlier grant is still being
fsync'd. A grant whose save finishes after a later revocation was published
does not come back: it is dropped and the disk rewritten with what is in
force (the later call wins).

A transition made while the caller is inside a read (:meth:`reading`) is
published and notified at once but saved later, by the next write or
:meth:`flush`: reads never write.
"""

from __future__ import annotations

import contextlib
import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Generic, Protocol, TypeVar

from n2net_privacy.consent.dispatcher import Checkpoint, Dispatcher, Unsubscribe
from n2net_privacy.consent.state import EFFECTS, SUPERSEDED, Effect, Kind, Origin, Superseded
from n2net_privacy.errors import StorageError
from n2net_privacy.redact import get_logger

__all__ = [
    "Applied",
    "ConsentCore",
    "Proposal",
    "StorageErrorCallback",
    "WithdrawalEpochs",
    "WithdrawalScope",
]

_log = get_logger(__name__)
S = TypeVar("S")
C = TypeVar("C")
StorageErrorCallback = Callable[[StorageError], None]


@dataclass(frozen=True, slots=True)
class Proposal(Generic[S, C]):
    """A transition a component asks for: the state after it, what listeners hear, its kind."""

    state: S
    change: C | None  # None: nothing to tell listeners or hooks (a correction learned in a read)
    kind: Kind


@dataclass(frozen=True, slots=True)
class Applied(Generic[S]):
    """What a transition did: the state in force after it, and its version."""

    state: S
    version: int
    published: bool


class WithdrawalEpochs(Protocol):
    """What a scope reads: a :class:`ConsentCore`, or a test's stand-in for one."""

    @property
    def withdrawals(self) -> int: ...


class WithdrawalScope:
    """"Was consent withdrawn since I started?" as one object, like a trio cancel scope.

    A component opens one when work starts (:meth:`ConsentCore.scope`) and
    asks :attr:`withdrawn` before each step and before keeping a result. It
    replaces a lock and a generation counter in every component: the epoch
    moves when a withdrawal is *published*, before its revocation hooks run.
    """

    __slots__ = ("_epochs", "epoch")

    def __init__(self, epochs: WithdrawalEpochs, epoch: int | None = None) -> None:
        self._epochs = epochs
        self.epoch = epochs.withdrawals if epoch is None else epoch

    @property
    def withdrawn(self) -> bool:
        """True once a REVOKE or RESET was published after this scope opened."""
        return self._epochs.withdrawals != self.epoch


class ConsentCore(Generic[S, C]):
    """One published consent state, its transitions, hooks, listeners and persistence."""

    def __init__(
        self,
        initial: S,
        *,
        origin: Origin,
        name: str,
        persist: Callable[[S], None] | None = None,
        on_storage_error: StorageErrorCallback | None = None,
        checkpoint: Checkpoint | None = None,
    ) -> None:
        self.origin = origin
        self.name = name
        self._persist = persist
        self._on_storage_error = on_storage_error
        self._published: tuple[int, S] = (0, initial)
        self._state_lock = threading.Lock()  # short: guards the swap, never held for I/O
        self._disk_lock = threading.Lock()  # serialises writes; reads and PUBLISH never wait
        self._dirty = False
        self._reading = threading.local()
        self._hooks: tuple[tuple[object, Callable[[C], None]], ...] = ()
        self._withdrawals = 0
        self.dispatcher: Dispatcher[C] = Dispatcher(name, checkpoint=checkpoint)

    # -- reading -------------------------------------------------------------

    @property
    def state(self) -> S:
        """The state in force now (one atomic load)."""
        return self._published[1]

    @property
    def version(self) -> int:
        """Bumped by every published transition."""
        return self._published[0]

    @contextlib.contextmanager
    def reading(self) -> Iterator[None]:
        """Mark this thread as inside a read: transitions it causes are saved later."""
        depth = getattr(self._reading, "depth", 0)
        self._reading.depth = depth + 1
        try:
            yield
        finally:
            self._reading.depth = depth

    # -- observing -----------------------------------------------------------

    def subscribe(self, listener: Callable[[C], None]) -> Unsubscribe:
        """NOTIFY: ``listener`` hears every change, in order, outside every lock."""
        return self.dispatcher.subscribe(listener)

    def on_revoke(self, hook: Callable[[C], None]) -> Unsubscribe:
        """CANCEL_AND_PURGE: ``hook`` runs before the revoking call returns.

        Hooks stop in-flight work and drop caches. They run on the revoking
        thread, in registration order, outside every lock; one that raises is
        logged and the others still run.
        """
        token = object()
        with self._state_lock:
            self._hooks = (*self._hooks, (token, hook))

        def unsubscribe() -> None:
            with self._state_lock:
                self._hooks = tuple(h for h in self._hooks if h[0] is not token)

        return unsubscribe

    def close(self) -> None:
        """Forget hooks and listeners, and save anything a read left unsaved."""
        with self._state_lock:
            self._hooks = ()
        self.dispatcher.clear()
        self.flush()

    # -- transitions -----------------------------------------------------------

    def apply(self, decide: Callable[[S], Proposal[S, C] | None]) -> Applied[S]:
        """Run the transition ``decide`` proposes from the state in force.

        ``decide`` is pure and may run more than once; returning None means
        "nothing to do". Raises :class:`StorageError` only when a transition
        whose table starts with ``SAVE`` cannot be saved.

        One loop, no recursion: decide under the state lock; a transition
        without ``SAVE`` is published at once; one with ``SAVE`` takes the
        disk lock, is decided again, saved, and published only if the version
        it was decided on is still in force. If a withdrawal came in between,
        it is decided again on top of it and
        :data:`~n2net_privacy.consent.state.SUPERSEDED` says whether it is
        saved again or dropped.
        """
        superseded = False
        with contextlib.ExitStack() as disk:
            holds_disk = False
            while True:
                with self._state_lock:
                    based_on, current = self._published
                    proposal = decide(current)
                    effects = () if proposal is None else EFFECTS[self.origin, proposal.kind]
                    if (
                        proposal is not None
                        and superseded
                        and effects[0] is Effect.SAVE
                        and SUPERSEDED[self.origin, proposal.kind] is Superseded.DROP
                    ):
                        proposal = None
                    if proposal is not None and effects[0] is not Effect.SAVE:
                        if proposal.state == current:
                            effects = tuple(e for e in effects if e is not Effect.PERSIST)
                        # Decided and published under one lock: no other transition between.
                        version, ticket = self._publish(proposal, effects)
                        break
                if proposal is None:
                    if superseded:
                        self._restore_latest()  # the disk holds a save that lost: put back
                    return Applied(current, based_on, published=False)
                if not holds_disk:
                    disk.enter_context(self._disk_lock)
                    holds_disk = True
                    continue  # decide again with the disk ours: the state may have moved
                try:
                    self._write(proposal.state)
                except StorageError:
                    # The write may have landed before failing (a directory fsync):
                    # put back what is in force, best effort, then refuse the change.
                    self._restore_latest(report=False)
                    raise
                with self._state_lock:
                    if self._published[0] == based_on:
                        effects = tuple(e for e in effects if e is not Effect.SAVE)
                        version, ticket = self._publish(proposal, effects)
                        self._dirty = False
                        break
                superseded = True  # withdrawn since version ``based_on``
        # Outside every lock (PERSIST takes the disk lock itself).
        self._run_after_publish(effects, proposal, ticket)
        return Applied(proposal.state, version, published=True)

    def _publish(
        self, proposal: Proposal[S, C], effects: tuple[Effect, ...]
    ) -> tuple[int, int]:
        """PUBLISH, with the state lock held: the new version and its notification ticket."""
        version = self._published[0] + 1
        self._published = (version, proposal.state)
        if Effect.CANCEL_AND_PURGE in effects:
            self._withdrawals += 1
        return version, self.dispatcher.reserve()

    def overrule_pending(self) -> None:
        """Make any ``SAVE``-first transition now being saved lose, changing nothing else.

        For a call that asks for what is already in force (switching off a
        toggle that is off) while an earlier switch-on may still be saving:
        the later call wins. It moves the version, so the pending save finds
        its version withdrawn and :data:`~n2net_privacy.consent.state.SUPERSEDED`
        applies; nothing is told, purged or written.
        """
        with self._state_lock:
            version, current = self._published
            self._published = (version + 1, current)

    # -- withdrawal scopes -----------------------------------------------------

    def scope(self) -> WithdrawalScope:
        """A scope that says whether consent was withdrawn since it opened (now)."""
        return WithdrawalScope(self, self._withdrawals)

    @property
    def withdrawals(self) -> int:
        """The withdrawal epoch: bumped when a REVOKE or RESET is published."""
        return self._withdrawals

    def flush(self) -> None:
        """Save the state in force if a read or a failed write left it unsaved."""
        if self._dirty:
            self._persist_latest()

    def _run_after_publish(
        self, effects: tuple[Effect, ...], proposal: Proposal[S, C], ticket: int
    ) -> None:
        notified = False
        try:
            for effect in effects:
                if effect is Effect.CANCEL_AND_PURGE:
                    self._cancel_and_purge(proposal.change)
                elif effect is Effect.NOTIFY:
                    notified = True
                    self.dispatcher.fulfil(ticket, proposal.change)
                elif effect is Effect.PERSIST:
                    if getattr(self._reading, "depth", 0):
                        self._dirty = True
                    else:
                        self._persist_latest()
        finally:
            if not notified:
                # Every ticket must be fulfilled, or later changes would wait forever.
                self.dispatcher.fulfil(ticket, None)

    def _cancel_and_purge(self, change: C | None) -> None:
        if change is None:
            return
        for _token, hook in self._hooks:
            try:
                hook(change)
            except Exception as exc:  # a purge that fails must not skip the others
                _log.error("%s: a revocation hook raised %s", self.name, type(exc).__name__)

    # -- disk ------------------------------------------------------------------

    def _write(self, state: S) -> None:
        if self._persist is not None:
            self._persist(state)

    def _persist_latest(self) -> None:
        with self._disk_lock:
            self._restore_latest()

    def _restore_latest(self, *, report: bool = True) -> None:
        """Write the state in force; report a failure. Call with the disk lock held."""
        with self._state_lock:
            state = self.state
            self._dirty = False
        try:
            self._write(state)
        except StorageError as exc:
            self._dirty = True
            if report:
                self._report(exc)

    def _report(self, error: StorageError) -> None:
        _log.warning(
            "%s: cannot save (%s); the change holds for this session",
            self.name,
            f"errno {error.errno}" if error.errno is not None else "no errno",
        )
        if self._on_storage_error is not None:
            try:
                self._on_storage_error(error)
            except Exception as exc:
                _log.error("%s: on_storage_error raised %s", self.name, type(exc).__name__)
