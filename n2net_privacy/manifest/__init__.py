"""Privacy labels from the code: ``PrivacyInfo.xcprivacy`` and Google Play's Data safety.

Build the declarations from the configuration the app uses, and read them
back for the audit, which proves them request by request. Pure: nothing here
does I/O beyond :func:`load_manifest` reading a file, and nothing imports the
network.

>>> from n2net_privacy.manifest import ManifestConfig, parse_manifest, ios_plist
>>> declared = parse_manifest(ios_plist(ManifestConfig(gravatar=False)))
>>> declared.undeclared("gravatar", ["email hash (md5)"])[0]  # doctest: +NORMALIZE_WHITESPACE
["destination gravatar is outside the manifest's data flows",
 'email hash (md5): a data type the manifest does not declare (no gravatar data flow)']
"""

from __future__ import annotations

from n2net_privacy.manifest.apple import (
    APPLE_ACCESSED_API_REASONS,
    APPLE_DATA_TYPES,
    APPLE_PURPOSES,
    APPLE_SOURCES,
    ios_manifest,
    ios_plist,
)
from n2net_privacy.manifest.declared import (
    DeclaredManifest,
    DeclaredType,
    load_manifest,
    parse_manifest,
)
from n2net_privacy.manifest.flows import FlowName, ManifestConfig, SdkFlow, data_flows
from n2net_privacy.manifest.markdown import POLICY_SENTENCES, privacy_table_markdown
from n2net_privacy.manifest.play import (
    DATA_SAFETY_FORMAT,
    PLAY_DATA_TYPES,
    PLAY_PURPOSES,
    PLAY_SOURCES,
    data_safety,
    data_safety_json,
    data_safety_json_schema,
)

__all__ = [
    "APPLE_ACCESSED_API_REASONS",
    "APPLE_DATA_TYPES",
    "APPLE_PURPOSES",
    "APPLE_SOURCES",
    "DATA_SAFETY_FORMAT",
    "PLAY_DATA_TYPES",
    "PLAY_PURPOSES",
    "PLAY_SOURCES",
    "POLICY_SENTENCES",
    "DeclaredManifest",
    "DeclaredType",
    "FlowName",
    "ManifestConfig",
    "SdkFlow",
    "data_flows",
    "data_safety",
    "data_safety_json",
    "data_safety_json_schema",
    "ios_manifest",
    "ios_plist",
    "load_manifest",
    "parse_manifest",
    "privacy_table_markdown",
]
