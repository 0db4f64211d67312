"""Across the whole demo lifecycle, no log line and no output line carries PII.

The redaction filter is a safety net for numbers and emails; names it cannot
recognise, so this proves that no code path logs one in the first place.
"""

from __future__ import annotations

import io
import logging
import re

import pytest

from n2net_privacy.demo import run_demo
from n2net_privacy.testing.synthetic import synthetic_address_book

CONTACTS, SEED = 300, 99


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
