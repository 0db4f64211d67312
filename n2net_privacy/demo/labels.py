"""Demo: the privacy labels of the demo's own configuration, proven by its own traffic.

Before the first chapter the demo writes its privacy manifests (every
feature on, requests direct or through the relay) and hands the one it
wrote to the auditor; at the end it states the claim the audit proves:
every byte that left is declared.
"""

from __future__ import annotations

from pathlib import Path

from n2net_privacy.audit import EgressAuditor, Rule
from n2net_privacy.demo.story import Story
from n2net_privacy.manifest import ManifestConfig, data_safety_json, ios_plist, parse_manifest

__all__ = ["declare_labels", "prove_labels"]

CONFIG = ManifestConfig(uploader=True, gravatar=True, oblivious=False)


def declare_labels(story: Story, auditor: EgressAuditor, report_dir: Path | None) -> None:
    """Write the demo's manifests (into ``report_dir``) and hold the auditor to the iOS one."""
    plist = ios_plist(CONFIG)
    source = "PrivacyInfo.xcprivacy"
    if report_dir is not None:
        report_dir.mkdir(parents=True, exist_ok=True)
        path = report_dir / source
        path.write_bytes(plist)
        (report_dir / "data-safety.json").write_text(data_safety_json(CONFIG), encoding="utf-8")
        plist, source = path.read_bytes(), str(path)  # audit what was written
    auditor.use_manifest(parse_manifest(plist, source))


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
