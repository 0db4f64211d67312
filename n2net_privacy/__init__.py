"""The privacy policy of N2Net Mobile as a Python SDK you can run, test and prove.

The policy ("Indirect End User Phone Contact Information") makes four promises;
each is a part of this SDK:

1. Contacts only with the system permission; a revoke never breaks the app
   (ContactsGateway, PermissionService, the Android and iOS providers).
2. A text or call sends only the E.164 number and its metadata, sealed
   (to_e164, Uploader, N2NetPrivacy.record_sms / record_call).
3. Gravatar only when the user enabled it in Settings; only a hash leaves
   (Settings, GravatarFetcher, gravatar_hash).
4. QA can prove that no PII leaves the device (Egress, and the tools in
   n2net_privacy.audit and n2net_privacy.testing).

This top level is the app API. Where to start, by audience:

- App developers: N2NetPrivacy (the facade), or its parts on their own;
  to_e164 / normalize for numbers. Mistakes raise N2NetPrivacyError subclasses
  (also TypeError or ValueError); denials and network trouble are values.
- Tests and demos: n2net_privacy.simulation, the simulated OS (ScriptedUser,
  Answer, SimulatedAndroidKeystore, SimulatedIOSKeychain).
- Backend developers: ServerKeyPair here; the wire format in
  n2net_privacy.uploader (EventBatch, WireEvent, IngestReply).
- QA: n2net_privacy.audit (EgressAuditor, report_for, PrivacyReport), the
  pytest plugin in n2net_privacy.testing, and the n2net-privacy command.

Every name in __all__ is loaded on first use, so ``import n2net_privacy``
stays cheap; ``dir(n2net_privacy)`` lists them, and
``help(n2net_privacy.N2NetPrivacy)`` documents one. The guides are in the
README and docs/ (facade, contacts, permissions, phone, gravatar, uploader,
wire format, egress, ohttp, scenarios).

>>> from n2net_privacy import to_e164
>>> to_e164("(215) 555-2671", region="US")
'+12155552671'
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from n2net_privacy._lazy import lazy_names, public_dir

if TYPE_CHECKING:
    from n2net_privacy._version import __version__
    from n2net_privacy.contacts import (
        AddressBookSnapshot,
        AddressBookSource,
        Contact,
        ContactField,
        ContactLookup,
        ContactPage,
        ContactPhone,
        ContactsDelta,
        ContactsGateway,
        ContactsListener,
        DroppedValue,
        InMemoryAddressBook,
        JsonAddressBook,
        LoadReport,
        VCardAddressBook,
    )
    from n2net_privacy.device import DeviceContext
    from n2net_privacy.egress import Egress, EgressPolicy, PinSet, Purpose
    from n2net_privacy.errors import (
        AddressBookError,
        ClosedError,
        ConfigurationError,
        EgressPolicyError,
        GravatarError,
        InvalidArgumentError,
        InvalidArgumentTypeError,
        InvalidTransitionError,
        InvalidUrlError,
        KeyConfigMismatchError,
        KeyStoreError,
        MissingUsageDescriptionError,
        N2NetPrivacyError,
        NetworkError,
        NetworkTimeout,
        ObliviousHttpError,
        PermissionModelError,
        PhoneNumberError,
        PinMismatchError,
        RelayTooLargeError,
        StorageError,
        UnknownPermissionError,
        UploaderError,
        WireFormatError,
    )
    from n2net_privacy.gravatar import (
        Avatar,
        AvatarResult,
        GravatarConfig,
        GravatarFetcher,
        HashAlgorithm,
        NoAvatar,
        NoAvatarReason,
        Rating,
        avatar_url,
        gravatar_hash,
    )
    from n2net_privacy.ohttp.client import ObliviousConfig
    from n2net_privacy.permissions import (
        AndroidPermissionProvider,
        IOSPermissionProvider,
        JsonLearnedStatusStore,
        LearnedStatusStore,
        MemoryLearnedStatusStore,
        Permission,
        PermissionChange,
        PermissionProvider,
        PermissionService,
        PermissionStatus,
        Platform,
    )
    from n2net_privacy.phone import (
        NormalizationResult,
        NumberType,
        PhoneNumberErrorReason,
        normalize,
        normalize_many,
        to_e164,
    )
    from n2net_privacy.sdk import N2NetPrivacy, UploaderConfig
    from n2net_privacy.settings import Settings, SettingsChange
    from n2net_privacy.uploader import (
        KeyStore,
        RecordOutcome,
        RecordResult,
        ServerKey,
        ServerKeyPair,
        Uploader,
    )

__all__ = [
    "AddressBookError",
    "AddressBookSnapshot",
    "AddressBookSource",
    "AndroidPermissionProvider",
    "Avatar",
    "AvatarResult",
    "ClosedError",
    "ConfigurationError",
    "Contact",
    "ContactField",
    "ContactLookup",
    "ContactPage",
    "ContactPhone",
    "ContactsDelta",
    "ContactsGateway",
    "ContactsListener",
    "DeviceContext",
    "DroppedValue",
    "Egress",
    "EgressPolicy",
    "EgressPolicyError",
    "GravatarConfig",
    "GravatarError",
    "GravatarFetcher",
    "HashAlgorithm",
    "IOSPermissionProvider",
    "InMemoryAddressBook",
    "InvalidArgumentError",
    "InvalidArgumentTypeError",
    "InvalidTransitionError",
    "InvalidUrlError",
    "JsonAddressBook",
    "JsonLearnedStatusStore",
    "KeyConfigMismatchError",
    "KeyStore",
    "KeyStoreError",
    "LearnedStatusStore",
    "LoadReport",
    "MemoryLearnedStatusStore",
    "MissingUsageDescriptionError",
    "N2NetPrivacy",
    "N2NetPrivacyError",
    "NetworkError",
    "NetworkTimeout",
    "NoAvatar",
    "NoAvatarReason",
    "NormalizationResult",
    "NumberType",
    "ObliviousConfig",
    "ObliviousHttpError",
    "Permission",
    "PermissionChange",
    "PermissionModelError",
    "PermissionProvider",
    "PermissionService",
    "PermissionStatus",
    "PhoneNumberError",
    "PhoneNumberErrorReason",
    "PinMismatchError",
    "PinSet",
    "Platform",
    "Purpose",
    "Rating",
    "RecordOutcome",
    "RecordResult",
    "RelayTooLargeError",
    "ServerKey",
    "ServerKeyPair",
    "Settings",
    "SettingsChange",
    "StorageError",
    "UnknownPermissionError",
    "Uploader",
    "UploaderConfig",
    "UploaderError",
    "VCardAddressBook",
    "WireFormatError",
    "__version__",
    "avatar_url",
    "gravatar_hash",
    "normalize",
    "normalize_many",
    "to_e164",
]

# Where each public name is defined, loaded on first use.
_FROM: dict[str, tuple[str, ...]] = {
    "n2net_privacy._version": ("__version__",),
    "n2net_privacy.contacts": (
        "AddressBookSnapshot", "AddressBookSource", "Contact", "ContactField", "ContactLookup",
        "ContactPage", "ContactPhone", "ContactsDelta", "ContactsGateway", "ContactsListener",
        "DroppedValue", "InMemoryAddressBook", "JsonAddressBook", "LoadReport", "VCardAddressBook",
    ),
    "n2net_privacy.device": ("DeviceContext",),
    "n2net_privacy.egress": ("Egress", "EgressPolicy", "PinSet", "Purpose"),
    "n2net_privacy.errors": (
        "AddressBookError", "ClosedError", "ConfigurationError", "EgressPolicyError",
        "GravatarError", "InvalidArgumentError", "InvalidArgumentTypeError",
        "InvalidTransitionError", "InvalidUrlError", "KeyConfigMismatchError", "KeyStoreError",
        "MissingUsageDescriptionError", "N2NetPrivacyError", "NetworkError", "NetworkTimeout",
        "ObliviousHttpError", "PermissionModelError", "PhoneNumberError", "PinMismatchError",
        "RelayTooLargeError", "StorageError", "UnknownPermissionError", "UploaderError",
        "WireFormatError",
    ),
    "n2net_privacy.gravatar": (
        "Avatar", "AvatarResult", "GravatarConfig", "GravatarFetcher", "HashAlgorithm", "NoAvatar",
        "NoAvatarReason", "Rating", "avatar_url", "gravatar_hash",
    ),
    "n2net_privacy.ohttp.client": ("ObliviousConfig",),
    "n2net_privacy.permissions": (
        "AndroidPermissionProvider", "IOSPermissionProvider", "JsonLearnedStatusStore",
        "LearnedStatusStore", "MemoryLearnedStatusStore", "Permission", "PermissionChange",
        "PermissionProvider", "PermissionService", "PermissionStatus", "Platform",
    ),
    "n2net_privacy.phone": (
        "NormalizationResult", "NumberType", "PhoneNumberErrorReason", "normalize",
        "normalize_many", "to_e164",
    ),
    "n2net_privacy.sdk": ("N2NetPrivacy", "UploaderConfig"),
    "n2net_privacy.settings": ("Settings", "SettingsChange"),
    "n2net_privacy.uploader": (
        "KeyStore", "RecordOutcome", "RecordResult", "ServerKey", "ServerKeyPair", "Uploader",
    ),
}

# Names that left the top level: they resolve, with a DeprecationWarning, for one release.
_MOVED: dict[str, tuple[str, ...]] = {
    "n2net_privacy.audit": (
        "AuditMode", "EgressAuditor", "Finding", "PrivacyReport", "Rule", "build_report",
        "report_for",
    ),
    "n2net_privacy.contacts": (
        "PermissionView", "contacts_from_records", "parse_json_address_book", "parse_vcard",
    ),
    "n2net_privacy.egress": ("AuditEntry", "AuditLog"),
    "n2net_privacy.errors": ("ManifestError", "ScenarioError", "UserScriptExhaustedError"),
    "n2net_privacy.simulation": (
        "Answer", "HoldOpen", "Prompt", "PromptAnswer", "ScriptedUser", "SelectContacts",
        "SimulatedAndroidKeystore", "SimulatedIOSKeychain",
    ),
    "n2net_privacy.uploader": ("EventBatch", "IngestReply", "WireEvent"),
}

__getattr__ = lazy_names(
    __name__,
    globals(),
    {name: module for module, names in _FROM.items() for name in names},
    moved={name: module for module, names in _MOVED.items() for name in names},
)[0]
__dir__ = public_dir(globals(), __all__)
