"""The privacy labels: only documented values, one per configuration, and readable back."""

from __future__ import annotations

import itertools
import json
import plistlib
import subprocess
import sys
from pathlib import Path

import jsonschema
import pytest

from n2net_privacy.errors import ManifestError
from n2net_privacy.manifest import (
    APPLE_ACCESSED_API_REASONS,
    APPLE_DATA_TYPES,
    APPLE_PURPOSES,
    PLAY_DATA_TYPES,
    PLAY_PURPOSES,
    POLICY_SENTENCES,
    FlowName,
    ManifestConfig,
    data_flows,
    data_safety,
    data_safety_json,
    data_safety_json_schema,
    ios_manifest,
    ios_plist,
    parse_manifest,
    privacy_table_markdown,
)

ROOT = Path(__file__).parents[1]
POLICY = Path("/work/shared/POLICY.txt")
CONFIGS = [ManifestConfig(*flags) for flags in itertools.product((True, False), repeat=3)]

# The allowed values, copied by hand from the stores' documentation: a value
# the generator emits must be in here, so a typo or an invented value fails.
APPLE_DOCS = "https://developer.apple.com/documentation/bundleresources/"
ALLOWED = {
    "NSPrivacyCollectedDataType": (
        APPLE_DOCS + "describing-data-use-in-privacy-manifests",
        {"NSPrivacyCollectedDataType" + n for n in [
            "Name", "EmailAddress", "PhoneNumber", "PhysicalAddress", "OtherUserContactInfo",
            "Health", "Fitness", "PaymentInfo", "CreditInfo", "OtherFinancialInfo",
            "PreciseLocation", "CoarseLocation", "SensitiveInfo", "Contacts",
            "EmailsOrTextMessages", "PhotosorVideos", "AudioData", "GameplayContent",
            "CustomerSupport", "OtherUserContent", "BrowsingHistory", "SearchHistory",
            "UserID", "DeviceID", "PurchaseHistory", "ProductInteraction", "AdvertisingData",
            "OtherUsageData", "CrashData", "PerformanceData", "OtherDiagnosticData",
            "EnvironmentScanning", "Hands", "Head", "OtherDataTypes",
        ]},
    ),
    "NSPrivacyCollectedDataTypePurposes": (
        APPLE_DOCS + "describing-data-use-in-privacy-manifests",
        {"NSPrivacyCollectedDataTypePurpose" + n for n in [
            "ThirdPartyAdvertising", "DeveloperAdvertising", "Analytics",
            "ProductPersonalization", "AppFunctionality", "Other",
        ]},
    ),
    "NSPrivacyAccessedAPITypeReasons": (
        APPLE_DOCS + "describing-use-of-required-reason-api",
        {
            "NSPrivacyAccessedAPICategoryFileTimestamp": {"DDA9.1", "C617.1", "3B52.1", "0A2A.1"},
            "NSPrivacyAccessedAPICategorySystemBootTime": {"35F9.1", "8FFB.1", "3D61.1"},
            "NSPrivacyAccessedAPICategoryDiskSpace": {"85F4.1", "E174.1", "7D9E.1", "B728.1"},
            "NSPrivacyAccessedAPICategoryActiveKeyboards": {"3EC4.1", "54BD.1"},
            "NSPrivacyAccessedAPICategoryUserDefaults": {"CA92.1", "1C8F.1", "C56D.1", "AC6B.1"},
        },
    ),
    "play_data_types": (
        "https://support.google.com/googleplay/android-developer/answer/10787469",
        {"Location": {"Approximate location", "Precise location"},
         "Personal info": {"Name", "Email address", "User IDs", "Address", "Phone number",
                           "Race and ethnicity", "Political or religious beliefs",
                           "Sexual orientation", "Other info"},
         "Financial info": {"User payment info", "Purchase history", "Credit score",
                            "Other financial info"},
         "Health and fitness": {"Health info", "Fitness info"},
         "Messages": {"Emails", "SMS or MMS", "Other in-app messages"},
         "Photos and videos": {"Photos", "Videos"},
         "Audio files": {"Voice or sound recordings", "Music files", "Other audio files"},
         "Files and docs": {"Files and docs"},
         "Calendar": {"Calendar events"},
         "Contacts": {"Contacts"},
         "App activity": {"App interactions", "In-app search history", "Installed apps",
                          "Other user-generated content", "Other actions"},
         "Web browsing": {"Web browsing history"},
         "App info and performance": {"Crash logs", "Diagnostics",
                                      "Other app performance data"},
         "Device or other IDs": {"Device or other IDs"}},
    ),
    "play_purposes": (
        "https://support.google.com/googleplay/android-developer/answer/10787469",
        {"App functionality", "Analytics", "Developer communications",
         "Advertising or marketing", "Fraud prevention, security, and compliance",
         "Personalization", "Account management"},
    ),
}


def test_the_modules_value_sets_are_the_documented_ones() -> None:
    assert ALLOWED["NSPrivacyCollectedDataType"][1] == APPLE_DATA_TYPES
    assert ALLOWED["NSPrivacyCollectedDataTypePurposes"][1] == APPLE_PURPOSES
    assert ALLOWED["NSPrivacyAccessedAPITypeReasons"][1] == APPLE_ACCESSED_API_REASONS
    assert ALLOWED["play_data_types"][1] == {k: set(v) for k, v in PLAY_DATA_TYPES.items()}
    assert ALLOWED["play_purposes"][1] == set(PLAY_PURPOSES)
    assert all(url.startswith("https://") for url, _ in ALLOWED.values())


@pytest.mark.parametrize("config", CONFIGS, ids=repr)
def test_ios_manifest_is_a_plist_of_documented_values(config: ManifestConfig) -> None:
    document = plistlib.loads(ios_plist(config))
    assert document == ios_manifest(config)
    assert document["NSPrivacyTracking"] is False
    assert document["NSPrivacyTrackingDomains"] == []
    types = [e["NSPrivacyCollectedDataType"] for e in document["NSPrivacyCollectedDataTypes"]]
    assert set(types) <= ALLOWED["NSPrivacyCollectedDataType"][1]
    assert len(types) == len(set(types))
    for entry in document["NSPrivacyCollectedDataTypes"]:
        assert set(entry) == {"NSPrivacyCollectedDataType", "NSPrivacyCollectedDataTypeLinked",
                              "NSPrivacyCollectedDataTypeTracking",
                              "NSPrivacyCollectedDataTypePurposes"}
        assert entry["NSPrivacyCollectedDataTypeTracking"] is False
        assert entry["NSPrivacyCollectedDataTypePurposes"]
        assert set(entry["NSPrivacyCollectedDataTypePurposes"]) <= APPLE_PURPOSES
    reasons = ALLOWED["NSPrivacyAccessedAPITypeReasons"][1]
    for api in document["NSPrivacyAccessedAPITypes"]:
        category = api["NSPrivacyAccessedAPIType"]
        assert set(api["NSPrivacyAccessedAPITypeReasons"]) <= reasons[category]


@pytest.mark.parametrize("config", CONFIGS, ids=repr)
def test_android_answers_validate_against_the_shipped_schema(config: ManifestConfig) -> None:
    schema = json.loads((ROOT / "docs" / "data-safety.schema.json").read_text())
    jsonschema.Draft202012Validator.check_schema(schema)
    document = json.loads(data_safety_json(config))
    jsonschema.validate(document, schema)
    for entry in document["data_types"]:
        assert entry["type"] in ALLOWED["play_data_types"][1][entry["category"]]
        assert set(entry["purposes"]) <= ALLOWED["play_purposes"][1]


def test_the_shipped_schema_is_the_generated_one() -> None:
    shipped = json.loads((ROOT / "docs" / "data-safety.schema.json").read_text())
    assert shipped == data_safety_json_schema(), (
        "docs/data-safety.schema.json is stale: regenerate it from data_safety_json_schema()"
    )


def test_the_schema_refuses_a_type_from_another_category() -> None:
    document = data_safety(ManifestConfig())
    document["data_types"][0]["type"] = "Phone number"
    with pytest.raises(jsonschema.ValidationError):
        jsonschema.validate(document, data_safety_json_schema())


def _ios_types(config: ManifestConfig) -> dict[str, bool]:
    return {e["NSPrivacyCollectedDataType"].removeprefix("NSPrivacyCollectedDataType"):
            e["NSPrivacyCollectedDataTypeLinked"]
            for e in ios_manifest(config)["NSPrivacyCollectedDataTypes"]}


@pytest.mark.parametrize("config", CONFIGS, ids=repr)
def test_the_labels_follow_the_configuration(config: ManifestConfig) -> None:
    ios = _ios_types(config)
    expected = set()
    if config.uploader:
        expected |= {"PhoneNumber", "Contacts"}
    if config.gravatar:
        expected |= {"EmailAddress", "Contacts"}
    assert set(ios) == expected
    # Linked unless a relay hides the device's address from every server.
    assert all(linked is (not config.oblivious) for linked in ios.values())
    android = data_safety(config)
    assert android["configuration"] == {"uploader": config.uploader,
                                        "gravatar": config.gravatar,
                                        "oblivious": config.oblivious}
    assert android["collects_or_shares_data"] is (config.uploader or config.gravatar)
    if not (config.uploader or config.gravatar):
        assert android["data_types"] == []
        return
    (contacts,) = android["data_types"]
    assert (contacts["category"], contacts["type"]) == ("Contacts", "Contacts")
    assert contacts["shared"] is config.gravatar  # Gravatar is a third party
    assert contacts["required"] is config.uploader  # Gravatar alone is opt-in
    assert ("Fraud prevention, security, and compliance" in contacts["purposes"]) \
        is config.uploader
    assert {f["flow"] for f in contacts["n2net_flows"]} == {f.name.value
                                                            for f in data_flows(config)}
    assert all(f["relay_only"] is config.oblivious for f in contacts["n2net_flows"])


@pytest.mark.parametrize("config", CONFIGS, ids=repr)
@pytest.mark.parametrize("platform", ["ios", "android"])
def test_a_written_manifest_reads_back_as_its_flows(config: ManifestConfig, platform: str) -> None:
    data = ios_plist(config) if platform == "ios" else data_safety_json(config).encode()
    declared = parse_manifest(data, "m")
    assert declared.platform == platform
    assert declared.flows == {f.name: f.relay_only for f in data_flows(config)}


NO_GRAVATAR = parse_manifest(ios_plist(ManifestConfig(gravatar=False)))
NO_UPLOADER = parse_manifest(data_safety_json(ManifestConfig(uploader=False)).encode())
OBLIVIOUS = parse_manifest(ios_plist(ManifestConfig(oblivious=True)))
NOTHING = parse_manifest(ios_plist(ManifestConfig(uploader=False, gravatar=False)))
EVERYTHING = parse_manifest(data_safety_json(ManifestConfig()).encode())


@pytest.mark.parametrize(("declared", "purpose", "categories", "words"), [
    (NO_GRAVATAR, "gravatar", ["email hash (md5)"], ["destination gravatar", "email hash"]),
    (NO_GRAVATAR, "n2net_api", ["phone number (E.164)", "SMS metadata (time)"], []),
    (NO_UPLOADER, "n2net_api", ["phone number (E.164)"], ["destination n2net_api",
                                                          "phone number"]),
    (NO_UPLOADER, "n2net_api", ["sealed event batch (not opened)"],
     ["destination n2net_api", "sealed event batch"]),
    (NO_UPLOADER, "gravatar", ["email hash (sha256)"], []),
    (OBLIVIOUS, "gravatar", ["email hash (md5)"], ["through an Oblivious HTTP relay only"]),
    (OBLIVIOUS, "ohttp_relay", ["OHTTP-encapsulated request"], []),
    (EVERYTHING, "ohttp_relay", ["OHTTP-encapsulated request"], []),
    (NOTHING, "ohttp_relay", [], ["destination ohttp_relay"]),
    (NOTHING, "app", ["email hash (md5)"], ["email hash"]),
    (NOTHING, "app", [], []),
])
def test_undeclared_names_each_problem(
    declared: object, purpose: str, categories: list[str], words: list[str]
) -> None:
    assert hasattr(declared, "undeclared")
    problems, _ = declared.undeclared(purpose, categories)
    assert len(problems) == len(words), problems
    for problem, word in zip(problems, words, strict=True):
        assert word in problem


def test_declared_not_observed_lists_types_no_request_showed() -> None:
    full = parse_manifest(ios_plist(ManifestConfig()))
    _, seen = full.undeclared("gravatar", ["email hash (md5)"])
    assert seen == {FlowName.GRAVATAR}
    assert full.not_observed(seen) == ("NSPrivacyCollectedDataTypePhoneNumber",)
    assert full.not_observed(set()) == full.declared_types()
    assert EVERYTHING.not_observed({FlowName.EVENTS}) == ()


@pytest.mark.parametrize(("data", "words"), [
    (b"", "neither"),
    (b"hello", "neither"),
    (b"{not json", "not valid JSON"),
    (b'{"format": "something/else"}', "not a Data safety document"),
    (b'{"format": "n2net.data-safety/1", "data_types": {}}', '"data_types" is not a list'),
    (b'{"format": "n2net.data-safety/1", "data_types": [{"category": "Contacts", "type": '
     b'"Contacts", "n2net_flows": [{"flow": "telepathy", "relay_only": false}]}]}',
     "unknown or malformed flow"),
    (b"<plist><array/></plist>", "not a dictionary"),
    (b"<plist><dict><key>x</key>", "not a valid property list"),
    (plistlib.dumps({"NSPrivacyCollectedDataTypes": [{"NSPrivacyCollectedDataType": "x"}]}),
     "NSPrivacyCollectedDataTypeLinked is not a boolean"),
])
def test_unreadable_manifests_raise_a_typed_error_naming_the_file(data: bytes, words: str) -> None:
    with pytest.raises(ManifestError, match=r"^bad\.file: ") as caught:
        parse_manifest(data, "bad.file")
    assert words in str(caught.value)


def test_an_apps_own_data_types_are_accepted_but_not_the_sdks() -> None:
    merged = ios_manifest(ManifestConfig(uploader=False))
    merged["NSPrivacyCollectedDataTypes"].append({
        "NSPrivacyCollectedDataType": "NSPrivacyCollectedDataTypeCrashData",
        "NSPrivacyCollectedDataTypeLinked": False, "NSPrivacyCollectedDataTypeTracking": False,
        "NSPrivacyCollectedDataTypePurposes": ["NSPrivacyCollectedDataTypePurposeAnalytics"],
    })
    declared = parse_manifest(plistlib.dumps(merged))
    assert "NSPrivacyCollectedDataTypeCrashData" not in declared.declared_types()
    assert declared.flows == {FlowName.GRAVATAR: False}


@pytest.mark.parametrize("config", CONFIGS, ids=repr)
def test_markdown_has_one_row_per_flow_beside_its_policy_sentences(config: ManifestConfig) -> None:
    table = privacy_table_markdown(config)
    flows = data_flows(config)
    rows = [line for line in table.splitlines() if line.startswith("| ") and "---" not in line]
    assert len(rows) == (len(flows) + 1 if flows else 0)
    for flow in flows:
        assert all(sentence in table for sentence in POLICY_SENTENCES[flow.name])


@pytest.mark.skipif(not POLICY.is_file(), reason="the policy text is not on this machine")
def test_every_quoted_policy_sentence_is_in_the_policy_exactly() -> None:
    policy = " ".join(POLICY.read_text(encoding="utf-8").split())
    for sentences in POLICY_SENTENCES.values():
        for sentence in sentences:
            assert sentence in policy, sentence


def test_the_manifest_package_imports_no_network() -> None:
    code = ("import sys, n2net_privacy.manifest; "
            "bad = [m for m in sys.modules if m.split('.')[0] in ('httpx', 'httpcore') "
            "or m in ('n2net_privacy.egress.transport', 'n2net_privacy.egress.client')]; "
            "assert not bad, bad")
    subprocess.run([sys.executable, "-c", code], check=True, timeout=60)
