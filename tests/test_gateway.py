"""The contacts gateway: permission at every call, paging, search, deltas, revocation."""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Iterator

import pytest

from n2net_privacy.consent import WithdrawalScope
from n2net_privacy.contacts.gateway import ContactsGateway, PermissionView
from n2net_privacy.contacts.model import Contact, ContactField, ContactPhone
from n2net_privacy.contacts.results import ContactLookup, ContactPage, ContactsDelta
from n2net_privacy.contacts.sources import AddressBookSnapshot, InMemoryAddressBook
from n2net_privacy.errors import ClosedError, InvalidArgumentError
from n2net_privacy.permissions import (
    AndroidPermissionProvider,
    IOSPermissionProvider,
    PermissionService,
)
from n2net_privacy.permissions.status import (
    Permission,
    PermissionChange,
    PermissionProvider,
    PermissionStatus,
)
from n2net_privacy.simulation import Answer, ScriptedUser, SelectContacts

S = PermissionStatus


class FakePermissions:
    """A thread-safe stand-in for the permission service.

    ``set`` changes the status and tells subscribers, like a Settings change
    (the withdrawal published first, then revocation hooks, as the consent
    core runs them);
    ``set_silently`` changes it without telling anyone, which is what the
    app sees when the OS changed it while nobody was listening. ``on_status``
    runs inside ``status()`` before it answers, so a test can revoke in the
    middle of a gateway call.
    """

    def __init__(self, status: S = S.GRANTED, selected: frozenset[str] | None = None) -> None:
        self._lock = threading.Lock()
        self._status = status
        self._selected = selected
        self._listeners: list[Callable[[PermissionChange], None]] = []
        self._hooks: list[Callable[[PermissionChange], None]] = []
        self.withdrawals = 0
        self.status_calls = 0
        self.on_status: Callable[[int], None] | None = None
        self.on_selected: Callable[[], None] | None = None
        self.after_status: Callable[[int], None] | None = None

    def status(self, permission: Permission) -> S:
        assert permission is Permission.CONTACTS
        with self._lock:
            self.status_calls += 1
            call, hook = self.status_calls, self.on_status
        if hook is not None:
            hook(call)
        with self._lock:
            answer, after = self._status, self.after_status
        if after is not None:
            after(call)  # the answer is given; the change lands just after it
        return answer

    def selected_ids(self, permission: Permission) -> frozenset[str] | None:
        with self._lock:
            answer = self._selected if self._status is S.LIMITED else None
            hook = self.on_selected
        if hook is not None:
            hook()  # after the answer is taken: the change lands just after the call
        return answer

    def subscribe(self, listener: Callable[[PermissionChange], None]) -> Callable[[], None]:
        with self._lock:
            self._listeners.append(listener)
        return lambda: self._listeners.remove(listener)

    def on_revoke(self, hook: Callable[[PermissionChange], None]) -> Callable[[], None]:
        with self._lock:
            self._hooks.append(hook)
        return lambda: self._hooks.remove(hook)

    def withdrawal_scope(self) -> WithdrawalScope:
        return WithdrawalScope(self)

    def set_silently(self, status: S, selected: frozenset[str] | None = None) -> None:
        with self._lock:
            self._status, self._selected = status, selected

    def set(
        self,
        status: S,
        selected: frozenset[str] | None = None,
        *,
        app_killed: bool = False,
        permission: Permission = Permission.CONTACTS,
    ) -> None:
        with self._lock:
            old = self._status
            self._status, self._selected = status, selected
            listeners, hooks = list(self._listeners), list(self._hooks)
            withdrawn = app_killed or (old.allows_access and not status.allows_access)
            self.withdrawals += withdrawn
        change = PermissionChange(permission, old, status, app_killed, selected)
        if withdrawn:
            for hook in hooks:
                hook(change)
        for listener in listeners:
            listener(change)

    @property
    def listener_count(self) -> int:
        with self._lock:
            return len(self._listeners) + len(self._hooks)


class BlockingBook(InMemoryAddressBook):
    """A book that can hold a read open while another thread acts.

    With ``block_in="snapshot"`` the gateway is stopped inside
    ``snapshot()``; with ``"catalog"`` it gets the snapshot and is stopped
    while it walks the contacts to build its catalog.
    """

    def __init__(self, contacts: list[Contact], block_in: str = "snapshot") -> None:
        super().__init__(contacts)
        self.block_in = block_in
        self.block = False
        self.entered = threading.Event()
        self.release = threading.Event()

    def hold(self) -> None:
        if self.block:
            self.entered.set()
            assert self.release.wait(5)

    def snapshot(self) -> AddressBookSnapshot:
        if self.block_in == "snapshot":
            self.hold()
        snap = super().snapshot()
        if self.block_in == "catalog":
            return AddressBookSnapshot(snap.version, _HoldingTuple(snap.contacts, self.hold))
        return snap


class _HoldingTuple(tuple[Contact, ...]):
    """A tuple that calls ``hold`` when someone starts iterating it."""

    hold: Callable[[], None]

    def __new__(cls, items: tuple[Contact, ...], hold: Callable[[], None]) -> _HoldingTuple:
        made = super().__new__(cls, items)
        made.hold = hold
        return made

    def __iter__(self) -> Iterator[Contact]:
        self.hold()
        return super().__iter__()


ANN = Contact(
    id="ann",
    display_name="Ann Lee",
    phones=(ContactPhone(number="+1 (215) 555-2671", label="mobile"),),
    emails=("Ann.Lee@example.com",),
)
ZOE = Contact(id="zoe", display_name="Zoë Ødegård", phones=(ContactPhone(number="020 7946 0958"),))
BOB = Contact(id="bob", display_name="Bob Stone", emails=("bob@example.org",))
BOOK = [ZOE, BOB, ANN]


def make(
    status: S = S.GRANTED,
    selected: frozenset[str] | None = None,
    contacts: list[Contact] | None = None,
) -> tuple[ContactsGateway, InMemoryAddressBook, FakePermissions]:
    book = InMemoryAddressBook(BOOK if contacts is None else contacts)
    permissions = FakePermissions(status, selected)
    return ContactsGateway(book, permissions), book, permissions


def ids(page: ContactPage) -> list[str]:
    return [c.id for c in page.items]


def many(count: int) -> list[Contact]:
    return [Contact(id=f"c{i:05d}", display_name=f"Person {i:05d}") for i in range(count)]


def test_the_fake_is_a_permission_view() -> None:
    assert isinstance(FakePermissions(), PermissionView)


# -- what each status lets through (table-driven) --------------------------------

ALL = ["ann", "bob", "zoe"]


@pytest.mark.parametrize(
    ("status", "selected", "visible"),
    [
        (S.GRANTED, None, ALL),
        (S.LIMITED, frozenset({"zoe", "ann"}), ["ann", "zoe"]),
        (S.LIMITED, frozenset(), []),
        (S.LIMITED, None, []),
        (S.NOT_DETERMINED, None, []),
        (S.DENIED, None, []),
        (S.BLOCKED, None, []),
        (S.RESTRICTED, None, []),
    ],
)
def test_each_status_shows_exactly_what_it_allows(
    status: S, selected: frozenset[str] | None, visible: list[str]
) -> None:
    gateway, _, _ = make(status, selected)
    page = gateway.list_contacts()
    assert page.status is status
    assert page.allowed is status.allows_access
    assert ids(page) == visible
    assert page.total == len(visible)

    lookup = gateway.get_contact("ann")
    assert lookup.status is status
    assert (lookup.contact is not None) == ("ann" in visible)

    for search in (
        gateway.search_by_name("a"),
        gateway.search_by_number("215 555 2671"),
        gateway.search_by_email("ANN.LEE@EXAMPLE.COM"),
    ):
        assert search.status is status
        assert set(ids(search)) <= set(visible)
    assert ids(gateway.search_by_email("ann.lee@example.com")) == (
        ["ann"] if "ann" in visible else []
    )


def test_a_denial_is_a_value_not_an_exception() -> None:
    gateway, _, _ = make(S.BLOCKED)
    assert gateway.list_contacts() == ContactPage(S.BLOCKED)
    assert gateway.get_contact("ann") == ContactLookup(S.BLOCKED)
    assert gateway.status() is S.BLOCKED


@pytest.mark.parametrize(
    ("first", "then", "visible_then"),
    [
        (S.GRANTED, S.DENIED, []),
        (S.DENIED, S.GRANTED, ALL),
        (S.GRANTED, S.BLOCKED, []),
        (S.LIMITED, S.GRANTED, ALL),
    ],
)
def test_the_grant_is_checked_at_every_call_even_without_an_event(
    first: S, then: S, visible_then: list[str]
) -> None:
    gateway, _, permissions = make(first, frozenset({"bob"}))
    gateway.list_contacts()
    gateway.search_by_name("a")
    permissions.set_silently(then)
    calls = permissions.status_calls
    page = gateway.list_contacts()
    assert (page.status, ids(page)) == (then, visible_then)
    assert permissions.status_calls > calls
    assert [c.id for c in gateway.search_by_name("o").items] == [
        i for i in visible_then if i in ("bob", "zoe")
    ]


# -- paging and field selection ----------------------------------------------------


def test_pages_cover_every_contact_once_in_name_order() -> None:
    gateway, _, _ = make(contacts=many(250))
    seen: list[str] = []
    offset: int | None = 0
    pages = 0
    while offset is not None:
        page = gateway.list_contacts(offset=offset, limit=100)
        assert page.total == 250
        assert page.offset == offset
        seen += ids(page)
        offset = page.next_offset
        pages += 1
    assert pages == 3
    assert seen == sorted(f"c{i:05d}" for i in range(250))


def test_a_page_past_the_end_is_empty_and_last() -> None:
    gateway, _, _ = make()
    page = gateway.list_contacts(offset=10, limit=5)
    assert (page.items, page.next_offset, page.total) == ((), None, 3)


@pytest.mark.parametrize(("offset", "limit"), [(-1, 10), (0, 0), (0, 10_001)])
def test_a_bad_window_is_a_programmer_error(offset: int, limit: int) -> None:
    gateway, _, _ = make()
    with pytest.raises(InvalidArgumentError, match=r"offset|limit") as raised:
        gateway.list_contacts(offset=offset, limit=limit)
    assert isinstance(raised.value, ValueError)  # what apps caught before


def test_field_selection_empties_the_rest_and_keeps_ids() -> None:
    gateway, _, _ = make()
    page = gateway.list_contacts(fields={"name"})
    assert page.fields == {ContactField.NAME}
    ann = page.items[0]
    assert (ann.id, ann.display_name, ann.phones, ann.emails) == ("ann", "Ann Lee", (), ())

    phones_only = gateway.get_contact("ann", fields=[ContactField.PHONES]).contact
    assert phones_only is not None
    assert (phones_only.display_name, phones_only.phones) == ("", ANN.phones)

    found = gateway.search_by_number("2155552671", fields={"emails"}).items
    assert [(c.id, c.display_name, c.emails) for c in found] == [("ann", "", ANN.emails)]

    with pytest.raises(ValueError, match="nickname"):
        gateway.list_contacts(fields={"nickname"})


def test_full_selection_hands_out_the_stored_objects() -> None:
    gateway, _, _ = make()
    assert gateway.get_contact("ann").contact is ANN


def test_search_pages_like_the_listing() -> None:
    gateway, _, _ = make(contacts=many(30))
    first = gateway.search_by_name("person 0000", limit=4)
    assert first.total == 10
    assert ids(first) == ["c00000", "c00001", "c00002", "c00003"]
    assert first.next_offset == 4
    last = gateway.search_by_name("person 0000", offset=8, limit=4)
    assert (ids(last), last.next_offset) == (["c00008", "c00009"], None)


def test_searches_are_case_accent_and_format_tolerant() -> None:
    gateway, _, _ = make()
    assert ids(gateway.search_by_name("ODEGARD")) == ["zoe"]
    assert ids(gateway.search_by_name("zoë ø")) == ["zoe"]
    assert ids(gateway.search_by_number("+44 20 7946 0958")) == ["zoe"]
    assert ids(gateway.search_by_number("215.555.2671")) == ["ann"]
    assert ids(gateway.search_by_email("BOB@example.org")) == ["bob"]
    assert ids(gateway.search_by_email("bob@example")) == []


def test_searches_see_changes_in_the_source() -> None:
    gateway, book, _ = make()
    assert ids(gateway.search_by_name("ann")) == ["ann"]
    book.update(ANN.model_copy(update={"display_name": "Annika Lee"}))
    book.add(Contact(id="new", display_name="Anne New"))
    assert ids(gateway.search_by_name("ann")) == ["new", "ann"]


# -- change notifications ----------------------------------------------------------


def record(gateway: ContactsGateway) -> list[ContactsDelta]:
    deltas: list[ContactsDelta] = []
    gateway.subscribe(deltas.append)
    return deltas


def test_source_changes_arrive_as_per_contact_deltas() -> None:
    gateway, book, _ = make()
    deltas = record(gateway)
    carol = Contact(id="carol", display_name="Carol")
    book.add(carol)
    book.update(ANN.model_copy(update={"emails": ()}))
    book.update(ANN.model_copy(update={"emails": ()}))  # equal to what is there: no delta
    book.remove("bob")
    book.replace([ZOE, carol, Contact(id="dan")])
    assert deltas == [
        ContactsDelta(S.GRANTED, added=frozenset({"carol"})),
        ContactsDelta(S.GRANTED, updated=frozenset({"ann"})),
        ContactsDelta(S.GRANTED, removed=frozenset({"bob"})),
        ContactsDelta(S.GRANTED, added=frozenset({"dan"}), removed=frozenset({"ann"})),
    ]


def test_deltas_only_mention_what_limited_access_shows() -> None:
    gateway, book, _ = make(S.LIMITED, frozenset({"ann", "carol"}))
    deltas = record(gateway)
    book.add(Contact(id="carol", display_name="Carol"))
    book.add(Contact(id="dave"))
    book.update(BOB.model_copy(update={"display_name": "Robert"}))
    book.remove("ann")
    assert deltas == [
        ContactsDelta(S.LIMITED, added=frozenset({"carol"})),
        ContactsDelta(S.LIMITED, removed=frozenset({"ann"})),
    ]


def test_a_new_limited_selection_changes_what_is_visible() -> None:
    gateway, _, permissions = make(S.LIMITED, frozenset({"ann"}))
    deltas = record(gateway)
    permissions.set(S.LIMITED, frozenset({"ann", "bob"}))  # the in-app picker added bob
    permissions.set(S.LIMITED, frozenset({"bob"}))
    assert deltas == [
        ContactsDelta(S.LIMITED, added=frozenset({"bob"})),
        ContactsDelta(S.LIMITED, removed=frozenset({"ann"})),
    ]
    assert ids(gateway.list_contacts()) == ["bob"]


def test_revocation_purges_and_tells_listeners_what_to_drop() -> None:
    gateway, _, permissions = make()
    deltas = record(gateway)
    gateway.search_by_number("2155552671")  # builds an index
    assert gateway.cached_contact_count == 3
    scope = permissions.withdrawal_scope()
    permissions.set(S.DENIED)
    assert scope.withdrawn
    assert gateway.cached_contact_count == 0
    assert deltas == [ContactsDelta(S.DENIED, removed=frozenset(ALL), purged=True)]


def test_an_app_kill_purges_even_when_access_stays() -> None:
    gateway, book, permissions = make(S.GRANTED)
    deltas = record(gateway)
    permissions.set(S.LIMITED, frozenset({"ann"}), app_killed=True)
    assert deltas == [
        ContactsDelta(
            S.LIMITED, updated=frozenset({"ann"}), removed=frozenset({"bob", "zoe"}), purged=True
        )
    ]
    assert ids(gateway.list_contacts()) == ["ann"]
    book.update(ANN.model_copy(update={"display_name": "Ann B. Lee"}))
    assert deltas[-1] == ContactsDelta(S.LIMITED, updated=frozenset({"ann"}))


def test_regrant_after_revoke_adds_everything_back() -> None:
    gateway, book, permissions = make()
    deltas = record(gateway)
    permissions.set(S.DENIED)
    book.add(Contact(id="carol"))  # invisible while denied: no delta
    assert len(deltas) == 1
    permissions.set(S.GRANTED)
    assert deltas[-1] == ContactsDelta(S.GRANTED, added=frozenset({*ALL, "carol"}))


def test_changes_to_other_permissions_are_ignored() -> None:
    gateway, _, permissions = make()
    deltas = record(gateway)
    permissions.set(S.GRANTED, permission=Permission.WRITE_CONTACTS)  # same group: counts
    assert deltas == []  # nothing visible changed


def test_applying_every_delta_reproduces_the_visible_set() -> None:
    gateway, book, permissions = make()
    held = {c.id for c in gateway.list_contacts().items}

    def apply(delta: ContactsDelta) -> None:
        held.difference_update(delta.removed)
        held.update(delta.added)

    gateway.subscribe(apply)
    steps: list[Callable[[], None]] = [
        lambda: book.add(Contact(id="carol")),
        lambda: permissions.set(S.LIMITED, frozenset({"carol", "ann"}), app_killed=True),
        lambda: book.remove("ann"),
        lambda: permissions.set(S.LIMITED, frozenset({"carol", "bob"})),
        lambda: permissions.set(S.BLOCKED, app_killed=True),
        lambda: book.add(Contact(id="dan")),
        lambda: permissions.set(S.GRANTED, app_killed=True),
    ]
    for step in steps:
        step()
        assert held == {c.id for c in gateway.list_contacts(limit=1000).items}


def test_a_purge_is_not_lost_when_another_change_interrupts_its_delivery() -> None:
    book = BlockingBook(BOOK, block_in="catalog")
    permissions = FakePermissions()
    gateway = ContactsGateway(book, permissions)
    deltas = record(gateway)
    book.block = True
    killer = threading.Thread(target=lambda: permissions.set(S.GRANTED, app_killed=True))
    killer.start()
    assert book.entered.wait(5)  # the purge's delta is being computed...
    book.block = False
    permissions.set(S.LIMITED, frozenset({"ann"}))  # ...when the selection changes
    book.release.set()
    killer.join(5)
    assert deltas == [
        ContactsDelta(
            S.LIMITED, updated=frozenset({"ann"}), removed=frozenset({"bob", "zoe"}), purged=True
        )
    ]


def test_a_listener_that_raises_does_not_stop_the_others(
    caplog: pytest.LogCaptureFixture,
) -> None:
    gateway, book, _ = make()

    def broken(delta: ContactsDelta) -> None:
        raise RuntimeError(f"cannot render {ANN.display_name}")

    gateway.subscribe(broken)
    deltas = record(gateway)
    with caplog.at_level(logging.DEBUG, logger="n2net_privacy"):
        book.add(Contact(id="carol"))
    assert deltas == [ContactsDelta(S.GRANTED, added=frozenset({"carol"}))]
    assert "RuntimeError" in caplog.text
    assert "Ann" not in caplog.text


def test_a_listener_may_change_the_book_without_deadlock() -> None:
    gateway, book, _ = make()
    deltas: list[ContactsDelta] = []

    def echo(delta: ContactsDelta) -> None:
        deltas.append(delta)
        if "carol" in delta.added:
            book.add(Contact(id="carol-2"))

    gateway.subscribe(echo)
    book.add(Contact(id="carol"))
    assert [d.added for d in deltas] == [frozenset({"carol"}), frozenset({"carol-2"})]


def test_unsubscribed_listeners_hear_nothing_and_no_baseline_is_kept() -> None:
    gateway, book, _ = make()
    deltas: list[ContactsDelta] = []
    unsubscribe = gateway.subscribe(deltas.append)
    unsubscribe()
    book.add(Contact(id="carol"))
    assert deltas == []


def test_close_lets_go_of_everything() -> None:
    gateway, book, permissions = make()
    deltas = record(gateway)
    gateway.list_contacts()
    with gateway:
        pass
    assert permissions.listener_count == 0
    assert gateway.cached_contact_count == 0
    book.add(Contact(id="carol"))
    assert deltas == []
    # A closed gateway refuses reads (it used to answer them, uncached: issue 21).
    with pytest.raises(ClosedError, match="ContactsGateway"):
        gateway.list_contacts()
    assert gateway.cached_contact_count == 0


# -- a revoke in the middle of a call ---------------------------------------------------


def test_a_revoke_during_the_final_check_returns_nothing() -> None:
    gateway, _, permissions = make()
    baseline = permissions.status_calls

    def revoke_on_second_check(call: int) -> None:
        if call == baseline + 2:
            permissions.set(S.DENIED, app_killed=True)

    permissions.on_status = revoke_on_second_check
    page = gateway.list_contacts()
    assert page == ContactPage(S.DENIED)
    assert gateway.cached_contact_count == 0


def test_a_revoke_right_after_the_first_check_leaves_nothing_cached() -> None:
    gateway, _, permissions = make()
    baseline = permissions.status_calls

    def revoke_after_first_answer(call: int) -> None:
        if call == baseline + 1:
            permissions.set(S.DENIED)

    permissions.after_status = revoke_after_first_answer
    assert gateway.search_by_name("a") == ContactPage(S.DENIED)
    assert gateway.cached_contact_count == 0


READS: list[Callable[[ContactsGateway], ContactPage | ContactLookup]] = [
    lambda g: g.list_contacts(),
    lambda g: g.search_by_name("a"),
    lambda g: g.search_by_number("2155552671"),
    lambda g: g.search_by_email("bob@example.org"),
    lambda g: g.get_contact("ann"),
]


@pytest.mark.parametrize("block_in", ["snapshot", "catalog"])
@pytest.mark.parametrize("call", READS)
def test_a_revoke_on_another_thread_while_reading_returns_nothing(
    call: Callable[[ContactsGateway], ContactPage | ContactLookup], block_in: str
) -> None:
    book = BlockingBook(BOOK, block_in)
    permissions = FakePermissions()
    gateway = ContactsGateway(book, permissions)
    results: list[object] = []
    book.block = True
    reader = threading.Thread(target=lambda: results.append(call(gateway)))
    reader.start()
    assert book.entered.wait(5)
    permissions.set(S.BLOCKED)  # the user revokes while the read is inside the source
    book.release.set()
    reader.join(5)
    (result,) = results
    assert isinstance(result, ContactPage | ContactLookup)
    assert result.status is S.BLOCKED
    assert not result.allowed
    assert result in (ContactPage(S.BLOCKED), ContactLookup(S.BLOCKED))
    assert gateway.cached_contact_count == 0


@pytest.mark.parametrize("block_in", ["snapshot", "catalog"])
def test_an_app_kill_mid_read_rereads_instead_of_serving_stale_data(block_in: str) -> None:
    book = BlockingBook(BOOK, block_in)
    permissions = FakePermissions()
    gateway = ContactsGateway(book, permissions)
    results: list[ContactPage] = []
    book.block = True
    reader = threading.Thread(target=lambda: results.append(gateway.list_contacts()))
    reader.start()
    assert book.entered.wait(5)
    book.block = False
    permissions.set(S.LIMITED, frozenset({"bob"}), app_killed=True)
    book.release.set()
    reader.join(5)
    assert [(p.status, ids(p)) for p in results] == [(S.LIMITED, ["bob"])]


def test_a_silent_selection_change_mid_read_is_noticed() -> None:
    gateway, _, permissions = make(S.LIMITED, frozenset({"ann", "bob"}))

    def shrink() -> None:
        permissions.on_selected = None
        permissions.set_silently(S.LIMITED, frozenset({"bob"}))

    permissions.on_selected = shrink  # the read sees {ann, bob}, then it shrinks
    assert ids(gateway.list_contacts()) == ["bob"]


def test_stress_no_contact_comes_back_while_revoked() -> None:
    gateway, _, permissions = make(contacts=many(2_000))
    clock = threading.Lock()
    ticks = [0]

    def tick() -> int:
        with clock:
            ticks[0] += 1
            return ticks[0]

    revoked_windows: list[tuple[int, int]] = []
    calls: list[tuple[int, int, int]] = []
    errors: list[BaseException] = []
    stop = threading.Event()

    def reader() -> None:
        try:
            while not stop.is_set():
                offset: int | None = 0
                while offset is not None and not stop.is_set():
                    start = tick()
                    page = gateway.list_contacts(offset=offset, limit=250)
                    calls.append((start, tick(), len(page.items)))
                    offset = page.next_offset if page.allowed else None
                hits = gateway.search_by_name("person 01")
                assert hits.allowed or not hits.items
        except BaseException as exc:  # surfaced below, on the test thread
            errors.append(exc)

    def toggler() -> None:
        for round_ in range(40):
            permissions.set(S.DENIED, app_killed=round_ % 2 == 0)
            began = tick()
            time.sleep(0.002)
            ended = tick()
            revoked_windows.append((began, ended))
            permissions.set(S.GRANTED)
            time.sleep(0.002)
        stop.set()

    threads = [threading.Thread(target=reader) for _ in range(2)]
    threads.append(threading.Thread(target=toggler))
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(20)
    assert not errors
    assert calls
    inside = [
        items
        for start, end, items in calls
        for began, ended in revoked_windows
        if began < start and end < ended
    ]
    assert inside  # the readers really did call while revoked
    assert all(items == 0 for items in inside)
    permissions.set(S.DENIED)
    assert gateway.cached_contact_count == 0
    assert gateway.list_contacts() == ContactPage(S.DENIED)


# -- redaction -----------------------------------------------------------------------


def test_no_name_number_or_email_reaches_the_log(caplog: pytest.LogCaptureFixture) -> None:
    with caplog.at_level(logging.DEBUG):
        gateway, book, permissions = make()
        record(gateway)
        gateway.list_contacts()
        gateway.search_by_name("Ann")
        gateway.search_by_number("+1 (215) 555-2671")
        gateway.search_by_email("Ann.Lee@example.com")
        book.update(ANN.model_copy(update={"display_name": "Ann Other"}))
        permissions.set(S.LIMITED, frozenset({"ann"}), app_killed=True)
        permissions.set(S.DENIED, app_killed=True)
    assert "purged" in caplog.text  # the revoke itself is logged...
    for secret in ("Ann", "Lee", "Zo", "2155552671", "555-2671", "7946", "example"):
        assert secret not in caplog.text  # ...but nobody in the book is


# -- with the real permission providers ---------------------------------------------


def _view(provider: PermissionProvider) -> PermissionView:
    return PermissionService(provider)


def test_ios_18_end_to_end_with_the_real_provider() -> None:
    user = ScriptedUser([SelectContacts(["ann"])])
    provider = IOSPermissionProvider(ios_version=18, user=user)
    view = _view(provider)
    gateway = ContactsGateway(InMemoryAddressBook(BOOK), view)
    deltas = record(gateway)

    assert gateway.list_contacts() == ContactPage(S.NOT_DETERMINED)
    assert view.status(Permission.CONTACTS) is S.NOT_DETERMINED
    PermissionService(provider).request(Permission.CONTACTS)
    assert ids(gateway.list_contacts()) == ["ann"]
    assert deltas[-1] == ContactsDelta(S.LIMITED, added=frozenset({"ann"}))

    user.push(SelectContacts(["ann", "bob"]))  # the picker's answer is the new selection
    provider.present_contact_picker()
    assert deltas[-1] == ContactsDelta(S.LIMITED, added=frozenset({"bob"}))
    assert ids(gateway.search_by_name("o")) == ["bob"]

    provider.settings_grant()  # a Settings change: iOS kills the app
    assert deltas[-1].purged
    assert deltas[-1].added == {"zoe"}
    assert ids(gateway.list_contacts()) == ALL

    provider.settings_revoke()
    assert deltas[-1] == ContactsDelta(S.BLOCKED, removed=frozenset(ALL), purged=True)
    assert gateway.list_contacts() == ContactPage(S.BLOCKED)
    assert gateway.cached_contact_count == 0

    provider.mdm_restrict()
    assert gateway.get_contact("ann") == ContactLookup(S.RESTRICTED)


def test_android_revoke_from_settings_during_a_listing() -> None:
    provider = AndroidPermissionProvider(api_level=34, user=ScriptedUser([Answer.GRANT]))
    view = _view(provider)
    book = BlockingBook(BOOK, block_in="catalog")
    gateway = ContactsGateway(book, view)
    PermissionService(provider).request(Permission.CONTACTS)
    assert ids(gateway.list_contacts()) == ALL

    book.add(Contact(id="carol", display_name="Carol"))  # a new version: the next read rebuilds
    book.block = True
    results: list[ContactPage] = []
    reader = threading.Thread(target=lambda: results.append(gateway.list_contacts()))
    reader.start()
    assert book.entered.wait(5)
    provider.settings_revoke()
    book.release.set()
    reader.join(5)
    (page,) = results
    assert not page.allowed
    assert page.items == ()
    assert gateway.cached_contact_count == 0


class RevokingBook(InMemoryAddressBook):
    """A book that runs ``interrupt`` once, from inside the gateway's next read of it.

    With ``at="snapshot"`` it runs inside ``snapshot()``; with ``"catalog"``
    when the gateway starts walking the snapshot's contacts. One thread: the
    interleaving is fixed, no waiting involved.
    """

    def __init__(self, contacts: list[Contact], at: str) -> None:
        super().__init__(contacts)
        self.at = at
        self.interrupt: Callable[[], None] | None = None

    def _once(self) -> None:
        interrupt, self.interrupt = self.interrupt, None
        if interrupt is not None:
            interrupt()

    def snapshot(self) -> AddressBookSnapshot:
        if self.at == "snapshot":
            self._once()
        snap = super().snapshot()
        if self.at == "catalog":
            return AddressBookSnapshot(snap.version, _HoldingTuple(snap.contacts, self._once))
        return snap


def _granted_android(
    book: InMemoryAddressBook,
) -> tuple[ContactsGateway, AndroidPermissionProvider]:
    provider = AndroidPermissionProvider(api_level=34, user=ScriptedUser([Answer.GRANT]))
    service = PermissionService(provider)
    service.request(Permission.CONTACTS)
    return ContactsGateway(book, service), provider


@pytest.mark.parametrize("at", ["snapshot", "catalog"])
@pytest.mark.parametrize("call", READS)
def test_a_read_in_flight_when_access_is_revoked_returns_nothing(
    call: Callable[[ContactsGateway], ContactPage | ContactLookup], at: str
) -> None:
    book = RevokingBook(BOOK, at)
    gateway, provider = _granted_android(book)
    book.add(Contact(id="carol", display_name="Carol"))  # a new version: the read rebuilds
    book.interrupt = provider.settings_revoke  # lands after the read checked the permission
    result = call(gateway)
    assert book.interrupt is None  # the revoke did land mid-read
    assert not result.allowed
    assert result in (ContactPage(S.DENIED), ContactLookup(S.DENIED))
    assert gateway.cached_contact_count == 0


@pytest.mark.parametrize("at", ["snapshot", "catalog"])
def test_a_delta_in_flight_when_access_is_revoked_announces_nothing_but_the_purge(
    at: str,
) -> None:
    book = RevokingBook(BOOK, at)
    gateway, provider = _granted_android(book)
    deltas = record(gateway)
    book.interrupt = provider.settings_revoke
    book.add(Contact(id="carol", display_name="Carol"))  # its delta is computed, then revoked
    assert book.interrupt is None
    assert deltas == [ContactsDelta(S.DENIED, removed=frozenset(ALL), purged=True)]
    assert gateway.cached_contact_count == 0
