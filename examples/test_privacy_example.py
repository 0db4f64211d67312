"""A test file to copy: prove that your app's use of the SDK leaks no PII.

The fixtures come from the n2net_privacy pytest plugin, which pytest loads
automatically once the package is installed. Run it with ``pytest examples/``.
"""

from __future__ import annotations

import asyncio
from pathlib import Path

from n2net_privacy.contacts import Contact, ContactsGateway, InMemoryAddressBook
from n2net_privacy.gravatar import GravatarConfig, GravatarFetcher, gravatar_hash
from n2net_privacy.permissions import (
    AndroidPermissionProvider,
    PermissionService,
    PermissionStatus,
)
from n2net_privacy.settings import Settings
from n2net_privacy.simulation import Answer, ScriptedUser, SimulatedAndroidKeystore
from n2net_privacy.testing.audited import AuditedEgress
from n2net_privacy.testing.servers.gravatar import GravatarStandIn
from n2net_privacy.testing.servers.ingest import IngestServer
from n2net_privacy.uploader import Endpoint, ServerKeyPair
from n2net_privacy.uploader.recorder import Uploader


def test_contacts_need_the_permission(
    android_provider: AndroidPermissionProvider,
    scripted_user: ScriptedUser,
    address_book: list[Contact],
) -> None:
    permissions = PermissionService(android_provider)
    contacts = ContactsGateway(InMemoryAddressBook(address_book), permissions)
    assert contacts.list_contacts().status is PermissionStatus.NOT_DETERMINED

    scripted_user.push(Answer.GRANT)
    permissions.request("contacts")
    assert len(contacts.list_contacts(limit=10).items) == 10

    android_provider.settings_revoke()  # the user changes their mind in Settings
    page = contacts.list_contacts()
    assert page.items == () and page.status is PermissionStatus.DENIED


def test_only_hashes_go_to_gravatar(
    egress: AuditedEgress,
    gravatar_stand_in: GravatarStandIn,
    address_book: list[Contact],
    tmp_path: Path,
) -> None:
    with_email = [c for c in address_book if c.emails]
    gravatar_stand_in.add_avatar(gravatar_hash(with_email[0].emails[0]))
    settings = Settings(tmp_path / "settings.json")
    settings.gravatar_enabled = True
    fetcher = GravatarFetcher(settings, egress, GravatarConfig(base_url=gravatar_stand_in.base_url))
    try:
        results = asyncio.run(fetcher.fetch_many(with_email))
    finally:
        fetcher.close()
    assert results[0].found
    egress.assert_no_pii()


def test_calls_upload_only_the_number_and_metadata(
    egress: AuditedEgress,
    ingest_server: IngestServer,
    server_key: ServerKeyPair,
    address_book: list[Contact],
    tmp_path: Path,
) -> None:
    callee = next(c for c in address_book if any(p.number.startswith("+") for p in c.phones))
    phone = next(p for p in callee.phones if p.number.startswith("+"))
    with Uploader(
        Endpoint(ingest_server.url, "test-app-key", server_key.public), tmp_path,
        key_store=SimulatedAndroidKeystore(), egress=egress, region="US",
    ) as uploader:
        assert uploader.record_call(phone, duration_s=42).queued
        assert uploader.flush(timeout=10)
    (event,) = ingest_server.events()
    assert (event.type, event.duration_s) == ("call", 42)
    egress.assert_no_pii()
