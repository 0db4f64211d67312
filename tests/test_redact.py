"""The one redaction helper: masked forms, free-text scrubbing, the logging filter."""

from __future__ import annotations

import logging

import pytest
from hypothesis import given
from hypothesis import strategies as st

from n2net_privacy.redact import get_logger, redact_email, redact_name, redact_phone, scrub


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("+12155552671", "+1******2671"),
        ("+1 (215) 555-2671", "+1******2671"),
        ("(215) 555-2671", "2*****2671"),
        ("+44 20 7946 0958", "+4*******0958"),
        ("911", "***"),
        ("33669", "*****"),
        ("", "***"),
        ("not a number", "***"),
    ],
)
def test_redact_phone(raw: str, expected: str) -> None:
    assert redact_phone(raw) == expected


def test_redact_email_and_name() -> None:
    assert redact_email(" Ann.Lee+news@Example.com ") == "a***@***"
    assert redact_email("no-at-sign") == "n***@***"
    assert redact_name("Ann  Lee") == "A. L."
    assert redact_name("  ") == "<empty>"


@given(st.text(alphabet="0123456789 +-().", min_size=7, max_size=30))
def test_redacted_phone_never_holds_more_than_five_digits_of_a_long_number(raw: str) -> None:
    digits = [c for c in raw if c.isdigit()]
    shown = [c for c in redact_phone(raw) if c.isdigit()]
    assert len(shown) <= 5
    if len(digits) >= 7:
        assert "".join(shown[-4:]) == "".join(digits[-4:])


def test_scrub_masks_numbers_and_emails_in_free_text() -> None:
    text = "sent to ann.lee@example.com and +1 215-555-2671 at 12:30"
    scrubbed = scrub(text)
    assert "ann.lee" not in scrubbed
    assert "example.com" not in scrubbed
    assert "555-2671" not in scrubbed
    assert "12:30" in scrubbed  # times and small numbers survive
    assert scrub("batch 12345 of 500 events") == "batch 12345 of 500 events"  # counters too
    assert "5552671" not in scrub("dialled 5552671")  # a seven-digit local number does not


def test_logging_filter_scrubs_arguments_that_slipped_through(
    caplog: pytest.LogCaptureFixture,
) -> None:
    logger = get_logger("tests.redact")
    with caplog.at_level(logging.DEBUG, logger="n2net_privacy"):
        logger.debug("calling %s for %s", "+1 215 555 2671", "ann.lee@example.com")
    (record,) = caplog.records
    assert record.name == "n2net_privacy.tests.redact"
    assert "215 555" not in caplog.text
    assert "ann.lee" not in caplog.text
    assert "+1******2671" in caplog.text


def test_tracebacks_in_log_records_are_scrubbed_too(caplog: pytest.LogCaptureFixture) -> None:
    logger = get_logger("tests.redact.tb")
    with caplog.at_level(logging.ERROR, logger="n2net_privacy"):
        try:
            raise ValueError("listener choked on ann.lee@example.com / +1 215 555 2671")
        except ValueError:
            logger.exception("listener failed")
    assert "ValueError" in caplog.text
    assert "ann.lee" not in caplog.text
    assert "555 2671" not in caplog.text
