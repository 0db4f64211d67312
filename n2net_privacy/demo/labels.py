"""Demo: the privacy labels of the demo's own configuration, proven by its own traffic.

Before the first chapter the demo builds its privacy manifests (every
feature on, requests direct or through the relay) and hands the iOS one to
the auditor; at the end it writes them beside the report and states the
claim the audit proves: every byte that left is declared.
"""

from __future__ import annotations

from pathlib import Path

from n2net_privacy.audit import EgressAuditor, Rule
from n2net_privacy.demo.story import Story
from n2net_privacy.manifest import ManifestConfig, data_safety_json, ios_plist, parse_manifest

__all__ = ["declare_labels", "prove_labels"]

CONFIG = ManifestConfig(uploader=True, gravatar=True, oblivious=False)


def declare_labels(auditor: EgressAuditor) -> dict[str, bytes]:
    """Hold the auditor to the demo's iOS manifest; return the label files to write.

    The files are written with the report, at the end of a run that got
    there, so an interrupted demo leaves no label behind; the auditor holds
    the traffic to the very bytes that are written.
    """
    plist = ios_plist(CONFIG)
    auditor.use_manifest(parse_manifest(plist, "PrivacyInfo.xcprivacy"))
    return {
        "PrivacyInfo.xcprivacy": plist,
        "data-safety.json": data_safety_json(CONFIG).encode("utf-8"),
    }


def prove_labels(story: Story, auditor: EgressAuditor) -> None:
    """State that nothing undeclared left (the report's summary lists what is declared)."""
    check = auditor.manifest_check()
    if check is None:
        return
    undeclared = [f for f in auditor.findings() if f.rule is Rule.MANIFEST_UNDECLARED]
    for finding in undeclared:
        story.say(f"  - {finding.describe()}")
    story.check(
        not undeclared,
        f"every byte that left is declared: {len(undeclared)} undeclared "
        f"(audited against {Path(check.source).name})",
    )
