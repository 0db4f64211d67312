"""The iOS privacy manifest, ``PrivacyInfo.xcprivacy``, built from the SDK's data flows.

Every value comes from Apple's documented lists below (each with its
source); docs/privacy-labels.md justifies each choice. Pure: the plist is
built in memory with :mod:`plistlib`.

>>> from n2net_privacy.manifest import ManifestConfig, ios_manifest
>>> [e["NSPrivacyCollectedDataType"] for e in
...  ios_manifest(ManifestConfig(gravatar=False))["NSPrivacyCollectedDataTypes"]]
['NSPrivacyCollectedDataTypePhoneNumber', 'NSPrivacyCollectedDataTypeContacts']
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from n2net_privacy.manifest.flows import FlowName, ManifestConfig, data_flows

__all__ = [
    "APPLE_ACCESSED_API_REASONS",
    "APPLE_DATA_TYPES",
    "APPLE_PURPOSES",
    "APPLE_SOURCES",
    "FLOW_DATA_TYPES",
    "ios_manifest",
    "ios_plist",
]

APPLE_SOURCES = {
    "data_types": "https://developer.apple.com/documentation/bundleresources/"
    "describing-data-use-in-privacy-manifests",
    "technote": "https://developer.apple.com/documentation/technotes/"
    "tn3184-adding-data-collection-details-to-your-privacy-manifest",
    "required_reason_api": "https://developer.apple.com/documentation/bundleresources/"
    "describing-use-of-required-reason-api",
    "app_privacy_details": "https://developer.apple.com/app-store/app-privacy-details/",
}

_T = "NSPrivacyCollectedDataType"
APPLE_DATA_TYPES = frozenset(f"{_T}{name}" for name in (
    "Name", "EmailAddress", "PhoneNumber", "PhysicalAddress", "OtherUserContactInfo",
    "Health", "Fitness", "PaymentInfo", "CreditInfo", "OtherFinancialInfo",
    "PreciseLocation", "CoarseLocation", "SensitiveInfo", "Contacts",
    "EmailsOrTextMessages", "PhotosorVideos", "AudioData", "GameplayContent",
    "CustomerSupport", "OtherUserContent", "BrowsingHistory", "SearchHistory",
    "UserID", "DeviceID", "PurchaseHistory", "ProductInteraction", "AdvertisingData",
    "OtherUsageData", "CrashData", "PerformanceData", "OtherDiagnosticData",
    "EnvironmentScanning", "Hands", "Head", "OtherDataTypes",
))
"""Every ``NSPrivacyCollectedDataType`` value Apple documents (``APPLE_SOURCES``)."""

_P = "NSPrivacyCollectedDataTypePurpose"
APPLE_PURPOSES = frozenset(f"{_P}{name}" for name in (
    "ThirdPartyAdvertising", "DeveloperAdvertising", "Analytics",
    "ProductPersonalization", "AppFunctionality", "Other",
))
"""Every value of ``NSPrivacyCollectedDataTypePurposes`` Apple documents."""

APPLE_ACCESSED_API_REASONS: Mapping[str, frozenset[str]] = {
    "NSPrivacyAccessedAPICategoryFileTimestamp": frozenset({"DDA9.1", "C617.1", "3B52.1",
                                                            "0A2A.1"}),
    "NSPrivacyAccessedAPICategorySystemBootTime": frozenset({"35F9.1", "8FFB.1", "3D61.1"}),
    "NSPrivacyAccessedAPICategoryDiskSpace": frozenset({"85F4.1", "E174.1", "7D9E.1", "B728.1"}),
    "NSPrivacyAccessedAPICategoryActiveKeyboards": frozenset({"3EC4.1", "54BD.1"}),
    "NSPrivacyAccessedAPICategoryUserDefaults": frozenset({"CA92.1", "1C8F.1", "C56D.1",
                                                           "AC6B.1"}),
}
"""Each required-reason API category and its approved reasons (``required_reason_api``)."""

FLOW_DATA_TYPES: Mapping[FlowName, tuple[str, ...]] = {
    # The value on the wire (a number; an email hash: Apple counts hashed data as
    # the data), then where it came from (the user's address book).
    FlowName.EVENTS: (f"{_T}PhoneNumber", f"{_T}Contacts"),
    FlowName.GRAVATAR: (f"{_T}EmailAddress", f"{_T}Contacts"),
}
_FLOW_PURPOSES: Mapping[FlowName, tuple[str, ...]] = {
    # Stored "so as to be compliant with all applicable state and federal laws":
    # legal record-keeping is none of Apple's named purposes, hence Other.
    FlowName.EVENTS: (f"{_P}AppFunctionality", f"{_P}Other"),
    FlowName.GRAVATAR: (f"{_P}AppFunctionality",),
}
# What the SDK's code touches on Apple platforms (see docs/privacy-labels.md):
# CPython's time.monotonic() is mach_absolute_time() there (back-off, batching
# linger, key-config TTL; nothing derived leaves the device), and mkdir(exist_ok)
# stats the SDK's own folders in the app container.
_ACCESSED_APIS = (
    ("NSPrivacyAccessedAPICategorySystemBootTime", ("35F9.1",)),
    ("NSPrivacyAccessedAPICategoryFileTimestamp", ("C617.1",)),
)


def ios_manifest(config: ManifestConfig) -> dict[str, Any]:
    """The privacy manifest of ``config`` as the dictionary :func:`ios_plist` writes."""
    entries: dict[str, dict[str, Any]] = {}
    for flow in data_flows(config):
        for data_type in FLOW_DATA_TYPES[flow.name]:
            entry = entries.setdefault(data_type, {
                "NSPrivacyCollectedDataType": data_type,
                "NSPrivacyCollectedDataTypeLinked": False,
                "NSPrivacyCollectedDataTypeTracking": False,
                "NSPrivacyCollectedDataTypePurposes": [],
            })
            entry["NSPrivacyCollectedDataTypeLinked"] |= flow.linked
            purposes = entry["NSPrivacyCollectedDataTypePurposes"]
            purposes.extend(p for p in _FLOW_PURPOSES[flow.name] if p not in purposes)
    return {
        "NSPrivacyTracking": False,
        "NSPrivacyTrackingDomains": [],
        "NSPrivacyCollectedDataTypes": list(entries.values()),
        "NSPrivacyAccessedAPITypes": [
            {"NSPrivacyAccessedAPIType": category, "NSPrivacyAccessedAPITypeReasons": list(why)}
            for category, why in _ACCESSED_APIS
        ],
    }


def ios_plist(config: ManifestConfig) -> bytes:
    """``PrivacyInfo.xcprivacy`` for ``config``: an XML property list, keys in Apple's order."""
    import plistlib  # and its XML parser, only when a manifest is written

    return plistlib.dumps(ios_manifest(config), fmt=plistlib.FMT_XML, sort_keys=False)
