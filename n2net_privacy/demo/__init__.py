"""The story ``n2net-privacy demo`` tells: the policy's promises, kept by running code.

Every chapter runs against simulated platforms and loopback servers only, and
states claims that must hold. All traffic passes one egress with the QA
auditor attached in record mode; the run ends with the privacy report.
:func:`run_demo` returns 0 only when every claim held and the auditor found
nothing.
"""

from __future__ import annotations

import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import TextIO

from n2net_privacy import ohttp
from n2net_privacy.audit import EgressAuditor, report_for
from n2net_privacy.demo.gravatar import gravatar_chapter
from n2net_privacy.demo.labels import declare_labels, prove_labels
from n2net_privacy.demo.oblivious import oblivious_chapter
from n2net_privacy.demo.permissions import android_chapter, ios_chapter
from n2net_privacy.demo.story import Story
from n2net_privacy.demo.uploader import uploader_chapter
from n2net_privacy.egress import Egress, EgressPolicy, Purpose
from n2net_privacy.testing.synthetic import synthetic_address_book
from n2net_privacy.uploader import ServerKeyPair

__all__ = ["run_demo"]

LOOPBACK = frozenset({"127.0.0.1"})


def run_demo(
    out: TextIO = sys.stdout,
    *,
    contacts: int = 2_000,
    seed: int = 2026,
    report_dir: Path | None = None,
    route: Callable[[str], str] | None = None,
) -> int:
    """Run every chapter; return 0 when every claim held and nothing leaked.

    ``route`` maps each loopback server's base URL to the one the SDK uses
    instead, so QA can capture the demo's traffic through a proxy.
    """
    route = route or (lambda url: url)
    story = Story(out)
    book = synthetic_address_book(contacts, seed=seed)
    out.write(f"N2Net Mobile privacy demo: {len(book)} synthetic contacts, seed {seed}\n")
    server_key = ServerKeyPair.generate(key_id="demo-key-1")
    # gravatar.com and api.n2net.com are only ever named inside OHTTP requests
    # (chapter 5): the door checks them, but every byte goes to loopback.
    allowed = {
        Purpose.GRAVATAR: LOOPBACK | {"gravatar.com"},
        Purpose.N2NET_API: LOOPBACK | {"api.n2net.com"},
        Purpose.OHTTP_RELAY: LOOPBACK,
    }
    auditor = EgressAuditor(
        book,
        mode="record",
        allowed_hosts=allowed,
        allow_loopback_http=True,  # the demo's servers are plain HTTP on loopback
        server_private_key=server_key.private_key,
    )
    egress = Egress(EgressPolicy(allowed_hosts=allowed, test_mode=True), inspectors=[auditor])
    declare_labels(story, auditor, report_dir)

    with tempfile.TemporaryDirectory(prefix="n2net-demo-") as tmp:
        data_dir = Path(tmp)
        android_chapter(story, book, data_dir)
        ios_chapter(story, book, data_dir)
        gravatar_chapter(
            story, book, egress, data_dir / "gravatar", auditor=auditor, route=route
        )
        uploader_chapter(story, book, egress, server_key, data_dir / "uploader", route=route)
        if ohttp.extra_installed():
            oblivious_chapter(
                story, book, egress, server_key, data_dir / "oblivious", auditor=auditor
            )
        else:
            story.chapter("Chapter 5 - Oblivious HTTP: skipped")
            story.say(f"skipped: Oblivious HTTP needs the 'ohttp' extra ({ohttp.INSTALL_LINE})")

    story.chapter("The privacy report")
    report = report_for(auditor, egress.audit, timeline=story.timeline, generated_at=time.time())
    for line in report.summary_lines():
        story.say(line)
    story.check(not auditor.findings(), "the egress auditor found no PII leaving the device")
    prove_labels(story, auditor)
    if report_dir is not None:
        report_dir.mkdir(parents=True, exist_ok=True)
        (report_dir / "privacy-report.html").write_text(report.render_html(), encoding="utf-8")
        (report_dir / "privacy-report.json").write_text(report.to_json(), encoding="utf-8")
        story.say(f"report written to {report_dir}/privacy-report.html and .json")

    out.write(f"\n{story.checks - len(story.failures)}/{story.checks} claims held.\n")
    for failure in story.failures:
        out.write(f"FAILED: {failure}\n")
    return 0 if not story.failures else 1
