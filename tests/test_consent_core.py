"""The consent core runs each transition's effects in the table's order, with its I/O."""

from __future__ import annotations

import errno
import threading

import pytest
from _support import HANG_GUARD_S

from n2net_privacy.consent import ConsentCore, Kind, Origin, Proposal
from n2net_privacy.errors import StorageError

WAIT = HANG_GUARD_S  # real seconds: turns a hang into a failure, never a pass condition


class Journal:
    """Records each effect as it happens, with the state in force at that moment."""

    def __init__(self) -> None:
        self.events: list[tuple[str, bool]] = []
        self.fail_with: int | None = None
        self.hold: threading.Event | None = None
        self.saving = threading.Event()
        self.core: ConsentCore[bool, str] | None = None

    def in_force(self) -> bool:
        assert self.core is not None
        return self.core.state

    def persist(self, state: bool) -> None:
        self.saving.set()
        if self.hold is not None:
            assert self.hold.wait(WAIT)
        if self.fail_with is not None:
            raise StorageError("cannot save", path="<test>", errno=self.fail_with)
        self.events.append((f"persist {state}", self.in_force()))


Made = tuple[ConsentCore[bool, str], Journal, list[StorageError]]


def make(origin: Origin = Origin.USER, *, initial: bool = False) -> Made:
    journal = Journal()
    reported: list[StorageError] = []
    core: ConsentCore[bool, str] = ConsentCore(
        initial, origin=origin, name="test", persist=journal.persist,
        on_storage_error=reported.append,
    )
    journal.core = core
    core.on_revoke(lambda change: journal.events.append((f"hook {change}", core.state)))
    core.subscribe(lambda change: journal.events.append((f"notify {change}", core.state)))
    return core, journal, reported


def toggle(value: bool) -> object:
    def decide(current: bool) -> Proposal[bool, str] | None:
        if current == value:
            return None
        kind = Kind.GRANT if value else Kind.REVOKE
        return Proposal(value, "on" if value else "off", kind)

    return decide


def test_a_revocation_publishes_purges_notifies_then_persists() -> None:
    core, journal, _ = make(initial=True)
    core.apply(toggle(False))  # type: ignore[arg-type]
    assert journal.events == [
        ("hook off", False), ("notify off", False), ("persist False", False),
    ]


def test_a_grant_is_saved_before_it_counts() -> None:
    core, journal, _ = make()
    applied = core.apply(toggle(True))  # type: ignore[arg-type]
    assert applied.published and applied.version == 1
    assert journal.events == [("persist True", False), ("notify on", True)]


def test_a_grant_that_cannot_be_saved_raises_and_changes_nothing() -> None:
    core, journal, reported = make()
    journal.fail_with = errno.ENOSPC
    with pytest.raises(StorageError):
        core.apply(toggle(True))  # type: ignore[arg-type]
    assert core.state is False and core.version == 0
    assert journal.events == [] and reported == []  # the raise is the report


def test_a_revocation_that_cannot_be_saved_holds_and_is_reported() -> None:
    core, journal, reported = make(initial=True)
    journal.fail_with = errno.ENOSPC
    core.apply(toggle(False))  # type: ignore[arg-type]
    assert core.state is False
    assert [e for e, _ in journal.events] == ["hook off", "notify off"]
    assert [r.errno for r in reported] == [errno.ENOSPC]
    journal.fail_with = None
    core.flush()  # the disk is back: the next write saves what is in force
    assert journal.events[-1] == ("persist False", False)


def test_reads_never_wait_for_a_grant_being_saved() -> None:
    core, journal, _ = make()
    journal.hold = threading.Event()
    granting = threading.Thread(target=core.apply, args=(toggle(True),))
    granting.start()
    assert journal.saving.wait(WAIT)  # the grant's fsync is held open
    assert core.state is False and core.version == 0  # answered now, without the disk
    journal.hold.set()
    granting.join(WAIT)
    assert core.state is True and core.version == 1


def test_a_grant_superseded_while_saving_does_not_come_back() -> None:
    core, journal, _ = make(initial=True)
    core.apply(toggle(False))  # type: ignore[arg-type]
    journal.events.clear()
    journal.hold = threading.Event()
    journal.saving.clear()
    granting = threading.Thread(target=core.apply, args=(toggle(True),))
    granting.start()
    assert journal.saving.wait(WAIT)
    # While the grant is saved, a platform-style revocation lands (published at once).
    revoked = threading.Event()

    def revoke() -> None:
        core.apply(lambda current: Proposal(False, "off again", Kind.REVOKE))
        revoked.set()

    threading.Thread(target=revoke).start()
    assert core.state is False  # the grant never counted while its save was pending
    journal.hold.set()
    granting.join(WAIT)
    assert revoked.wait(WAIT)
    assert core.state is False
    assert journal.events[-1] == ("persist False", False)
    assert ("notify on", True) not in journal.events


def test_a_transition_made_inside_a_read_is_saved_by_the_next_write() -> None:
    core, journal, _ = make(Origin.PLATFORM)
    with core.reading():
        core.apply(lambda current: Proposal(True, "learned", Kind.GRANT))
    assert core.state is True
    assert journal.events == [("notify learned", True)]  # published and told, not saved
    core.flush()
    assert journal.events[-1] == ("persist True", True)
    core.flush()
    assert len(journal.events) == 2  # nothing left to save


def test_a_hook_that_raises_does_not_stop_the_others_or_the_revocation(
    caplog: pytest.LogCaptureFixture,
) -> None:
    core, journal, _ = make(initial=True)

    def broken(_change: str) -> None:
        raise OSError("read-only")

    core.on_revoke(broken)
    core.on_revoke(lambda change: journal.events.append((f"second hook {change}", core.state)))
    core.apply(toggle(False))  # type: ignore[arg-type]
    assert [e for e, _ in journal.events] == [
        "hook off", "second hook off", "notify off", "persist False",
    ]
    assert "revocation hook raised OSError" in caplog.text


# -- "withdrawn since version V": the SUPERSEDED table, the overrule, the scopes -----------

State = tuple[bool, str]  # (gravatar on, hash algorithm)


class HeldSaves:
    """A persist whose first save is held open until the test lets it finish."""

    def __init__(self) -> None:
        self.saving, self.go_on = threading.Event(), threading.Event()
        self.saved: list[State] = []

    def persist(self, state: State) -> None:
        if not self.saving.is_set():
            self.saving.set()
            assert self.go_on.wait(WAIT)
        self.saved.append(state)


def set_field(on: bool | None = None, algorithm: str | None = None) -> object:
    def decide(current: State) -> Proposal[State, str] | None:
        new = (current[0] if on is None else on, current[1] if algorithm is None else algorithm)
        if new == current:
            return None
        kind = Kind.CHANGE if new[0] == current[0] else (Kind.GRANT if new[0] else Kind.REVOKE)
        return Proposal(new, f"{new}", kind)

    return decide


@pytest.mark.parametrize(
    ("pending", "in_force_after"),
    [
        (set_field(on=True), (False, "md5")),  # SUPERSEDED: a grant is dropped
        (set_field(algorithm="sha256"), (False, "sha256")),  # any other change is saved again
    ],
    ids=["grant-dropped", "change-resaved"],
)
def test_a_save_overtaken_by_a_withdrawal_follows_the_superseded_table(
    pending: object, in_force_after: State
) -> None:
    disk = HeldSaves()
    core: ConsentCore[State, str] = ConsentCore(
        (False, "md5"), origin=Origin.USER, name="test", persist=disk.persist
    )
    revoked = threading.Event()
    core.on_revoke(lambda _change: revoked.set())
    saving = threading.Thread(target=core.apply, args=(pending,))
    saving.start()
    assert disk.saving.wait(WAIT)  # its save is held open
    # A withdrawal lands while it is saved (as a platform one would: published at once).
    withdraw = lambda current: Proposal((False, current[1]), "off", Kind.REVOKE)  # noqa: E731
    revoking = threading.Thread(target=core.apply, args=(withdraw,))
    revoking.start()
    assert revoked.wait(WAIT)  # published and purged; its own persist waits for the disk
    assert core.state == (False, "md5")
    disk.go_on.set()
    saving.join(WAIT)
    revoking.join(WAIT)
    assert not saving.is_alive() and not revoking.is_alive()
    assert core.state == in_force_after
    assert disk.saved[-1] == in_force_after  # the disk says what is in force


def test_overrule_pending_makes_a_grant_being_saved_lose() -> None:
    disk = HeldSaves()
    core: ConsentCore[State, str] = ConsentCore(
        (False, "md5"), origin=Origin.USER, name="test", persist=disk.persist
    )
    heard: list[str] = []
    core.subscribe(heard.append)
    granting = threading.Thread(target=core.apply, args=(set_field(on=True),))
    granting.start()
    assert disk.saving.wait(WAIT)
    core.overrule_pending()  # "switch off" while it already reads off: no disk, no wait
    disk.go_on.set()
    granting.join(WAIT)
    assert not granting.is_alive()
    assert core.state == (False, "md5")
    assert disk.saved[-1] == (False, "md5")
    assert heard == []


def test_a_withdrawal_scope_turns_withdrawn_when_a_withdrawal_is_published() -> None:
    core, _journal, _ = make()
    scope = core.scope()
    core.apply(toggle(True))  # type: ignore[arg-type]
    assert not scope.withdrawn  # a grant withdraws nothing
    seen_by_hook: list[bool] = []
    core.on_revoke(lambda _change: seen_by_hook.append(scope.withdrawn))
    core.apply(toggle(False))  # type: ignore[arg-type]
    assert scope.withdrawn
    assert seen_by_hook == [True]  # the epoch moved at PUBLISH, before the purge
    assert not core.scope().withdrawn  # a scope opened now starts clean
