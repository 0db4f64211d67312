"""A Markdown table for the app's own privacy policy, each row beside the policy sentence.

Every quoted sentence is copied exactly from the N2Net privacy policy; a
test holds them to it. Pure.
"""

from __future__ import annotations

from n2net_privacy.manifest.apple import FLOW_DATA_TYPES as APPLE_TYPES
from n2net_privacy.manifest.flows import FlowName, ManifestConfig, data_flows
from n2net_privacy.manifest.play import flow_answer

__all__ = ["POLICY_SENTENCES", "privacy_table_markdown"]

POLICY_SENTENCES = {
    FlowName.EVENTS: (
        "When the user sends an SMS message to one of his/her phone contacts, or when the user "
        "initiates a call to one of his/her phone contacts, the phone number is sent securely "
        "through N2Net\u2019s API.",
        "N2Net does not store this number with any other PII, and it cannot be directly or "
        "indirectly attributed to any person or persons; N2Net stores only the phone number and "
        "pertinent metadata so as to be compliant with all applicable state and federal laws, "
        "and N2Net does not share this data with any advertisers or third parties under any "
        "circumstances.",
    ),
    FlowName.GRAVATAR: (
        "This means that, only when Gravatar use is enabled, we hash each contact\u2019s email "
        "address and send it to Gravatar to try and retrieve an avatar image.",
        "MD5 hashes cannot be directly or indirectly attributed to any person or persons, and "
        "we only send the MD5 hash to Gravatar, never the email address in plain text.",
    ),
}
_TO = {
    FlowName.EVENTS: "N2Net's ingest (api.n2net.com), sealed to its key",
    FlowName.GRAVATAR: "Gravatar (gravatar.com)",
}
_WHEN = {
    FlowName.EVENTS: "each SMS or call the user makes to a contact",
    FlowName.GRAVATAR: "only while the user has Gravatar turned on in Settings",
}
_APPLE_NAMES = {
    "NSPrivacyCollectedDataTypePhoneNumber": "Contact Info > Phone Number",
    "NSPrivacyCollectedDataTypeEmailAddress": "Contact Info > Email Address",
    "NSPrivacyCollectedDataTypeContacts": "Contacts > Contacts",
}
_HEADER = (
    "| What the SDK sends | To | When | Apple privacy label | Google Play Data safety "
    "| N2Net policy sentence it implements |\n"
    "| --- | --- | --- | --- | --- | --- |\n"
)


def _cell(text: str) -> str:
    return text.replace("|", "\\|").replace("\n", " ")


def privacy_table_markdown(config: ManifestConfig) -> str:
    """The table for ``config``; a sentence instead when the SDK sends nothing."""
    flows = data_flows(config)
    if not flows:
        return "With this configuration the N2Net SDK sends no personal data off the device.\n"
    rows = []
    for flow in flows:
        linked = "linked to the user" if flow.linked else "not linked (Oblivious HTTP relay)"
        apple = ", ".join(_APPLE_NAMES[t] for t in APPLE_TYPES[flow.name])
        quote = " ".join(f"\u201c{s}\u201d" for s in POLICY_SENTENCES[flow.name])
        to = _TO[flow.name] + (", through a relay" if flow.relay_only else "")
        rows.append("| " + " | ".join(_cell(c) for c in (
            flow.description, to, _WHEN[flow.name], f"{apple}; {linked}; not used for tracking",
            flow_answer(flow.name), quote)) + " |\n")
    return _HEADER + "".join(rows)
