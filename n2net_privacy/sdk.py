"""The facade an app developer meets first: one object, every promise wired up.

>>> sdk = N2NetPrivacy(                                    # doctest: +SKIP
...     provider=AndroidPermissionProvider(api_level=34),
...     address_book=JsonAddressBook("contacts.json"),
...     data_dir=app_data_dir,
...     uploader=UploaderConfig(api_url="https://api.n2net.com", app_key=key,
...                             server_key=server_key, key_store=keystore,
...                             events=UploaderEvents(on_status=show_status)),
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
and closes them in the right order. It reaches everything the parts can do:
:class:`UploaderConfig` carries the uploader's value objects (sending,
limits, callbacks, runtime), and ``on_storage_error`` hears of every state
file and the upload queue failing to save. If building a part fails, the
parts already built are closed before the error propagates.
"""

from __future__ import annotations

import contextlib
import dataclasses
import os
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import cast

from n2net_privacy._closing import ClosingContextManager
from n2net_privacy.checks import ensure_open, require_type
from n2net_privacy.contacts import AddressBookSource, ContactsGateway
from n2net_privacy.contacts.sources import ADDRESS_BOOK_HINT
from n2net_privacy.device import DeviceContext
from n2net_privacy.egress import Egress, Purpose
from n2net_privacy.errors import ConfigurationError, InvalidArgumentTypeError, StorageError
from n2net_privacy.gravatar import GravatarConfig, GravatarFetcher
from n2net_privacy.ohttp.client import ObliviousConfig
from n2net_privacy.permissions import JsonLearnedStatusStore, PermissionProvider, PermissionService
from n2net_privacy.permissions.status import PROVIDER_HINT
from n2net_privacy.runtime import Runtime
from n2net_privacy.settings import Settings
from n2net_privacy.uploader.recorder import (
    Endpoint,
    HasNumber,
    QueueLimits,
    RecordResult,
    Uploader,
    UploaderEvents,
)
from n2net_privacy.uploader.send.sender import SenderConfig
from n2net_privacy.uploader.store.at_rest import KeyStore
from n2net_privacy.uploader.wire.seal import ServerKey

__all__ = ["N2NetPrivacy", "UploaderConfig"]


@dataclass(frozen=True)
class UploaderConfig:
    """Where SMS/call metadata goes, how it is protected on the device, and who hears of it.

    ``server_key`` is one key or several (current first, then next). The
    value objects are the :class:`~n2net_privacy.uploader.recorder.Uploader`'s
    own, so the facade reaches every one of its settings; OHTTP is the
    facade's ``oblivious`` switch and the region its ``device``.
    """

    api_url: str
    app_key: str
    server_key: ServerKey | Sequence[ServerKey]
    key_store: KeyStore
    sending: SenderConfig = field(default_factory=SenderConfig)
    limits: QueueLimits = field(default_factory=QueueLimits)
    events: UploaderEvents = field(default_factory=UploaderEvents)
    runtime: Runtime | None = None

    def __post_init__(self) -> None:
        checked = Endpoint(self.api_url, self.app_key, self.server_key)  # the Uploader's checks
        object.__setattr__(self, "server_key", checked.server_keys)
        require_type("key_store", self.key_store, KeyStore,
                     hint="pass SimulatedAndroidKeystore() or SimulatedIOSKeychain()")
        for name, value, kind in (
            ("sending", self.sending, SenderConfig),
            ("limits", self.limits, QueueLimits),
            ("events", self.events, UploaderEvents),
        ):
            require_type(name, value, kind)
        if self.runtime is not None:
            require_type("runtime", self.runtime, Runtime)

    def endpoint(self, oblivious: ObliviousConfig | None = None) -> Endpoint:
        """The uploader's :class:`~n2net_privacy.uploader.recorder.Endpoint`."""
        return Endpoint(self.api_url, self.app_key, self.server_key, oblivious)

    def __repr__(self) -> str:  # the app key is a credential
        key_ids = [key.key_id for key in cast(tuple[ServerKey, ...], self.server_key)]
        return f"UploaderConfig(api_url={self.api_url!r}, key_ids={key_ids!r})"


class N2NetPrivacy(ClosingContextManager):
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
        on_storage_error: Callable[[StorageError], None] | None = None,
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
        if on_storage_error is not None and not callable(on_storage_error):
            raise InvalidArgumentTypeError(
                f"on_storage_error must be callable, not {type(on_storage_error).__name__}"
            )
        self._closed = False
        root = Path(data_dir)
        self.egress = egress if egress is not None else Egress()
        self.device = device if device is not None else DeviceContext()
        if uploader is not None:  # the URL too, before anything is opened
            self.egress.policy.check_url(Purpose.N2NET_API, uploader.api_url,
                                         name="uploader.api_url")
        with contextlib.ExitStack() as built:  # a part that fails closes those built before it
            self.permissions = PermissionService(
                provider, JsonLearnedStatusStore(root / "permissions.json"),
                on_storage_error=on_storage_error,
            )
            built.callback(self.permissions.close)
            self.contacts = ContactsGateway(address_book, self.permissions)
            built.callback(self.contacts.close)
            self.settings = Settings(root / "settings.json", on_storage_error=on_storage_error)
            self.avatars = GravatarFetcher(
                self.settings, self.egress, gravatar, oblivious=oblivious
            )
            built.callback(self.avatars.close)
            self.uploader: Uploader | None = None
            if uploader is not None:
                self.uploader = Uploader(
                    uploader.endpoint(oblivious),
                    root / "uploader",
                    key_store=uploader.key_store,
                    egress=self.egress,
                    region=self.device,
                    sending=uploader.sending,
                    limits=uploader.limits,
                    events=_with_storage_errors(uploader.events, on_storage_error),
                    runtime=uploader.runtime,
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


def _with_storage_errors(
    events: UploaderEvents, on_storage_error: Callable[[StorageError], None] | None
) -> UploaderEvents:
    """The uploader's callbacks; the facade's ``on_storage_error`` unless it has its own."""
    if events.on_storage_error is not None or on_storage_error is None:
        return events
    return dataclasses.replace(events, on_storage_error=on_storage_error)
