"""The facade wires every part over one egress and one data directory."""

from __future__ import annotations

import datetime as dt
import sqlite3
import threading
from collections.abc import Callable
from pathlib import Path

import pytest

from n2net_privacy import ohttp
from n2net_privacy.contacts import Contact, InMemoryAddressBook
from n2net_privacy.device import DeviceContext
from n2net_privacy.egress import Egress, EgressPolicy, PinSet, Purpose
from n2net_privacy.errors import ConfigurationError, InvalidUrlError, KeyStoreError, StorageError
from n2net_privacy.gravatar import NoAvatar, NoAvatarReason
from n2net_privacy.ohttp.client import ObliviousConfig
from n2net_privacy.permissions import AndroidPermissionProvider, PermissionChange, PermissionStatus
from n2net_privacy.runtime import Runtime
from n2net_privacy.sdk import N2NetPrivacy, UploaderConfig
from n2net_privacy.settings import Settings
from n2net_privacy.simulation import Answer, ScriptedUser, SimulatedAndroidKeystore
from n2net_privacy.testing.audited import AuditedEgress
from n2net_privacy.testing.servers.ingest import IngestServer
from n2net_privacy.uploader import (
    QueueLimits,
    SenderConfig,
    SendState,
    SendStatus,
    ServerKeyPair,
    UploaderEvents,
)
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


def test_a_failed_uploader_closes_the_parts_built_before_it(tmp_path: Path) -> None:
    # Gravatar is on from a previous run, and OHTTP is on: the fetcher starts its
    # key thread at once. The uploader then fails (its key store is locked); the
    # permission service, the gateway and the fetcher must all be closed, the
    # key thread included, or the app is left with a thread polling a relay.
    settings = Settings(tmp_path / "settings.json")
    settings.gravatar_enabled = True
    configs = [ohttp.KeyConfig(key_id, ohttp.KEM_X25519_HKDF_SHA256, bytes([key_id]) * 32)
               for key_id in (1, 2)]
    oblivious = ObliviousConfig(
        relay_url="http://127.0.0.1:9/relay",  # port 9: nothing listens
        key_config_url="http://127.0.0.1:9/ohttp-keys",
        key_pins=PinSet({ohttp.key_config_pin(c) for c in configs}, expires=dt.date(2099, 1, 1)),
        key_refresh_jitter_s=0.0,
    )
    egress = Egress(EgressPolicy({
        Purpose.N2NET_API: frozenset({"api.n2net.com"}),
        Purpose.GRAVATAR: frozenset({"gravatar.com"}),
        Purpose.OHTTP_RELAY: frozenset({"127.0.0.1"}),
    }, test_mode=True))
    provider = _CountingProvider()
    config = UploaderConfig(api_url="https://api.n2net.com", app_key="k",
                            server_key=ServerKeyPair.generate().public,
                            key_store=_BrokenKeyStore())
    before = set(threading.enumerate())
    with pytest.raises(KeyStoreError, match="locked"):
        N2NetPrivacy(provider=provider, address_book=InMemoryAddressBook([]), data_dir=tmp_path,
                     egress=egress, uploader=config, oblivious=oblivious)
    started = [thread for thread in threading.enumerate() if thread not in before]
    assert [thread.name for thread in started] in ([], ["n2net-ohttp-keys"])
    for thread in started:
        thread.join(timeout=30)  # closed: it leaves at once; not closed: it never does
    assert [thread.name for thread in started if thread.is_alive()] == []
    assert provider.active == 0  # the permission service and the gateway let go of it
    assert list((tmp_path / "uploader").glob("*.sqlite3")) == []  # no queue was left open


def test_the_facade_reaches_every_uploader_setting(tmp_path: Path) -> None:
    # The value objects given to UploaderConfig reach the Uploader unchanged,
    # and the facade's on_storage_error reaches the queue.
    statuses: list[SendStatus] = []
    storage_errors: list[StorageError] = []
    config = UploaderConfig(
        api_url="http://127.0.0.1:9", app_key="k",
        server_key=[ServerKeyPair.generate(key_id="k1").public,
                    ServerKeyPair.generate(key_id="k2").public],
        key_store=SimulatedAndroidKeystore(),
        sending=SenderConfig(linger_s=0.0, request_timeout_s=1.0),
        limits=QueueLimits(max_events=2),
        events=UploaderEvents(on_status=statuses.append),
        runtime=Runtime(clock=lambda: dt.datetime(2026, 1, 1, tzinfo=dt.UTC)),
    )
    assert "k1" in repr(config) and "'k'" not in repr(config)  # the app key is a credential
    loopback = Egress(EgressPolicy({Purpose.N2NET_API: frozenset({"127.0.0.1"})},
                                   test_mode=True))
    with N2NetPrivacy(provider=AndroidPermissionProvider(api_level=34),
                      address_book=InMemoryAddressBook([]), data_dir=tmp_path, egress=loopback,
                      uploader=config, on_storage_error=storage_errors.append) as sdk:
        uploader = sdk.uploader
        assert uploader is not None
        for _ in range(3):
            assert sdk.record_sms("+12015550123").queued
        assert uploader.pending().events == 2  # QueueLimits(max_events=2) reached it
        assert [key.key_id for key in uploader.sender.keys.keys] == ["k1", "k2"]
        assert uploader.sender.config.request_timeout_s == 1.0
        uploader.sender.step()  # port 9 refuses: the status reaches the app
        assert statuses and statuses[0].state is SendState.RETRYING
        uploader._queue.report_storage_error("testing", sqlite3.OperationalError("disk full"))
    assert [error.path for error in storage_errors] == [
        str(tmp_path / "uploader" / "n2net-uploader.sqlite3")
    ]
