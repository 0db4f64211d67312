"""What the contacts gateway returns: values the app renders, never exceptions.

Every result carries the permission status it was computed under. Without
access the result is empty and ``allowed`` is false, so the app shows its
no-contacts screen (and, from the status, whether to ask or to point at
Settings) instead of handling an error.
"""

from __future__ import annotations

from collections.abc import Callable, Collection, Mapping, Sequence
from dataclasses import dataclass, field

from n2net_privacy.checks import require_int
from n2net_privacy.contacts.index import Catalog
from n2net_privacy.contacts.model import ALL_FIELDS, Contact, ContactField, resolve_fields
from n2net_privacy.permissions.status import PermissionStatus

__all__ = [
    "MAX_PAGE_SIZE",
    "ContactLookup",
    "ContactPage",
    "ContactsDelta",
    "ContactsListener",
    "PageRequest",
    "visible_delta",
]

#: The largest page a single call may ask for.
MAX_PAGE_SIZE = 10_000


@dataclass(frozen=True, slots=True)
class ContactPage:
    """One page of a listing or a search.

    ``next_offset`` is the offset of the following page, or ``None`` after
    the last one; ``total`` counts every visible match, not just this page.
    ``fields`` says which fields are filled in; the others are empty.
    """

    status: PermissionStatus
    items: tuple[Contact, ...] = ()
    offset: int = 0
    next_offset: int | None = None
    total: int = 0
    fields: frozenset[ContactField] = field(default=ALL_FIELDS)

    @property
    def allowed(self) -> bool:
        """True when the permission let the SDK read contacts for this page."""
        return self.status.allows_access


@dataclass(frozen=True, slots=True)
class ContactLookup:
    """The answer to a get-by-id: ``contact`` is ``None`` if hidden or absent."""

    status: PermissionStatus
    contact: Contact | None = None

    @property
    def allowed(self) -> bool:
        """True when the permission let the SDK look."""
        return self.status.allows_access


@dataclass(frozen=True, slots=True)
class ContactsDelta:
    """What changed in the set of contacts the app may see.

    Applying every delta, in order, to the ids the app held when it
    subscribed yields the ids it may see now. ``purged`` is true after a
    revocation or an app kill: the SDK has dropped every cached contact and
    the app must drop what it holds too (and list again if ``status``
    still allows access).
    """

    status: PermissionStatus
    added: frozenset[str] = frozenset()
    updated: frozenset[str] = frozenset()
    removed: frozenset[str] = frozenset()
    purged: bool = False

    @property
    def empty(self) -> bool:
        """True when nothing changed and nothing was purged."""
        return not (self.added or self.updated or self.removed or self.purged)


ContactsListener = Callable[[ContactsDelta], None]


@dataclass(frozen=True, slots=True)
class PageRequest:
    """Which slice of the matches a call asked for, and which fields."""

    offset: int
    limit: int
    fields: frozenset[ContactField]

    @classmethod
    def checked(
        cls, offset: int, limit: int, fields: Collection[ContactField | str] | None
    ) -> PageRequest:
        """Validate the app's arguments; bad ones are :class:`InvalidArgumentError`."""
        return cls(
            require_int("offset", offset, 0),
            require_int("limit", limit, 1, MAX_PAGE_SIZE),
            resolve_fields(fields),
        )

    def page(
        self, catalog: Catalog, matches: Sequence[Contact], status: PermissionStatus
    ) -> ContactPage:
        """This request's page of ``matches``, projected through ``catalog``."""
        end = self.offset + self.limit
        items = catalog.projected(matches[self.offset : end], self.fields)
        total = len(matches)
        following = end if end < total else None
        return ContactPage(status, items, self.offset, following, total, self.fields)

    def empty(self, status: PermissionStatus) -> ContactPage:
        """The page to return when the status allows no access."""
        return ContactPage(status, offset=self.offset, fields=self.fields)


def visible_delta(
    status: PermissionStatus,
    old_ids: frozenset[str],
    old: Mapping[str, Contact] | None,
    new: Mapping[str, Contact],
    *,
    purged: bool,
) -> ContactsDelta:
    """The per-contact delta between two visible sets; pure.

    ``old`` is ``None`` after a purge: the contacts are gone, so every id in
    both sets counts as updated and the app re-reads it.
    """
    new_ids = frozenset(new)
    kept = old_ids & new_ids
    if old is None:
        updated = kept
    else:
        updated = frozenset(i for i in kept if old[i] is not new[i] and old[i] != new[i])
    return ContactsDelta(
        status=status,
        added=new_ids - old_ids,
        updated=updated,
        removed=old_ids - new_ids,
        purged=purged,
    )
