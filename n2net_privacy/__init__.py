"""The privacy policy of N2Net Mobile as a Python SDK you can run, test and prove.

The policy ("Indirect End User Phone Contact Information") makes four promises;
each is a part of this SDK:

1. Contacts only with the system permission; a revoke never breaks the app
   (ContactsGateway, PermissionService, the Android and iOS providers).
2. A text or call sends only the E.164 number and its metadata, sealed
   (to_e164, Uploader, N2NetPrivacy.record_sms / record_call).
3. Gravatar only when the user enabled it in Settings; only a hash leaves
   (Settings, GravatarFetcher, gravatar_hash).
4. QA can prove that no PII leaves the device (Egress, EgressAuditor,
   report_for, the pytest plugin in n2net_privacy.testing).

Where to start, by audience:

- App developers: N2NetPrivacy (the facade), or its parts on their own;
  to_e164 / normalize for numbers. Mistakes raise N2NetPrivacyError subclasses
  (also TypeError or ValueError); denials and network trouble are values.
- Backend developers: ServerKeyPair, EventBatch, WireEvent, IngestReply.
- QA: Egress, EgressPolicy, EgressAuditor, PrivacyReport, and the
  n2net-privacy command (demo, audit, audit-har, normalize, schema, keygen).

Every name in __all__ is importable from here and loaded on first use, so
``import n2net_privacy`` stays cheap; ``dir(n2net_privacy)`` lists them, and
``help(n2net_privacy.N2NetPrivacy)`` documents one. The guides are in the
README and docs/ (facade, contacts, permissions, phone, gravatar, uploader,
wire format, egress, ohttp, scenarios).

>>> from n2net_privacy import to_e164
>>> to_e164("(215) 555-2671", region="US")
'+12155552671'
"""

from __future__ import annotations

import importlib
import sys
from types import FrameType
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from n2net_privacy._version import (
        __version__,
    )
    from n2net_privacy.audit import (
        AuditMode,
        EgressAuditor,
        Finding,
        PrivacyReport,
        Rule,
        build_report,
        report_for,
    )
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
        PermissionView,
        VCardAddressBook,
        contacts_from_records,
        parse_json_address_book,
        parse_vcard,
    )
    from n2net_privacy.device import (
        DeviceContext,
    )
    from n2net_privacy.egress import (
        AuditEntry,
        AuditLog,
        Egress,
        EgressPolicy,
        PinSet,
        Purpose,
    )
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
        ManifestError,
        MissingUsageDescriptionError,
        N2NetPrivacyError,
        NetworkError,
        NetworkTimeout,
        ObliviousHttpError,
        PermissionModelError,
        PhoneNumberError,
        PinMismatchError,
        RelayTooLargeError,
        ScenarioError,
        StorageError,
        UnknownPermissionError,
        UploaderError,
        UserScriptExhaustedError,
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
    from n2net_privacy.ohttp.client import (
        ObliviousConfig,
    )
    from n2net_privacy.permissions import (
        AndroidPermissionProvider,
        Answer,
        HoldOpen,
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
        Prompt,
        PromptAnswer,
        ScriptedUser,
        SelectContacts,
    )
    from n2net_privacy.phone import (
        NormalizationResult,
        NumberType,
        PhoneNumberErrorReason,
        normalize,
        normalize_many,
        to_e164,
    )
    from n2net_privacy.sdk import (
        N2NetPrivacy,
        UploaderConfig,
    )
    from n2net_privacy.settings import (
        Settings,
        SettingsChange,
    )
    from n2net_privacy.uploader import (
        EventBatch,
        IngestReply,
        ServerKey,
        ServerKeyPair,
        WireEvent,
    )
    from n2net_privacy.uploader.recorder import (
        RecordOutcome,
        RecordResult,
        Uploader,
    )
    from n2net_privacy.uploader.store.at_rest import (
        KeyStore,
        SimulatedAndroidKeystore,
        SimulatedIOSKeychain,
    )

# Public name -> the module that defines it.
_EXPORTS: dict[str, str] = {
    "AddressBookError": "n2net_privacy.errors",
    "AddressBookSnapshot": "n2net_privacy.contacts",
    "AddressBookSource": "n2net_privacy.contacts",
    "AndroidPermissionProvider": "n2net_privacy.permissions",
    "Answer": "n2net_privacy.permissions",
    "AuditEntry": "n2net_privacy.egress",
    "AuditLog": "n2net_privacy.egress",
    "AuditMode": "n2net_privacy.audit",
    "Avatar": "n2net_privacy.gravatar",
    "AvatarResult": "n2net_privacy.gravatar",
    "ClosedError": "n2net_privacy.errors",
    "ConfigurationError": "n2net_privacy.errors",
    "Contact": "n2net_privacy.contacts",
    "ContactField": "n2net_privacy.contacts",
    "ContactLookup": "n2net_privacy.contacts",
    "ContactPage": "n2net_privacy.contacts",
    "ContactPhone": "n2net_privacy.contacts",
    "ContactsDelta": "n2net_privacy.contacts",
    "ContactsGateway": "n2net_privacy.contacts",
    "ContactsListener": "n2net_privacy.contacts",
    "DeviceContext": "n2net_privacy.device",
    "DroppedValue": "n2net_privacy.contacts",
    "Egress": "n2net_privacy.egress",
    "EgressAuditor": "n2net_privacy.audit",
    "EgressPolicy": "n2net_privacy.egress",
    "EgressPolicyError": "n2net_privacy.errors",
    "EventBatch": "n2net_privacy.uploader",
    "Finding": "n2net_privacy.audit",
    "GravatarConfig": "n2net_privacy.gravatar",
    "GravatarError": "n2net_privacy.errors",
    "GravatarFetcher": "n2net_privacy.gravatar",
    "HashAlgorithm": "n2net_privacy.gravatar",
    "HoldOpen": "n2net_privacy.permissions",
    "IOSPermissionProvider": "n2net_privacy.permissions",
    "InMemoryAddressBook": "n2net_privacy.contacts",
    "IngestReply": "n2net_privacy.uploader",
    "InvalidArgumentError": "n2net_privacy.errors",
    "InvalidArgumentTypeError": "n2net_privacy.errors",
    "InvalidTransitionError": "n2net_privacy.errors",
    "InvalidUrlError": "n2net_privacy.errors",
    "JsonAddressBook": "n2net_privacy.contacts",
    "JsonLearnedStatusStore": "n2net_privacy.permissions",
    "KeyConfigMismatchError": "n2net_privacy.errors",
    "KeyStore": "n2net_privacy.uploader.store.at_rest",
    "KeyStoreError": "n2net_privacy.errors",
    "LearnedStatusStore": "n2net_privacy.permissions",
    "LoadReport": "n2net_privacy.contacts",
    "MemoryLearnedStatusStore": "n2net_privacy.permissions",
    "MissingUsageDescriptionError": "n2net_privacy.errors",
    "N2NetPrivacy": "n2net_privacy.sdk",
    "N2NetPrivacyError": "n2net_privacy.errors",
    "NetworkError": "n2net_privacy.errors",
    "NetworkTimeout": "n2net_privacy.errors",
    "NoAvatar": "n2net_privacy.gravatar",
    "NoAvatarReason": "n2net_privacy.gravatar",
    "NormalizationResult": "n2net_privacy.phone",
    "NumberType": "n2net_privacy.phone",
    "ObliviousConfig": "n2net_privacy.ohttp.client",
    "ObliviousHttpError": "n2net_privacy.errors",
    "Permission": "n2net_privacy.permissions",
    "PermissionChange": "n2net_privacy.permissions",
    "PermissionModelError": "n2net_privacy.errors",
    "PermissionProvider": "n2net_privacy.permissions",
    "PermissionService": "n2net_privacy.permissions",
    "PermissionStatus": "n2net_privacy.permissions",
    "PermissionView": "n2net_privacy.contacts",
    "ManifestError": "n2net_privacy.errors",
    "PhoneNumberError": "n2net_privacy.errors",
    "PhoneNumberErrorReason": "n2net_privacy.phone",
    "PinMismatchError": "n2net_privacy.errors",
    "PinSet": "n2net_privacy.egress",
    "Platform": "n2net_privacy.permissions",
    "PrivacyReport": "n2net_privacy.audit",
    "Prompt": "n2net_privacy.permissions",
    "PromptAnswer": "n2net_privacy.permissions",
    "Purpose": "n2net_privacy.egress",
    "Rating": "n2net_privacy.gravatar",
    "RecordOutcome": "n2net_privacy.uploader.recorder",
    "RecordResult": "n2net_privacy.uploader.recorder",
    "RelayTooLargeError": "n2net_privacy.errors",
    "Rule": "n2net_privacy.audit",
    "ScenarioError": "n2net_privacy.errors",
    "StorageError": "n2net_privacy.errors",
    "ScriptedUser": "n2net_privacy.permissions",
    "SelectContacts": "n2net_privacy.permissions",
    "ServerKey": "n2net_privacy.uploader",
    "ServerKeyPair": "n2net_privacy.uploader",
    "Settings": "n2net_privacy.settings",
    "SettingsChange": "n2net_privacy.settings",
    "SimulatedAndroidKeystore": "n2net_privacy.uploader.store.at_rest",
    "SimulatedIOSKeychain": "n2net_privacy.uploader.store.at_rest",
    "UnknownPermissionError": "n2net_privacy.errors",
    "Uploader": "n2net_privacy.uploader.recorder",
    "UploaderConfig": "n2net_privacy.sdk",
    "UploaderError": "n2net_privacy.errors",
    "UserScriptExhaustedError": "n2net_privacy.errors",
    "VCardAddressBook": "n2net_privacy.contacts",
    "WireEvent": "n2net_privacy.uploader",
    "WireFormatError": "n2net_privacy.errors",
    "__version__": "n2net_privacy._version",
    "avatar_url": "n2net_privacy.gravatar",
    "build_report": "n2net_privacy.audit",
    "contacts_from_records": "n2net_privacy.contacts",
    "gravatar_hash": "n2net_privacy.gravatar",
    "normalize": "n2net_privacy.phone",
    "normalize_many": "n2net_privacy.phone",
    "parse_json_address_book": "n2net_privacy.contacts",
    "parse_vcard": "n2net_privacy.contacts",
    "report_for": "n2net_privacy.audit",
    "to_e164": "n2net_privacy.phone",
}

__all__ = [
    "AddressBookError",
    "AddressBookSnapshot",
    "AddressBookSource",
    "AndroidPermissionProvider",
    "Answer",
    "AuditEntry",
    "AuditLog",
    "AuditMode",
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
    "EgressAuditor",
    "EgressPolicy",
    "EgressPolicyError",
    "EventBatch",
    "Finding",
    "GravatarConfig",
    "GravatarError",
    "GravatarFetcher",
    "HashAlgorithm",
    "HoldOpen",
    "IOSPermissionProvider",
    "InMemoryAddressBook",
    "IngestReply",
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
    "ManifestError",
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
    "PermissionView",
    "PhoneNumberError",
    "PhoneNumberErrorReason",
    "PinMismatchError",
    "PinSet",
    "Platform",
    "PrivacyReport",
    "Prompt",
    "PromptAnswer",
    "Purpose",
    "Rating",
    "RecordOutcome",
    "RecordResult",
    "RelayTooLargeError",
    "Rule",
    "ScenarioError",
    "ScriptedUser",
    "SelectContacts",
    "ServerKey",
    "ServerKeyPair",
    "Settings",
    "SettingsChange",
    "SimulatedAndroidKeystore",
    "SimulatedIOSKeychain",
    "StorageError",
    "UnknownPermissionError",
    "Uploader",
    "UploaderConfig",
    "UploaderError",
    "UserScriptExhaustedError",
    "VCardAddressBook",
    "WireEvent",
    "WireFormatError",
    "__version__",
    "avatar_url",
    "build_report",
    "contacts_from_records",
    "gravatar_hash",
    "normalize",
    "normalize_many",
    "parse_json_address_book",
    "parse_vcard",
    "report_for",
    "to_e164",
]


def __getattr__(name: str) -> Any:
    # Resolved on every access and never copied into this module's globals, so
    # help(n2net_privacy) stays a page: pydoc documents the classes it finds in
    # dir(), and every pydantic model would add a screenful of inherited API.
    module = _EXPORTS.get(name)
    if module is None:
        raise AttributeError(f"module 'n2net_privacy' has no attribute {name!r}")
    return getattr(importlib.import_module(module), name)


def __dir__() -> list[str]:
    """The public names, which tab completion offers, and the module's dunders."""
    own = {name for name in globals() if name.startswith("__") and name.endswith("__")}
    if _asked_by_pydoc():
        # pydoc documents every class dir() lists: the full API of every public
        # class is a book (13,000 lines), not the page help(n2net_privacy) should
        # be. It gets the overview above; help(n2net_privacy.<Name>) does one name.
        return sorted(set(globals()) - own)
    return sorted(own.union(__all__))


def _asked_by_pydoc() -> bool:
    frame: FrameType | None = sys._getframe(1)
    # dir() -> inspect.getmembers -> pydoc.docmodule: a few frames at most.
    for _ in range(6):
        if frame is None:
            return False
        if frame.f_globals.get("__name__") == "pydoc":
            return True
        frame = frame.f_back
    return False
