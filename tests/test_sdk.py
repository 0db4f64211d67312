"""The facade wires every part over one egress and one data directory."""

from __future__ import annotations

from pathlib import Path

import pytest

from n2net_privacy.contacts import Contact, InMemoryAddressBook
from n2net_privacy.device import DeviceContext
from n2net_privacy.errors import ConfigurationError
from n2net_privacy.gravatar import NoAvatar, NoAvatarReason
from n2net_privacy.permissions import (
    AndroidPermissionProvider,
    Answer,
    PermissionStatus,
    ScriptedUser,
)
from n2net_privacy.sdk import N2NetPrivacy, UploaderConfig
from n2net_privacy.testing.audited import AuditedEgress
from n2net_privacy.testing.ingest_server import IngestServer
from n2net_privacy.uploader import ServerKeyPair
from n2net_privacy.uploader.keystore import SimulatedAndroidKeystore


def test_facade_end_to_end(
    address_book: list[Contact],
    ingest_server: IngestServer,
    server_key: ServerKeyPair,
    egress: AuditedEgress,
    tmp_path: Path,
) -> None:
    provider = AndroidPermissionProvider(api_level=34, user=ScriptedUser([Answer.GRANT]))
    config = UploaderConfig(
        api_url=ingest_server.url,
        app_key="test-app-key",
        server_key=server_key.public,
        key_store=SimulatedAndroidKeystore(),
    )
    assert "test-app-key" not in repr(config)
    with N2NetPrivacy(
        provider=provider,
        address_book=InMemoryAddressBook(address_book),
        data_dir=tmp_path,
        egress=egress,
        device=DeviceContext(sim_region="US"),
        uploader=config,
    ) as sdk:
        assert sdk.permissions.request("contacts") is PermissionStatus.GRANTED
        assert len(sdk.contacts.list_contacts(limit=5).items) == 5
        assert sdk.avatars.fetch(address_book[0]) == NoAvatar(NoAvatarReason.DISABLED)
        assert sdk.record_sms("(215) 555-2671").queued
        assert not sdk.record_call("911", duration_s=3).queued
        assert sdk.uploader is not None and sdk.uploader.flush(timeout=10)
    assert [e.number for e in ingest_server.events()] == ["+12155552671"]
    egress.assert_no_pii()


def test_recording_without_an_uploader_is_a_configuration_error(tmp_path: Path) -> None:
    sdk = N2NetPrivacy(
        provider=AndroidPermissionProvider(api_level=34),
        address_book=InMemoryAddressBook([]),
        data_dir=tmp_path,
    )
    try:
        with pytest.raises(ConfigurationError):
            sdk.record_sms("+12155552671")
    finally:
        sdk.close()
