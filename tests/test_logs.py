"""LogWatch: every logger's records audited while it is entered; PII there is ``log.pii``."""

from __future__ import annotations

import hashlib
import logging
from collections.abc import Iterator

import pytest

from n2net_privacy.audit import EgressAuditor, Rule
from n2net_privacy.audit.logs import LogWatch
from n2net_privacy.contacts import Contact, ContactPhone

NAME, EMAIL, NUMBER = "Ada Lovelace", "countess@example.org", "(215) 555-2671"
BOOK = [Contact(id="ada", display_name=NAME, emails=(EMAIL,),
                phones=(ContactPhone(number=NUMBER, label="mobile"),))]


@pytest.fixture
def debug() -> Iterator[None]:
    root = logging.getLogger()
    level = root.level
    root.setLevel(logging.DEBUG)
    try:
        yield
    finally:
        root.setLevel(level)


def test_pii_in_any_loggers_record_is_a_finding_named_after_the_logger(debug: None) -> None:
    auditor = EgressAuditor(BOOK)
    secluded = logging.getLogger("test_logs.secluded")
    secluded.propagate = False  # its records never reach the root: watched all the same
    try:
        with LogWatch(auditor):
            digest = hashlib.md5(EMAIL.encode()).hexdigest()
            logging.getLogger("httpx").info("HTTP Request: GET https://gravatar.com/avatar/%s",
                                            digest)
            logging.getLogger("app.ui").debug("calling %s", NAME)
            secluded.warning("sms to %s", NUMBER)
            logging.getLogger("app.ui").debug("calling %s", NAME)  # the same again: once
            logging.getLogger("app.ui").info("nothing personal here")
            try:
                raise ValueError(EMAIL)
            except ValueError:
                logging.getLogger("app.err").exception("failed")
        logging.getLogger("app.ui").warning("after the watch: %s", NAME)
    finally:
        secluded.propagate = True
    found = [(f.rule, f.request_id, f.place, f.detail) for f in auditor.findings()]
    assert found == [
        (Rule.LOG_PII, 0, "log:httpx", "email hash c***@*** (md5)"),
        (Rule.LOG_PII, 0, "log:app.ui", "name A. L. (plain)"),
        (Rule.LOG_PII, 0, "log:test_logs.secluded", "phone 2*****2671 (plain)"),
        (Rule.LOG_PII, 0, "log:app.err", "email c***@*** (plain)"),
    ]
    assert auditor.findings()[0].describe().endswith("(logged)")
    assert not logging.getLogger().handlers or all(
        not isinstance(h, LogWatch) for h in logging.getLogger().handlers
    )


def test_a_record_logged_while_auditing_is_not_audited_again(debug: None) -> None:
    # The auditor logs its own warning on a finding; that must not recurse.
    auditor = EgressAuditor(BOOK)
    with LogWatch(auditor):
        logging.getLogger("app").error("%s", NAME)
    assert [f.place for f in auditor.findings()] == ["log:app"]
