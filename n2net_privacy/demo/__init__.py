"""The story ``n2net-privacy demo`` tells: the policy's promises, kept by running code.

Every chapter runs against simulated platforms and loopback servers only, and
states claims that must hold. All traffic passes one egress with the QA
auditor attached in record mode; the run ends with the privacy report.
:func:`run_demo` returns 0 only when every claim held and the auditor found
nothing.

The book size is range-checked before anything runs
(:data:`MIN_CONTACTS` to :data:`MAX_CONTACTS`), and so is the material the
chapters need, so every claim is one the run can bear out: a small book
shares its few emails and numbers between the chapters rather than failing
a claim for want of them.
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
from n2net_privacy.cli._output import check_output_dir, open_output
from n2net_privacy.contacts import Contact
from n2net_privacy.demo.gravatar import GravatarPlan, gravatar_chapter
from n2net_privacy.demo.labels import declare_labels, prove_labels
from n2net_privacy.demo.oblivious import oblivious_chapter
from n2net_privacy.demo.permissions import IOS_CONTACTS, android_chapter, ios_chapter
from n2net_privacy.demo.story import Story
from n2net_privacy.demo.uploader import MIN_NUMBERS, international_numbers, uploader_chapter
from n2net_privacy.egress import Egress, EgressPolicy, Purpose
from n2net_privacy.errors import InvalidArgumentError
from n2net_privacy.testing.synthetic import synthetic_address_book
from n2net_privacy.uploader import ServerKeyPair
from n2net_privacy.wording import plural

__all__ = ["MAX_CONTACTS", "MIN_CONTACTS", "check_contacts", "run_demo"]

LOOPBACK = frozenset({"127.0.0.1"})
MIN_CONTACTS = 20
"""The smallest book: every chapter has material (iOS shares 5 contacts; a
synthetic book of 20 has, for any seed in practice, numbers and emails)."""
MAX_CONTACTS = 20_000
"""The largest book: a big phone address book, run in about 20 s."""


def check_contacts(contacts: int) -> None:
    """Raise :class:`InvalidArgumentError` unless ``contacts`` is in the accepted range."""
    if isinstance(contacts, bool) or not isinstance(contacts, int):
        raise InvalidArgumentError(f"contacts must be a whole number, not {contacts!r}")
    if not MIN_CONTACTS <= contacts <= MAX_CONTACTS:
        raise InvalidArgumentError(
            f"contacts must be between {MIN_CONTACTS:,} and {MAX_CONTACTS:,}, not {contacts:,}"
        )


def _missing_material(book: list[Contact], seed: int) -> str | None:
    """Why this book cannot bear out every claim, or None (checked before any chapter)."""
    where = f"the synthetic book of {plural(len(book), 'contact')} with seed {seed}"
    if len(book) < IOS_CONTACTS:
        return f"{where} has fewer than {IOS_CONTACTS} contacts for the iOS chapter"
    if len(international_numbers(book)) < MIN_NUMBERS:
        return (f"{where} has fewer than {MIN_NUMBERS} numbers in international form "
                "for the SMS and calls chapter; use more contacts or another seed")
    if not GravatarPlan.for_book(book).needed:
        return (f"{where} has no email left to look up after the first quarter, so the "
                "Gravatar switch-off cannot be shown; use more contacts or another seed")
    return None


def run_demo(
    out: TextIO = sys.stdout,
    *,
    contacts: int = 2_000,
    seed: int = 2026,
    report_dir: Path | None = None,
    route: Callable[[str], str] | None = None,
) -> int:
    """Run every chapter; return 0 when every claim held and nothing leaked.

    Raises :class:`InvalidArgumentError` for a ``contacts`` out of range (or
    a book without the material a chapter needs) and
    :class:`~n2net_privacy.cli._output.OutputError` for a ``report_dir``
    that cannot be written, both before anything runs. The reports are
    written atomically: Ctrl-C leaves none half-written. ``route`` maps each
    loopback server's base URL to the one the SDK uses instead, so QA can
    capture the demo's traffic through a proxy.
    """
    check_contacts(contacts)
    if report_dir is not None:
        check_output_dir(report_dir)  # before the run, not after it
    route = route or (lambda url: url)
    story = Story(out)
    book = synthetic_address_book(contacts, seed=seed)
    missing = _missing_material(book, seed)
    if missing is not None:
        raise InvalidArgumentError(missing)
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
    labels = declare_labels(auditor)

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
        files = {
            "privacy-report.html": report.render_html().encode("utf-8"),
            "privacy-report.json": report.to_json().encode("utf-8"),
            **labels,
        }
        for name, data in files.items():
            with open_output(report_dir / name, binary=True, make_parents=True) as handle:
                handle.write(data)
        story.say(f"report written to {report_dir}/privacy-report.html and .json, "
                  "with the privacy labels PrivacyInfo.xcprivacy and data-safety.json")

    out.write(f"\n{story.checks - len(story.failures)}/{story.checks} claims held.\n")
    for failure in story.failures:
        out.write(f"FAILED: {failure}\n")
    return 0 if not story.failures else 1
