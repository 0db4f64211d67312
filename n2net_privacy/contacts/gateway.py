"""The contacts gateway: the one door through which the app reads contacts.

Five promises, kept here:

* **Checked at the moment of use.** Every call asks the permission service
  for the status *now*; a grant is never cached. Under iOS limited access
  only the selected contacts exist as far as the app can tell.
* **Never in the app's way.** Without access a call returns an empty
  result carrying the status; a denial is never raised.
* **Revocation wins.** Every read opens a withdrawal scope of the
  permission service's consent core before it checks the permission, and
  asks it again before it caches or returns anything; the gateway's
  revocation hook drops every cached contact and index before the call
  that revoked access (or killed the app) returns. So no contact comes
  back after a revoke, even one that lands on another thread halfway
  through a listing.
* **No change is lost.** Deltas go through the one serial
  :class:`~n2net_privacy.consent.Dispatcher`: in order, outside every lock,
  each revocation announced by its own ``purged`` delta.
* **Reads never write.** Listing, getting and searching touch no file.

Typical use::

    gateway = ContactsGateway(VCardAddressBook("book.vcf"), PermissionService(provider))
    page = gateway.list_contacts(limit=50, fields={"name"})
    if not page.allowed:
        show_no_contacts_screen(page.status)  # NOT_DETERMINED: ask; BLOCKED: Settings
    unsubscribe = gateway.subscribe(lambda delta: refresh(delta.added | delta.updated))
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Collection, Mapping, Sequence
from typing import Protocol, TypeVar, runtime_checkable

from n2net_privacy.checks import ensure_open, require_type
from n2net_privacy.consent import Dispatcher, Kind, WithdrawalScope, classify
from n2net_privacy.contacts.index import Catalog
from n2net_privacy.contacts.model import Contact, ContactField, resolve_fields
from n2net_privacy.contacts.results import (
    ContactLookup,
    ContactPage,
    ContactsDelta,
    ContactsListener,
    PageRequest,
    visible_delta,
)
from n2net_privacy.contacts.sources import ADDRESS_BOOK_HINT, AddressBookSource
from n2net_privacy.permissions.status import Permission, PermissionChange, PermissionStatus
from n2net_privacy.redact import get_logger

__all__ = ["ContactsGateway", "PermissionView"]

_log = get_logger(__name__)
_T = TypeVar("_T")
#: A read retries when a withdrawal or a new limited selection lands under
#: it while access stays; after this many tries it returns empty.
_ATTEMPTS = 3


@runtime_checkable
class PermissionView(Protocol):
    """The part of the permission service the gateway uses."""

    def status(self, permission: Permission) -> PermissionStatus: ...

    def selected_ids(self, permission: Permission) -> frozenset[str] | None: ...

    def subscribe(self, listener: Callable[[PermissionChange], None]) -> Callable[[], None]: ...

    def on_revoke(self, hook: Callable[[PermissionChange], None]) -> Callable[[], None]: ...

    def withdrawal_scope(self) -> WithdrawalScope: ...


class ContactsGateway:
    """Permission-gated, paged, searchable access to an address book.

    Thread-safe. Subscribes to ``source`` and ``permissions`` on creation;
    :meth:`close` (or ``with``) lets go of both and purges the caches.
    """

    def __init__(
        self,
        source: AddressBookSource,
        permissions: PermissionView,
        *,
        permission: Permission = Permission.CONTACTS,
    ) -> None:
        require_type("source", source, AddressBookSource, hint=ADDRESS_BOOK_HINT)
        require_type("permissions", permissions, PermissionView,
                     hint="pass a PermissionService(provider)")
        self._source = source
        self._permissions = permissions
        self._permission = permission
        self._lock = threading.Lock()  # guards the fields below; never held while calling out
        self._closed = False
        self._catalog: Catalog | None = None
        self._deltas: Dispatcher[ContactsDelta] = Dispatcher("contacts")
        # What listeners were last told is visible; _announced also keeps the
        # contacts themselves (to spot updates) and is dropped on revocation.
        self._announced_ids: frozenset[str] = frozenset()
        self._announced: Mapping[str, Contact] | None = None
        # A purge whose delta was superseded before delivery rides on the next one.
        self._carry_purge = False
        self._unsubscribers = (
            permissions.on_revoke(self._on_revoke),
            permissions.subscribe(self._on_permission_change),
            source.subscribe(self._on_source_change),
        )

    # -- reads ---------------------------------------------------------------

    def status(self) -> PermissionStatus:
        """The contacts permission status right now."""
        self._ensure_open()
        return self._permissions.status(self._permission)

    def list_contacts(
        self,
        *,
        offset: int = 0,
        limit: int = 100,
        fields: Collection[ContactField | str] | None = None,
    ) -> ContactPage:
        """One page of visible contacts in name order, with only ``fields`` filled in."""
        self._ensure_open()
        window = PageRequest.checked(offset, limit, fields)
        return self._read(
            lambda catalog, status: window.page(catalog, catalog.contacts, status),
            window.empty,
        )

    def get_contact(
        self, contact_id: str, *, fields: Collection[ContactField | str] | None = None
    ) -> ContactLookup:
        """The visible contact with this id; ``contact`` is ``None`` otherwise."""
        self._ensure_open()
        require_type("contact_id", contact_id, str)
        chosen = resolve_fields(fields)

        def lookup(catalog: Catalog, status: PermissionStatus) -> ContactLookup:
            found = catalog.by_id.get(contact_id)
            shown = catalog.projected((found,), chosen) if found is not None else ()
            return ContactLookup(status, shown[0] if shown else None)

        return self._read(lookup, ContactLookup)

    def search_by_name(
        self,
        query: str,
        *,
        offset: int = 0,
        limit: int = 100,
        fields: Collection[ContactField | str] | None = None,
    ) -> ContactPage:
        """Contacts whose name contains ``query``, ignoring case and accents."""
        return self._search(Catalog.search_name, query, offset, limit, fields, name="query")

    def search_by_number(
        self,
        number: str,
        *,
        offset: int = 0,
        limit: int = 100,
        fields: Collection[ContactField | str] | None = None,
    ) -> ContactPage:
        """Contacts with a number matching ``number`` in any formatting or form.

        ``(215) 555-2671``, ``+1 215-555-2671`` and ``001 215 555 2671`` all
        match each other; see :func:`~n2net_privacy.contacts.index.numbers_match`.
        """
        return self._search(Catalog.search_number, number, offset, limit, fields, name="number")

    def search_by_email(
        self,
        email: str,
        *,
        offset: int = 0,
        limit: int = 100,
        fields: Collection[ContactField | str] | None = None,
    ) -> ContactPage:
        """Contacts with exactly this email address, ignoring case."""
        return self._search(Catalog.search_email, email, offset, limit, fields, name="email")

    # -- change notifications ------------------------------------------------

    def subscribe(self, listener: ContactsListener) -> Callable[[], None]:
        """Call ``listener`` with a :class:`ContactsDelta` after every visible change.

        Deltas are relative to what was visible when the listener subscribed.
        They are delivered in order, one at a time, outside every lock, on
        whichever thread caused or is delivering the change. Every
        revocation is announced by a delta with ``purged`` set and a status
        that allows no access. Returns the unsubscribe callable.
        """
        self._ensure_open()
        require_type("listener", listener, Callable)  # type: ignore[arg-type]
        scope = self._permissions.withdrawal_scope()
        baseline = self._visible_now()
        with self._lock:
            if not self._deltas.listener_count:
                self._announced = {} if scope.withdrawn else baseline
                self._announced_ids = frozenset(self._announced)
            remove = self._deltas.subscribe(listener)
        # Picks up anything that changed between reading the baseline and now.
        self._deltas.post_lazy(lambda: self._delta(purged=False))

        def unsubscribe() -> None:
            with self._lock:
                remove()
                if not self._deltas.listener_count:
                    self._announced, self._announced_ids = None, frozenset()

        return unsubscribe

    def close(self) -> None:
        """Stop listening to the source and permissions and purge every cache.

        Idempotent; any other call afterwards raises :class:`ClosedError`.
        """
        for unsubscribe in self._unsubscribers:
            unsubscribe()
        with self._lock:
            self._closed = True
            self._catalog = None
            self._deltas.clear()
            self._announced, self._announced_ids = None, frozenset()

    def __enter__(self) -> ContactsGateway:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    @property
    def cached_contact_count(self) -> int:
        """How many distinct contacts the gateway holds in memory; 0 right after a purge."""
        with self._lock:
            held = set(self._catalog.by_id) if self._catalog is not None else set()
            held.update(self._announced or ())
        return len(held)

    # -- internals -----------------------------------------------------------

    def _ensure_open(self) -> None:
        ensure_open(self._closed, "ContactsGateway")  # a bool read needs no lock

    def _search(
        self,
        method: Callable[[Catalog, str], Sequence[Contact]],
        query: str,
        offset: int,
        limit: int,
        fields: Collection[ContactField | str] | None,
        *,
        name: str,
    ) -> ContactPage:
        self._ensure_open()
        require_type(name, query, str)
        window = PageRequest.checked(offset, limit, fields)
        return self._read(
            lambda catalog, status: window.page(catalog, method(catalog, query), status),
            window.empty,
        )

    def _read(
        self,
        compute: Callable[[Catalog, PermissionStatus], _T],
        empty: Callable[[PermissionStatus], _T],
    ) -> _T:
        for _ in range(_ATTEMPTS):
            # The scope opens before the permission is read, so a revoke that
            # lands after the check is always seen by the checks below.
            scope = self._permissions.withdrawal_scope()
            status = self._permissions.status(self._permission)
            if not status.allows_access:
                return empty(status)
            selection = self._selection(status)
            catalog = self._catalog_for(scope, selection)
            if catalog is None:
                continue
            result = compute(catalog, status)
            if scope.withdrawn or self._selection(status) != selection:
                continue
            # Last, the permission itself: whatever it says now is what counts.
            now = self._permissions.status(self._permission)
            if not now.allows_access:
                return empty(now)
            if now == status:
                return result
        return empty(self._permissions.status(self._permission))

    def _selection(self, status: PermissionStatus) -> frozenset[str] | None:
        if status is not PermissionStatus.LIMITED:
            return None
        selected = self._permissions.selected_ids(self._permission)
        return frozenset() if selected is None else selected

    def _catalog_for(
        self, scope: WithdrawalScope, selection: frozenset[str] | None
    ) -> Catalog | None:
        """The cached catalog if it still fits, else a new one; None if withdrawn meanwhile.

        The scope is asked under the lock before caching: a withdrawal
        published after that runs the purge hook, which waits for the lock.
        """
        snapshot = self._source.snapshot()
        with self._lock:
            if scope.withdrawn:
                return None
            cached = self._catalog
        if (
            cached is not None
            and cached.version == snapshot.version
            and cached.selection == selection
        ):
            return cached
        built = Catalog(snapshot.contacts, version=snapshot.version, selection=selection)
        with self._lock:
            if scope.withdrawn:
                return None
            if not self._closed:
                self._catalog = built
        return built

    def _visible_now(self) -> Mapping[str, Contact]:
        for _ in range(_ATTEMPTS):
            scope = self._permissions.withdrawal_scope()
            status = self._permissions.status(self._permission)
            if not status.allows_access:
                return {}
            catalog = self._catalog_for(scope, self._selection(status))
            if catalog is not None:
                return catalog.by_id
        return {}

    def _on_source_change(self) -> None:
        self._deltas.post_lazy(lambda: self._delta(purged=False))

    def _on_revoke(self, change: PermissionChange) -> None:
        """CANCEL_AND_PURGE: runs before the revoking call returns."""
        if change.permission.group is not self._permission.group:
            return
        with self._lock:
            self._catalog = None
            self._announced = None
        _log.info(
            "contacts access now %s%s: cached contacts purged",
            change.new.value,
            " (app killed)" if change.app_killed else "",
        )
        if change.new.allows_access:  # an app kill that kept access: re-read, marked purged
            self._deltas.post_lazy(lambda: self._delta(purged=True))
        else:
            status = change.new
            self._deltas.post_lazy(lambda: self._revocation_delta(status))

    def _on_permission_change(self, change: PermissionChange) -> None:
        """NOTIFY: grants and other changes; revocations were handled by _on_revoke."""
        if change.permission.group is not self._permission.group:
            return
        kind = classify(
            was_allowed=change.old.allows_access,
            now_allowed=change.new.allows_access,
            app_killed=change.app_killed,
        )
        if kind in (Kind.REVOKE, Kind.RESET):
            return
        with self._lock:
            self._catalog = None
        self._deltas.post_lazy(lambda: self._delta(purged=False))

    def _revocation_delta(self, status: PermissionStatus) -> ContactsDelta | None:
        """Everything announced so far is gone; computed in turn on the delivering thread."""
        with self._lock:
            if not self._deltas.listener_count:
                return None
            old_ids = self._announced_ids
            self._announced_ids, self._announced = frozenset(), {}
            self._carry_purge = False
        return visible_delta(status, old_ids, None, {}, purged=True)

    def _delta(self, *, purged: bool) -> ContactsDelta | None:
        """What changed since listeners were last told."""
        if not self._deltas.listener_count:
            return None
        scope = self._permissions.withdrawal_scope()
        status = self._permissions.status(self._permission)
        selection = self._selection(status)
        visible: Mapping[str, Contact] = {}
        if status.allows_access:
            catalog = self._catalog_for(scope, selection)
            visible = catalog.by_id if catalog is not None else visible
        # A grant or a new selection meanwhile supersedes this delta too.
        now = self._permissions.status(self._permission)
        moved = now != status or self._selection(now) != selection
        with self._lock:
            purged = purged or self._carry_purge
            # Asked under the lock: a later withdrawal's purge hook waits for it.
            stale = moved or scope.withdrawn
            self._carry_purge = purged if stale else False
            listening = bool(self._deltas.listener_count)
            if not stale and listening:
                old_ids, old = self._announced_ids, self._announced
                self._announced_ids, self._announced = frozenset(visible), visible
        if stale:
            # Computed across a change: told again on a fresh turn, after the
            # delta the change queued for itself (if it was ours to announce).
            self._deltas.post_lazy(lambda: self._delta(purged=False))
            return None
        if not listening:
            return None  # the last listener left meanwhile: keep no baseline
        delta = visible_delta(status, old_ids, old, visible, purged=purged)
        return None if delta.empty else delta
