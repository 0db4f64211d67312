"""The SDK's data flows, per configuration: the one table every label is built from.

A :class:`ManifestConfig` says which features the app turns on. By default
every feature is on, because a label declares what the SDK *may* collect.
:func:`data_flows` turns it into the flows the SDK can make, each with the
store categories it implies (:mod:`~n2net_privacy.manifest.apple`,
:mod:`~n2net_privacy.manifest.play`) and the wire categories the egress
auditor observes for it. Pure: no I/O, no network imports.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum

from n2net_privacy.egress.policy import Purpose

__all__ = [
    "FlowName",
    "ManifestConfig",
    "SdkFlow",
    "data_flows",
    "flow_for_category",
]


class FlowName(StrEnum):
    """The SDK's two data flows; the value is the id in the Android JSON."""

    EVENTS = "events"
    """The E.164 number and SMS/call metadata, sealed to the N2Net ingest."""
    GRAVATAR = "gravatar"
    """A contact's email hash, in the path of a Gravatar avatar request."""


@dataclass(frozen=True, slots=True)
class ManifestConfig:
    """Which of the SDK's features the app uses.

    ``uploader``: SMS/call events go to the ingest (``UploaderConfig``).
    ``gravatar``: the app offers the Gravatar toggle (off until the user
    turns it on; the label still declares it, since it *may* be collected).
    ``oblivious``: every request goes through an Oblivious HTTP relay
    (``ObliviousConfig``), so nobody on the path can link data to the device.
    """

    uploader: bool = True
    gravatar: bool = True
    oblivious: bool = False


@dataclass(frozen=True, slots=True)
class SdkFlow:
    """One data flow: what leaves, where to, and whether it can be linked to the user."""

    name: FlowName
    purpose: Purpose
    """The egress purpose of the direct path (the relay path is ``OHTTP_RELAY``)."""
    description: str
    linked: bool
    """Without a relay the server sees the device's address with the data: linked."""
    relay_only: bool
    """``--oblivious``: the SDK never sends this flow directly, only through the relay."""


_DESCRIPTIONS = {
    FlowName.EVENTS: "the E.164 number of the contact the user texts or calls, with the time "
    "(and a call's duration), sealed to the N2Net ingest",
    FlowName.GRAVATAR: "the MD5 hash of a contact's email address, sent to Gravatar to fetch "
    "an avatar, only while the user has Gravatar turned on",
}


def data_flows(config: ManifestConfig) -> tuple[SdkFlow, ...]:
    """The flows ``config`` turns on, events first."""
    wanted = ((FlowName.EVENTS, Purpose.N2NET_API, config.uploader),
              (FlowName.GRAVATAR, Purpose.GRAVATAR, config.gravatar))
    return tuple(
        SdkFlow(name, purpose, _DESCRIPTIONS[name], linked=not config.oblivious,
                relay_only=config.oblivious)
        for name, purpose, on in wanted
        if on
    )


# The auditor's data categories (n2net_privacy.audit.auditor/events) and the flow
# each belongs to. A relay request's categories name no flow: it is ciphertext.
_CATEGORY_PREFIXES = (
    ("email hash", FlowName.GRAVATAR),
    ("phone number (E.164)", FlowName.EVENTS),
    ("SMS metadata", FlowName.EVENTS),
    ("call metadata", FlowName.EVENTS),
    ("sealed event batch", FlowName.EVENTS),
)


def flow_for_category(category: str) -> FlowName | None:
    """The flow an observed wire category belongs to, or None (no SDK data type)."""
    return next((flow for prefix, flow in _CATEGORY_PREFIXES if category.startswith(prefix)),
                None)
