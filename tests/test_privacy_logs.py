"""Across the whole demo lifecycle, no log line and no output line carries PII.

The redaction filter is a safety net for numbers and emails; names it cannot
recognise, so this proves that no code path logs one in the first place.
"""

from __future__ import annotations

import io
import logging
import re
from pathlib import Path

import pytest

from n2net_privacy.audit import AddressBookPii, EgressAuditor, PiiDetector
from n2net_privacy.audit.logs import LogWatch
from n2net_privacy.demo import run_demo
from n2net_privacy.redact import WITHHELD
from n2net_privacy.testing.synthetic import synthetic_address_book

CONTACTS, SEED = 300, 99
DEMO_CONTACTS, DEMO_SEED = 2_000, 2026  # `make demo`: n2net-privacy demo's defaults


def test_the_demo_logs_and_prints_no_name_email_or_number(
    caplog: pytest.LogCaptureFixture,
) -> None:
    out = io.StringIO()
    with caplog.at_level(logging.DEBUG, logger="n2net_privacy"):
        assert run_demo(out, contacts=CONTACTS, seed=SEED) == 0
    assert caplog.records, "the demo should log something at DEBUG"
    logged = "\n".join(
        caplog.handler.format(r) for r in caplog.records
    )  # formatted lines, tracebacks included
    printed = out.getvalue()
    book = synthetic_address_book(CONTACTS, seed=SEED)
    for text, where in ((logged, "log"), (printed, "demo output")):
        lowered = text.lower()
        # Each run of digits with the punctuation people put in numbers, as digits.
        runs = [re.sub(r"\D", "", m.group()) for m in re.finditer(r"\d[\d\s().\-/]*", text)]
        for contact in book:
            assert contact.display_name.lower() not in lowered, where
            for email in contact.emails:
                assert email.lower() not in lowered, where
                assert email.split("@")[0].lower() not in lowered, where
            for phone in contact.phones:
                national = re.sub(r"\D", "", phone.number)[-7:]
                assert not any(national in run for run in runs), (where, "a phone number")


def test_the_demo_at_debug_leaves_no_pii_or_email_hash_in_any_loggers_records(
    tmp_path: Path,
) -> None:
    """``make demo`` with ``logging.basicConfig(level=logging.DEBUG)``: every logger, httpx too.

    The records go to a file, as an app's would, and the file is scanned with
    the auditor's detectors (every encoding, the email hashes included); a
    :class:`LogWatch` audits each record as it is made, too.
    """
    book = synthetic_address_book(DEMO_CONTACTS, seed=DEMO_SEED)
    auditor = EgressAuditor(book)
    log_file = tmp_path / "demo.log"
    handler = logging.FileHandler(log_file, encoding="utf-8")
    handler.setFormatter(logging.Formatter("%(levelname)s %(name)s %(message)s"))
    root = logging.getLogger()
    level = root.level
    root.addHandler(handler)
    root.setLevel(logging.DEBUG)
    try:
        with LogWatch(auditor):
            assert run_demo(io.StringIO(), contacts=DEMO_CONTACTS, seed=DEMO_SEED) == 0
    finally:
        root.setLevel(level)
        root.removeHandler(handler)
        handler.close()
    lines = log_file.read_text(encoding="utf-8").splitlines()
    loggers = {line.split(" ", 2)[1] for line in lines}
    detector = PiiDetector(AddressBookPii.from_contacts(book))
    leaks = [(line.split(" ", 2)[1], [m.describe() for m in detector.scan(line)])
             for line in lines if detector.scan(line)]
    assert leaks == []
    assert auditor.findings() == ()
    # The demo's requests did reach httpx's and httpcore's loggers: withheld there.
    assert {"httpx", "httpcore.http11"} <= loggers, sorted(loggers)
    assert any(line.endswith(WITHHELD) for line in lines)
