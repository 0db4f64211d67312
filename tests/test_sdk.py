"""The facade wires every part over one egress and one data directory."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest

from n2net_privacy.contacts import Contact, InMemoryAddressBook
from n2net_privacy.device import DeviceContext
from n2net_privacy.errors import ConfigurationError, InvalidUrlError, KeyStoreError
from n2net_privacy.gravatar import NoAvatar, NoAvatarReason
from n2net_privacy.permissions import AndroidPermissionProvider, PermissionChange, PermissionStatus
from n2net_privacy.sdk import N2NetPrivacy, UploaderConfig
from n2net_privacy.simulation import Answer, ScriptedUser, SimulatedAndroidKeystore
from n2net_privacy.testing.audited import AuditedEgress
from n2net_privacy.testing.servers.ingest import IngestServer
from n2net_privacy.uploader import ServerKeyPair
from n2net_privacy.uploader.store.at_rest import AtRestKey


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


class _CountingProvider(AndroidPermissionProvider):
    """Counts the subscriptions still active, to see that a failed build lets go."""

    def __init__(self) -> None:
        super().__init__(api_level=34)
        self.active = 0

    def subscribe(self, listener: Callable[[PermissionChange], None]) -> Callable[[], None]:
        undo = super().subscribe(listener)
        self.active += 1

        def unsubscribe() -> None:
            self.active -= 1
            undo()

        return unsubscribe


class _BrokenKeyStore:
    def at_rest_key(self, alias: str) -> AtRestKey:
        raise KeyStoreError("the keystore is locked")


@pytest.mark.parametrize(
    ("api_url", "key_store", "error", "message"),
    [
        ("http://api.n2net.com", SimulatedAndroidKeystore(), InvalidUrlError,
         "uploader.api_url: http:// to 'api.n2net.com' refused"),
        ("https://api.n2net.com", _BrokenKeyStore(), KeyStoreError, "locked"),
    ],
)
def test_a_facade_that_fails_to_build_lets_go_of_what_it_built(
    tmp_path: Path, api_url: str, key_store: object, error: type[Exception], message: str
) -> None:
    provider = _CountingProvider()
    config = UploaderConfig(api_url=api_url, app_key="k",
                            server_key=ServerKeyPair.generate().public,
                            key_store=key_store)  # type: ignore[arg-type]
    with pytest.raises(error, match=message):
        N2NetPrivacy(provider=provider, address_book=InMemoryAddressBook([]),
                     data_dir=tmp_path, uploader=config)
    assert provider.active == 0
