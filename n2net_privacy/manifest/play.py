"""Google Play's Data safety answers, built from the SDK's data flows, as JSON.

The document (format ``n2net.data-safety/1``, JSON Schema in
docs/data-safety.schema.json) holds the answers the Play Console form asks
for each data type: collected, shared, processed ephemerally, required or
optional, purposes; and the app-level ones: encrypted in transit, deletion.
Names are Play's own (``PLAY_DATA_TYPES``, ``PLAY_PURPOSES``, with their
source). ``n2net_flows`` is ours: which SDK flow each answer covers, so the
audit can hold the answers to the traffic. Pure: no I/O.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

from n2net_privacy._version import __version__
from n2net_privacy.manifest.flows import FlowName, ManifestConfig, data_flows

__all__ = [
    "DATA_SAFETY_FORMAT",
    "PLAY_DATA_TYPES",
    "PLAY_PURPOSES",
    "PLAY_SOURCES",
    "data_safety",
    "data_safety_json",
    "data_safety_json_schema",
    "flow_answer",
]

DATA_SAFETY_FORMAT = "n2net.data-safety/1"
PLAY_SOURCES = {
    "form": "https://support.google.com/googleplay/android-developer/answer/10787469",
    "data_types": "https://developer.android.com/privacy-and-security/declare-data-use",
}

PLAY_DATA_TYPES: Mapping[str, tuple[str, ...]] = {
    "Location": ("Approximate location", "Precise location"),
    "Personal info": ("Name", "Email address", "User IDs", "Address", "Phone number",
                      "Race and ethnicity", "Political or religious beliefs",
                      "Sexual orientation", "Other info"),
    "Financial info": ("User payment info", "Purchase history", "Credit score",
                       "Other financial info"),
    "Health and fitness": ("Health info", "Fitness info"),
    "Messages": ("Emails", "SMS or MMS", "Other in-app messages"),
    "Photos and videos": ("Photos", "Videos"),
    "Audio files": ("Voice or sound recordings", "Music files", "Other audio files"),
    "Files and docs": ("Files and docs",),
    "Calendar": ("Calendar events",),
    "Contacts": ("Contacts",),
    "App activity": ("App interactions", "In-app search history", "Installed apps",
                     "Other user-generated content", "Other actions"),
    "Web browsing": ("Web browsing history",),
    "App info and performance": ("Crash logs", "Diagnostics", "Other app performance data"),
    "Device or other IDs": ("Device or other IDs",),
}
"""Every data type of the Data safety form, by category (``PLAY_SOURCES``)."""

PLAY_PURPOSES = ("App functionality", "Analytics", "Developer communications",
                 "Advertising or marketing", "Fraud prevention, security, and compliance",
                 "Personalization", "Account management")
"""Every purpose the form offers."""

FLOW_DATA_TYPES: Mapping[FlowName, tuple[tuple[str, str], ...]] = {
    # Play's "Contacts" covers "contact names, message history, ... contact
    # recency, contact frequency, interaction duration and call history"; its
    # "Phone number" and "Email address" are the *user's* own.
    FlowName.EVENTS: (("Contacts", "Contacts"),),
    FlowName.GRAVATAR: (("Contacts", "Contacts"),),
}
_PURPOSES = {
    FlowName.EVENTS: ("App functionality", "Fraud prevention, security, and compliance"),
    FlowName.GRAVATAR: ("App functionality",),
}
# Gravatar is an independent third party, not a service provider processing on
# the app's behalf, and an MD5 of an email is not anonymous: sharing. The ingest
# processes for the app (the policy: "N2Net acts as a data processor"): not sharing.
_SHARED = {FlowName.EVENTS: False, FlowName.GRAVATAR: True}
# Events are stored (not ephemeral) and sent whenever the user texts or calls
# (required); Gravatar is off until the user turns it on (optional).
_REQUIRED = {FlowName.EVENTS: True, FlowName.GRAVATAR: False}
_DELETION_NOTE = (
    "The SDK offers no deletion of stored events: the policy keeps the number and pertinent "
    "metadata to comply with state and federal law, and names only modification requests "
    "(support@n2net.com). Turning Gravatar off purges the on-device avatar cache. Answer this "
    "question for your app as a whole."
)


def flow_answer(flow: FlowName) -> str:
    """One flow's own answers in words (``"Contacts > Contacts: collected, not shared, ..."``)."""
    shared = "collected and shared" if _SHARED[flow] else "collected, not shared"
    kind = "required" if _REQUIRED[flow] else "optional"
    names = ", ".join(f"{c} > {t}" for c, t in FLOW_DATA_TYPES[flow])
    return f"{names}: {shared}, {kind}, not ephemeral; {', '.join(_PURPOSES[flow])}"


def data_safety(config: ManifestConfig) -> dict[str, Any]:
    """The Data safety answers of ``config`` as a JSON-ready dictionary."""
    entries: dict[tuple[str, str], dict[str, Any]] = {}
    for flow in data_flows(config):
        for category, name in FLOW_DATA_TYPES[flow.name]:
            entry = entries.setdefault((category, name), {
                "category": category, "type": name, "collected": True, "shared": False,
                "ephemeral": False, "required": False, "purposes": [], "n2net_flows": [],
            })
            entry["shared"] |= _SHARED[flow.name]
            entry["required"] |= _REQUIRED[flow.name]
            entry["purposes"].extend(p for p in _PURPOSES[flow.name]
                                     if p not in entry["purposes"])
            entry["n2net_flows"].append({
                "flow": flow.name.value, "purpose": flow.purpose.value,
                "relay_only": flow.relay_only, "description": flow.description,
            })
    return {
        "format": DATA_SAFETY_FORMAT,
        "sdk": {"name": "n2net-privacy", "version": __version__},
        "configuration": {"uploader": config.uploader, "gravatar": config.gravatar,
                          "oblivious": config.oblivious},
        "collects_or_shares_data": bool(entries),
        "encrypted_in_transit": True,
        "deletion": {"users_can_request": False, "note": _DELETION_NOTE},
        "data_types": list(entries.values()),
    }


def data_safety_json(config: ManifestConfig) -> str:
    """:func:`data_safety` as indented JSON with a final newline."""
    return json.dumps(data_safety(config), indent=2, ensure_ascii=False) + "\n"


def data_safety_json_schema() -> dict[str, Any]:
    """The JSON Schema (draft 2020-12) of :func:`data_safety`: docs/data-safety.schema.json."""
    pairs = [
        {"if": {"properties": {"category": {"const": category}}},
         "then": {"properties": {"type": {"enum": list(names)}}}}
        for category, names in PLAY_DATA_TYPES.items()
    ]
    flow = {
        "type": "object",
        "additionalProperties": False,
        "required": ["flow", "purpose", "relay_only", "description"],
        "properties": {
            "flow": {"enum": [f.value for f in FlowName],
                     "description": "the SDK data flow (not a Play field)"},
            "purpose": {"type": "string", "description": "the SDK's egress purpose"},
            "relay_only": {"type": "boolean",
                           "description": "sent only through an Oblivious HTTP relay"},
            "description": {"type": "string"},
        },
    }
    data_type = {
        "type": "object",
        "additionalProperties": False,
        "required": ["category", "type", "collected", "shared", "ephemeral", "required",
                     "purposes", "n2net_flows"],
        "properties": {
            "category": {"enum": list(PLAY_DATA_TYPES), "description": "Play's data category"},
            "type": {"type": "string", "description": "Play's data type within the category"},
            "collected": {"type": "boolean",
                          "description": "Play: transmitted off the device"},
            "shared": {"type": "boolean",
                       "description": "Play: transferred to a third party"},
            "ephemeral": {"type": "boolean",
                          "description": "Play: is this data processed ephemerally?"},
            "required": {"type": "boolean",
                         "description": "Play: is this data collection required (true) or "
                         "optional (false)?"},
            "purposes": {"type": "array", "minItems": 1, "uniqueItems": True,
                         "items": {"enum": list(PLAY_PURPOSES)}},
            "n2net_flows": {"type": "array", "items": flow,
                            "description": "the SDK flows this answer covers (ours, for "
                            "the audit; not a Play field)"},
        },
        "allOf": pairs,
    }
    return {
        "$schema": "https://json-schema.org/draft/2020-12/schema",
        "$id": "https://n2net.com/schemas/n2net.data-safety-1.schema.json",
        "title": "Google Play Data safety answers of the n2net-privacy SDK",
        "description": f"Format {DATA_SAFETY_FORMAT}. Names from {PLAY_SOURCES['form']} "
        f"and {PLAY_SOURCES['data_types']}.",
        "type": "object",
        "additionalProperties": False,
        "required": ["format", "sdk", "configuration", "collects_or_shares_data",
                     "encrypted_in_transit", "deletion", "data_types"],
        "properties": {
            "format": {"const": DATA_SAFETY_FORMAT},
            "sdk": {"type": "object", "additionalProperties": False,
                    "required": ["name", "version"],
                    "properties": {"name": {"const": "n2net-privacy"},
                                   "version": {"type": "string"}}},
            "configuration": {
                "type": "object", "additionalProperties": False,
                "required": ["uploader", "gravatar", "oblivious"],
                "properties": {k: {"type": "boolean"}
                               for k in ("uploader", "gravatar", "oblivious")},
                "description": "what the labels were built for (informative)",
            },
            "collects_or_shares_data": {
                "type": "boolean",
                "description": "Play: does your app collect or share any of the required "
                "user data types?",
            },
            "encrypted_in_transit": {
                "type": "boolean",
                "description": "Play: is all of the user data collected by your app encrypted "
                "in transit?",
            },
            "deletion": {
                "type": "object", "additionalProperties": False,
                "required": ["users_can_request", "note"],
                "properties": {"users_can_request": {"type": "boolean"},
                               "note": {"type": "string"}},
                "description": "Play: do you provide a way for users to request that their "
                "data is deleted? (for what the SDK sends)",
            },
            "data_types": {"type": "array", "items": data_type},
        },
    }
