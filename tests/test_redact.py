"""The one redaction helper: masked forms, free-text scrubbing, the logging filter."""

from __future__ import annotations

import hashlib
import logging
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import httpx
import pytest
from hypothesis import given
from hypothesis import strategies as st

from n2net_privacy.egress import Purpose
from n2net_privacy.redact import (
    WITHHELD,
    get_logger,
    redact_email,
    redact_name,
    redact_phone,
    scrub,
)
from n2net_privacy.testing.audited import AuditedEgress


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


# -- logs are an egress: other libraries' records of the SDK's own requests --------------

_HASH = hashlib.md5(b"ann.lee@example.com").hexdigest()


class _Avatar(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def do_GET(self) -> None:
        self.send_response(404)
        self.send_header("content-length", "0")
        self.end_headers()

    def log_message(self, format: str, *args: object) -> None:
        pass


class _Records(logging.Handler):
    def __init__(self) -> None:
        super().__init__(logging.DEBUG)
        self.lines: list[tuple[str, str]] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.lines.append((record.name, self.format(record)))


@pytest.fixture
def every_record() -> Iterator[_Records]:
    """What ``logging.basicConfig(level=logging.DEBUG)`` would print, as a list."""
    handler = _Records()
    root = logging.getLogger()
    level = root.level
    root.addHandler(handler)
    root.setLevel(logging.DEBUG)
    try:
        yield handler
    finally:
        root.setLevel(level)
        root.removeHandler(handler)


@pytest.fixture
def avatar_server() -> Iterator[str]:
    server = ThreadingHTTPServer(("127.0.0.1", 0), _Avatar)
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05})
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()
        thread.join()


def test_third_party_loggers_keep_no_trace_of_the_sdks_requests(
    every_record: _Records, avatar_server: str
) -> None:
    with AuditedEgress().client(Purpose.GRAVATAR) as client:
        assert client.request("GET", f"{avatar_server}/avatar/{_HASH}?d=404").status == 404
    third_party = [(n, line) for n, line in every_record.lines if not n.startswith("n2net")]
    # httpx at INFO and httpcore's children (httpcore.connection, httpcore.http11) at DEBUG.
    assert {"httpx", "httpcore.connection", "httpcore.http11"} <= {n for n, _ in third_party}
    assert all(line == WITHHELD for _, line in third_party), third_party
    assert not any(_HASH in line for _, line in every_record.lines)


def test_the_apps_own_requests_are_logged_as_usual(
    every_record: _Records, avatar_server: str
) -> None:
    # The withholding applies to the SDK's requests only, not to httpx in the app.
    with httpx.Client() as client:
        client.get(f"{avatar_server}/mine")
    lines = [line for name, line in every_record.lines if name == "httpx"]
    assert any("/mine" in line for line in lines), lines


def test_an_app_that_replaces_the_record_factory_is_wrapped_again(
    every_record: _Records, avatar_server: str
) -> None:
    previous = logging.getLogRecordFactory()
    seen: list[str] = []

    def apps_factory(*args: Any, **kwargs: Any) -> logging.LogRecord:
        seen.append("app")
        return previous(*args, **kwargs)

    logging.setLogRecordFactory(apps_factory)
    try:
        with AuditedEgress().client(Purpose.GRAVATAR) as client:
            client.request("GET", f"{avatar_server}/avatar/{_HASH}")
    finally:
        logging.setLogRecordFactory(previous)
    assert seen, "the app's factory still runs"
    assert not any(_HASH in line for _, line in every_record.lines)
