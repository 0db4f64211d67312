"""The facade an app developer meets first: one object, every promise wired up.

>>> sdk = N2NetPrivacy(                                    # doctest: +SKIP
...     provider=AndroidPermissionProvider(api_level=34),
...     address_book=JsonAddressBook("contacts.json"),
...     data_dir=app_data_dir,
...     uploader=UploaderConfig(api_url="https://api.n2net.com", app_key=key,
...                             server_key=server_key, key_store=keystore),
...     device=DeviceContext(sim_region="US"),
... )
>>> sdk.permissions.request("contacts")                   # doctest: +SKIP
>>> sdk.contacts.list_contacts(limit=50)                  # doctest: +SKIP
>>> sdk.record_call(contact.phones[0], duration_s=93)     # doctest: +SKIP

``oblivious=ObliviousConfig(...)`` is the one switch for Oblivious HTTP:
every upload and every avatar lookup then goes through the relay, and
neither the ingest nor Gravatar (nor the gateway) sees the device's address
(see docs/ohttp.md).

Each part stays usable on its own (``sdk.permissions``, ``sdk.contacts``,
``sdk.settings``, ``sdk.avatars``, ``sdk.uploader``); the facade only builds
them over one :class:`~n2net_privacy.egress.Egress` and one data directory,
and closes them in the right order.
"""

from __future__ import annotations

import contextlib
import os
from dataclasses import dataclass
from pathlib import Path
from types import TracebackType
from typing import Self

from n2net_privacy.checks import ensure_open, require_type
from n2net_privacy.contacts import AddressBookSource, ContactsGateway
from n2net_privacy.contacts.sources import ADDRESS_BOOK_HINT
from n2net_privacy.device import DeviceContext
from n2net_privacy.egress import Egress, Purpose
from n2net_privacy.errors import ConfigurationError
from n2net_privacy.gravatar import GravatarConfig, GravatarFetcher
from n2net_privacy.ohttp.client import ObliviousConfig
from n2net_privacy.permissions import JsonLearnedStatusStore, PermissionProvider, PermissionService
from n2net_privacy.permissions.status import PROVIDER_HINT
from n2net_privacy.settings import Settings
from n2net_privacy.uploader import ServerKey, ServerKeyPair
from n2net_privacy.uploader.recorder import HasNumber, RecordResult, Uploader
from n2net_privacy.uploader.store.at_rest import KeyStore
from n2net_privacy.uploader.wire.seal import server_keys

__all__ = ["N2NetPrivacy", "UploaderConfig"]


@dataclass(frozen=True)
class UploaderConfig:
    """Where SMS/call metadata goes, and how it is protected on the device."""

    api_url: str
    app_key: str
    server_key: ServerKey
    key_store: KeyStore

    def __post_init__(self) -> None:
        require_type("api_url", self.api_url, str, hint="such as 'https://api.n2net.com'")
        require_type("app_key", self.app_key, str)
        if isinstance(self.server_key, ServerKeyPair):
            server_keys(self.server_key)  # raises, with the hint to pass .public
        require_type("server_key", self.server_key, ServerKey)
        require_type("key_store", self.key_store, KeyStore,
                     hint="pass SimulatedAndroidKeystore() or SimulatedIOSKeychain()")

    def __repr__(self) -> str:  # the app key is a credential
        return f"UploaderConfig(api_url={self.api_url!r}, key_id={self.server_key.key_id!r})"


class N2NetPrivacy:
    """Permission-gated contacts, consent-gated avatars and sealed minimal uploads."""

    def __init__(
        self,
        *,
        provider: PermissionProvider,
        address_book: AddressBookSource,
        data_dir: str | os.PathLike[str],
        egress: Egress | None = None,
        device: DeviceContext | None = None,
        gravatar: GravatarConfig | None = None,
        uploader: UploaderConfig | None = None,
        oblivious: ObliviousConfig | None = None,
    ) -> None:
        # Every argument is checked before anything subscribes, opens or starts.
        require_type("provider", provider, PermissionProvider, hint=PROVIDER_HINT)
        require_type("address_book", address_book, AddressBookSource, hint=ADDRESS_BOOK_HINT)
        require_type("data_dir", data_dir, (str, os.PathLike))
        for name, value, kind in (
            ("egress", egress, Egress),
            ("device", device, DeviceContext),
            ("gravatar", gravatar, GravatarConfig),
            ("uploader", uploader, UploaderConfig),
        ):
            if value is not None:
                require_type(name, value, kind)
        self._closed = False
        root = Path(data_dir)
        self.egress = egress if egress is not None else Egress()
        self.device = device if device is not None else DeviceContext()
        if uploader is not None:  # the URL too, before anything is opened
            self.egress.policy.check_url(Purpose.N2NET_API, uploader.api_url,
                                         name="uploader.api_url")
        with contextlib.ExitStack() as built:  # a part that fails closes those built before it
            self.permissions = PermissionService(
                provider, JsonLearnedStatusStore(root / "permissions.json")
            )
            built.callback(self.permissions.close)
            self.contacts = ContactsGateway(address_book, self.permissions)
            built.callback(self.contacts.close)
            self.settings = Settings(root / "settings.json")
            self.avatars = GravatarFetcher(
                self.settings, self.egress, gravatar, oblivious=oblivious
            )
            built.callback(self.avatars.close)
            self.uploader: Uploader | None = None
            if uploader is not None:
                self.uploader = Uploader(
                    uploader.api_url,
                    uploader.app_key,
                    uploader.server_key,
                    root / "uploader",
                    key_store=uploader.key_store,
                    egress=self.egress,
                    region=self.device,
                    oblivious=oblivious,
                )
            built.pop_all()  # everything was built: close() owns them now

    def _uploader(self) -> Uploader:
        ensure_open(self._closed, "N2NetPrivacy")
        if self.uploader is None:
            raise ConfigurationError("no uploader configured: pass uploader=UploaderConfig(...)")
        return self.uploader

    def record_sms(self, to: str | HasNumber) -> RecordResult:
        """Queue an SMS event (number and time only). Never raises for network trouble."""
        return self._uploader().record_sms(to)

    def record_call(self, to: str | HasNumber, duration_s: int) -> RecordResult:
        """Queue a call event (number, time, duration). Never raises for network trouble."""
        return self._uploader().record_call(to, duration_s)

    def close(self, timeout: float = 5.0) -> None:
        """Flush what can be flushed within ``timeout``, then let go of everything.

        Idempotent. Afterwards ``record_*`` and every part (``sdk.contacts``,
        ``sdk.permissions``, ``sdk.avatars``, ``sdk.uploader``) raise
        :class:`ClosedError`.
        """
        if self._closed:
            return
        self._closed = True
        if self.uploader is not None:
            self.uploader.close(timeout)
        self.avatars.close()
        self.contacts.close()
        self.permissions.close()

    def __enter__(self) -> Self:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()
