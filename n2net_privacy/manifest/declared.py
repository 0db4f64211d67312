"""Read a privacy manifest back, and say what traffic it does not declare. Pure.

:func:`parse_manifest` takes either generated file (the iOS property list or
the Android Data safety JSON, told apart by content) and recovers the SDK
data flows it declares: on iOS from the data types (a phone number is the
events flow, an email address the Gravatar flow, "not linked" means through
a relay only), on Android from each answer's ``n2net_flows``. The auditor
asks :meth:`DeclaredManifest.undeclared` about every request.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from n2net_privacy.egress.policy import Purpose
from n2net_privacy.errors import ManifestError
from n2net_privacy.manifest.apple import FLOW_DATA_TYPES as APPLE_TYPES
from n2net_privacy.manifest.flows import FlowName, flow_for_category
from n2net_privacy.manifest.play import DATA_SAFETY_FORMAT

__all__ = ["DeclaredManifest", "DeclaredType", "load_manifest", "parse_manifest"]

_MAX_BYTES = 1024 * 1024
_FLOW_PURPOSE = {FlowName.EVENTS: Purpose.N2NET_API.value,
                 FlowName.GRAVATAR: Purpose.GRAVATAR.value}
_SDK_PURPOSES = frozenset({*_FLOW_PURPOSE.values(), Purpose.OHTTP_RELAY.value})
# The iOS type that tells each flow apart (the other, Contacts, is shared by both).
_IOS_MARKERS = {APPLE_TYPES[flow][0]: flow for flow in FlowName}


@dataclass(frozen=True, slots=True)
class DeclaredType:
    """One declared data type (Apple's key, or Play's ``Category > Type``) and its SDK flows."""

    name: str
    flows: frozenset[FlowName]


@dataclass(frozen=True, slots=True)
class DeclaredManifest:
    """What a manifest declares: its SDK flows (flow -> relay only?) and its data types."""

    platform: str  # "ios" or "android"
    source: str
    flows: Mapping[FlowName, bool]
    types: tuple[DeclaredType, ...]

    def allowed_purposes(self) -> frozenset[str]:
        """Egress purposes the declared flows may use; the relay carries any of them."""
        direct = {_FLOW_PURPOSE[f] for f, relay_only in self.flows.items() if not relay_only}
        return frozenset(direct | ({Purpose.OHTTP_RELAY.value} if self.flows else set()))

    def undeclared(
        self, purpose: str, categories: Iterable[str]
    ) -> tuple[list[str], set[FlowName]]:
        """Why a request of ``purpose`` carrying ``categories`` breaks the manifest.

        Returns the problems (empty when it is declared) and the declared flows
        it shows to be in use. Purposes that are not the SDK's (the app's own
        traffic in a capture) are the app's to declare, not the SDK's.
        """
        problems: list[str] = []
        if purpose in _SDK_PURPOSES and purpose not in self.allowed_purposes():
            flow = next((f for f, p in _FLOW_PURPOSE.items() if p == purpose), None)
            if flow is not None and self.flows.get(flow):
                problems.append(f"a direct request to {purpose}: the manifest declares the "
                                f"{flow.value} flow through an Oblivious HTTP relay only")
            else:
                problems.append(f"destination {purpose} is outside the manifest's data flows")
        observed: set[FlowName] = set()
        for category in sorted(set(categories)):
            flow = flow_for_category(category)
            if flow is None:
                continue
            if flow in self.flows:
                observed.add(flow)
            else:
                problems.append(f"{category}: a data type the manifest does not declare "
                                f"(no {flow.value} data flow)")
        return problems, observed

    def declared_types(self) -> tuple[str, ...]:
        """The declared data types the SDK's flows account for."""
        return tuple(t.name for t in self.types if t.flows)

    def not_observed(self, observed: Iterable[FlowName]) -> tuple[str, ...]:
        """Declared types none of whose flows was seen: "declared, not observed"."""
        seen = set(observed)
        return tuple(t.name for t in self.types if t.flows and not t.flows & seen)


def parse_manifest(data: bytes, source: str = "<manifest>") -> DeclaredManifest:
    """Read ``PrivacyInfo.xcprivacy`` or a Data safety JSON; :class:`ManifestError` if neither."""
    head = data.lstrip(b"\xef\xbb\xbf \t\r\n")[:1]
    if head == b"{":
        return _android(data, source)
    if data.startswith(b"bplist") or b"<plist" in data[:4096]:
        return _ios(data, source)
    raise ManifestError(f"{source}: neither a privacy manifest (property list) nor Data "
                        "safety JSON")


def load_manifest(path: str | Path) -> DeclaredManifest:
    """:func:`parse_manifest` of a file; :class:`ManifestError` names the file on any problem."""
    target = Path(path)
    try:
        if not target.is_file():
            raise ManifestError(f"{target}: not a regular file")
        if target.stat().st_size > _MAX_BYTES:
            raise ManifestError(f"{target}: larger than {_MAX_BYTES} bytes")
        data = target.read_bytes()
    except OSError as exc:
        raise ManifestError(f"{target}: cannot read ({exc.strerror})") from exc
    return parse_manifest(data, str(target))


def _ios(data: bytes, source: str) -> DeclaredManifest:
    import plistlib  # and its XML parser, only when an iOS manifest is read
    from xml.parsers.expat import ExpatError

    try:
        root = plistlib.loads(data)
    except (plistlib.InvalidFileException, ExpatError, ValueError, TypeError, KeyError,
            IndexError, OverflowError) as exc:
        raise ManifestError(f"{source}: not a valid property list") from exc
    if not isinstance(root, dict):
        raise ManifestError(f"{source}: the property list is not a dictionary")
    entries = root.get("NSPrivacyCollectedDataTypes", [])
    if not isinstance(entries, list):
        raise ManifestError(f"{source}: NSPrivacyCollectedDataTypes is not an array")
    declared: dict[str, bool] = {}
    for index, entry in enumerate(entries):
        where = f"{source}: NSPrivacyCollectedDataTypes[{index}]"
        if not isinstance(entry, dict) or not isinstance(
            entry.get("NSPrivacyCollectedDataType"), str
        ):
            raise ManifestError(f"{where}: expected a dictionary with NSPrivacyCollectedDataType")
        linked = entry.get("NSPrivacyCollectedDataTypeLinked")
        if not isinstance(linked, bool):
            raise ManifestError(f"{where}: NSPrivacyCollectedDataTypeLinked is not a boolean")
        declared[entry["NSPrivacyCollectedDataType"]] = linked
    # "Not linked" is only true through a relay: such a flow is declared relay-only.
    flows = {flow: not declared[marker] for marker, flow in _IOS_MARKERS.items()
             if marker in declared}
    types = tuple(
        DeclaredType(name, frozenset(f for f in flows if name in APPLE_TYPES[f]))
        for name in declared
    )
    return DeclaredManifest("ios", source, flows, types)


def _android(data: bytes, source: str) -> DeclaredManifest:
    try:
        root: Any = json.loads(data)
    except (ValueError, RecursionError) as exc:
        raise ManifestError(f"{source}: not valid JSON") from exc
    if not isinstance(root, dict) or root.get("format") != DATA_SAFETY_FORMAT:
        raise ManifestError(f'{source}: not a Data safety document ("format" is not '
                            f'"{DATA_SAFETY_FORMAT}")')
    entries = root.get("data_types")
    if not isinstance(entries, list):
        raise ManifestError(f'{source}: "data_types" is not a list')
    flows: dict[FlowName, bool] = {}
    types: list[DeclaredType] = []
    for index, entry in enumerate(entries):
        where = f"{source}: data_types[{index}]"
        if not isinstance(entry, dict) or not all(
            isinstance(entry.get(k), str) for k in ("category", "type")
        ):
            raise ManifestError(f'{where}: expected an object with "category" and "type"')
        mine: set[FlowName] = set()
        for item in entry.get("n2net_flows", []):
            try:
                flow = FlowName(item["flow"])
                relay_only = item["relay_only"]
            except (TypeError, KeyError, ValueError) as exc:
                raise ManifestError(f"{where}: n2net_flows: unknown or malformed flow") from exc
            if not isinstance(relay_only, bool):
                raise ManifestError(f"{where}: n2net_flows: relay_only is not a boolean")
            flows[flow] = flows.get(flow, True) and relay_only
            mine.add(flow)
        if entry.get("collected") is False and entry.get("shared") is False:
            continue  # answered "neither": not declared
        types.append(DeclaredType(f"{entry['category']} > {entry['type']}", frozenset(mine)))
    return DeclaredManifest("android", source, flows, tuple(types))
