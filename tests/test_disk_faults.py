"""Every public call of Settings, PermissionService and ContactsGateway under disk faults.

Faults are injected (``fsync`` and ``read_file`` raise ``ENOSPC`` or ``EACCES``),
or real (a file where the data directory should be; corrupt files). Each call
must succeed or raise an :class:`N2NetPrivacyError`; never a bare
``OSError``. A revocation always takes effect. The tables below name every
public member, and a test checks that no public member is missing from them.
"""

from __future__ import annotations

import contextlib
import errno
import os
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

from n2net_privacy.contacts import Contact, ContactsGateway, InMemoryAddressBook
from n2net_privacy.errors import ClosedError, N2NetPrivacyError, StorageError
from n2net_privacy.permissions import (
    AndroidPermissionProvider,
    JsonLearnedStatusStore,
    Permission,
    PermissionService,
)
from n2net_privacy.settings import Settings
from n2net_privacy.simulation import Answer, ScriptedUser

FAULTS = [errno.ENOSPC, errno.EACCES]


@dataclass
class FaultyDisk:
    """fsync and reads that fail with ``code`` once switched on."""

    code: int
    failing: bool = False
    failures: list[str] = field(default_factory=list)

    def fsync(self, fd: int) -> None:
        if self.failing:
            self.failures.append("fsync")
            raise OSError(self.code, os.strerror(self.code))
        os.fsync(fd)

    def read_file(self, path: Path) -> bytes:
        if self.failing:
            self.failures.append("read")
            raise OSError(self.code, os.strerror(self.code), str(path))
        return path.read_bytes()


def succeeds_or_raises_ours(call: Callable[[], Any]) -> None:
    # A typed error is allowed; anything else fails the test.
    with contextlib.suppress(N2NetPrivacyError):
        call()


# -- Settings ------------------------------------------------------------------------

SETTINGS_CALLS: dict[str, Callable[[Settings], Any]] = {
    "values": lambda s: s.values,
    "version": lambda s: s.version,
    "gravatar_enabled": lambda s: setattr(s, "gravatar_enabled", not s.gravatar_enabled),
    "gravatar_hash_algorithm": lambda s: setattr(s, "gravatar_hash_algorithm", "sha256"),
    "subscribe": lambda s: s.subscribe(lambda _c: None)(),
    "on_revoke": lambda s: s.on_revoke(lambda _c: None)(),
    "withdrawal_scope": lambda s: s.withdrawal_scope().withdrawn,
    "path": lambda s: s.path,
}


@pytest.mark.parametrize("code", FAULTS)
@pytest.mark.parametrize("name", sorted(SETTINGS_CALLS))
def test_every_settings_call_under_a_failing_disk(tmp_path: Path, code: int, name: str) -> None:
    disk = FaultyDisk(code)
    reported: list[StorageError] = []
    settings = Settings(
        tmp_path / "settings.json", fsync=disk.fsync, read_file=disk.read_file,
        on_storage_error=reported.append,
    )
    settings.gravatar_enabled = True
    disk.failing = True
    succeeds_or_raises_ours(lambda: SETTINGS_CALLS[name](settings))
    settings.gravatar_enabled = False  # a revocation: never raises, always holds
    assert settings.gravatar_enabled is False
    assert reported and all(r.errno == code for r in reported)


@pytest.mark.parametrize("code", FAULTS)
def test_settings_that_cannot_be_read_raise_a_storage_error(tmp_path: Path, code: int) -> None:
    (tmp_path / "settings.json").write_text('{"gravatar_enabled": true}')
    disk = FaultyDisk(code, failing=True)
    with pytest.raises(StorageError) as raised:
        Settings(tmp_path / "settings.json", read_file=disk.read_file)
    assert raised.value.errno == code


def test_settings_under_a_file_where_the_folder_should_be(tmp_path: Path) -> None:
    settings = Settings(tmp_path / "cfg" / "settings.json")
    (tmp_path / "cfg").write_text("not a folder")
    for call in SETTINGS_CALLS.values():
        succeeds_or_raises_ours(lambda call=call: call(settings))  # type: ignore[misc]
    with pytest.raises(StorageError):
        settings.gravatar_enabled = True  # consent counts only once saved
    assert settings.gravatar_enabled is False


# -- PermissionService ---------------------------------------------------------------

SERVICE_CALLS: dict[str, Callable[[PermissionService, AndroidPermissionProvider], Any]] = {
    "platform": lambda s, p: s.platform,
    "status": lambda s, p: s.status("contacts"),
    "request": lambda s, p: s.request("contacts"),
    "should_show_rationale": lambda s, p: s.should_show_rationale("contacts"),
    "selected_ids": lambda s, p: s.selected_ids("contacts"),
    "learned": lambda s, p: s.learned("contacts"),
    "version": lambda s, p: s.version,
    "withdrawal_scope": lambda s, p: s.withdrawal_scope().withdrawn,
    "subscribe": lambda s, p: s.subscribe(lambda _c: None)(),
    "on_revoke": lambda s, p: s.on_revoke(lambda _c: None)(),
    "close": lambda s, p: s.close(),
    "__enter__": lambda s, p: s.__enter__(),
    "__exit__": lambda s, p: s.__exit__(None, None, None),
    # Platform changes reach the service through its provider subscription.
    "(settings grant)": lambda s, p: p.settings_grant(),
    "(settings revoke)": lambda s, p: p.settings_revoke(),
}


def make_service(tmp_path: Path, disk: FaultyDisk) -> tuple[PermissionService,
                                                              AndroidPermissionProvider,
                                                              list[StorageError]]:
    provider = AndroidPermissionProvider(
        api_level=34, user=ScriptedUser([Answer.DENY, Answer.DENY, Answer.DENY])
    )
    store = JsonLearnedStatusStore(
        tmp_path / "permissions.json", fsync=disk.fsync, read_file=disk.read_file
    )
    reported: list[StorageError] = []
    return PermissionService(provider, store, on_storage_error=reported.append), provider, reported


@pytest.mark.parametrize("code", FAULTS)
@pytest.mark.parametrize("name", sorted(SERVICE_CALLS))
def test_every_permission_service_call_under_a_failing_disk(
    tmp_path: Path, code: int, name: str
) -> None:
    disk = FaultyDisk(code)
    service, provider, reported = make_service(tmp_path, disk)
    service.request("contacts")  # DENIED: something worth saving
    disk.failing = True
    for step in ("request", name, "(settings grant)", "(settings revoke)", "status"):
        succeeds_or_raises_ours(lambda step=step: SERVICE_CALLS[step](service, provider))
    if name in ("close", "__exit__"):  # a closed service refuses reads (issue 21)
        with pytest.raises(ClosedError):
            service.status("contacts")
        assert provider.check(Permission.CONTACTS).allows_access is False
    else:
        assert service.status("contacts").allows_access is False  # the revocation holds
    succeeds_or_raises_ours(service.close)
    assert all(r.errno == code for r in reported)


@pytest.mark.parametrize("code", FAULTS)
def test_an_unreadable_permission_file_means_nothing_learned(tmp_path: Path, code: int) -> None:
    earlier, _provider, _reported = make_service(tmp_path, FaultyDisk(code))
    earlier.request("contacts")
    earlier.request("contacts")  # BLOCKED: learned, and saved
    assert earlier.learned("contacts") is not None
    earlier.close()
    assert (tmp_path / "permissions.json").exists()
    disk = FaultyDisk(code, failing=True)
    service, provider, _reported = make_service(tmp_path, disk)
    assert "read" in disk.failures  # the saved state was there, and could not be read
    assert service.learned("contacts") is None  # so nothing is learned from it
    for name in sorted(SERVICE_CALLS):
        succeeds_or_raises_ours(lambda name=name: SERVICE_CALLS[name](service, provider))


def test_reads_never_touch_the_disk(tmp_path: Path) -> None:
    disk = FaultyDisk(errno.EIO)
    service, provider, _reported = make_service(tmp_path, disk)
    service.request("contacts")
    service.request("contacts")  # BLOCKED, saved
    provider.settings_grant()  # behind the app's back: learned state is now stale
    disk.failing = True  # any disk access from here would be recorded
    for _ in range(3):
        service.status("contacts")
        service.should_show_rationale("contacts")
        service.selected_ids("contacts")
        service.learned("contacts")
    assert disk.failures == []


# -- ContactsGateway -----------------------------------------------------------------

GATEWAY_CALLS: dict[str, Callable[[ContactsGateway], Any]] = {
    "status": lambda g: g.status(),
    "list_contacts": lambda g: g.list_contacts(limit=10),
    "get_contact": lambda g: g.get_contact("c1"),
    "search_by_name": lambda g: g.search_by_name("person"),
    "search_by_number": lambda g: g.search_by_number("+12155552671"),
    "search_by_email": lambda g: g.search_by_email("c1@example.com"),
    "subscribe": lambda g: g.subscribe(lambda _d: None)(),
    "cached_contact_count": lambda g: g.cached_contact_count,
    "close": lambda g: g.close(),
    "__enter__": lambda g: g.__enter__(),
    "__exit__": lambda g: g.__exit__(None, None, None),
}


@pytest.mark.parametrize("code", FAULTS)
@pytest.mark.parametrize("name", sorted(GATEWAY_CALLS))
def test_every_gateway_call_under_a_failing_disk(tmp_path: Path, code: int, name: str) -> None:
    disk = FaultyDisk(code)
    service, provider, _reported = make_service(tmp_path, disk)
    provider.settings_grant()
    book = InMemoryAddressBook(
        [Contact(id="c1", display_name="Person One", emails=("c1@example.com",))]
    )
    gateway = ContactsGateway(book, service)
    gateway.subscribe(lambda _d: None)
    disk.failing = True
    succeeds_or_raises_ours(lambda: GATEWAY_CALLS[name](gateway))
    provider.settings_revoke()  # saving the learned DENIED fails: still in force
    if name in ("close", "__exit__"):  # a closed gateway refuses reads (issue 21)
        with pytest.raises(ClosedError):
            gateway.list_contacts()
    else:
        assert gateway.list_contacts().items == ()
    assert gateway.cached_contact_count == 0
    gateway.close()
    service.close()


# -- the tables cover every public member ----------------------------------------------


@pytest.mark.parametrize(
    ("cls", "table"),
    [(Settings, SETTINGS_CALLS), (PermissionService, SERVICE_CALLS),
     (ContactsGateway, GATEWAY_CALLS)],
)
def test_the_tables_name_every_public_member(cls: type, table: dict[str, Any]) -> None:
    public = {name for name in vars(cls) if not name.startswith("_")}
    public |= {"__enter__", "__exit__"} & set(vars(cls))
    assert public <= set(table), sorted(public - set(table))
