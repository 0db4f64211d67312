"""The one redaction helper for log lines and exception messages.

Every place in the SDK that wants to mention a phone number, an email address
or a contact name in a message goes through here. The forms produced keep
just enough to debug with (a country-code digit and the last four digits of a
number, the first letter of an email's local part) and nothing to identify a
person by.

>>> redact_phone("+1 215 555 2671")
'+1******2671'
>>> redact_email("Ann.Lee@example.com")
'a***@***'

``scrub`` is the safety net: it masks anything that looks like a number or an
email in free text. :class:`RedactingFilter` applies it to every record of the
``n2net_privacy`` logger, so a slip in a log call still leaks nothing.

Logs are an egress, and other libraries log too: httpx writes each request's
URL at INFO (a Gravatar URL carries the email hash), httpcore, h11 and hpack
write connection and header details at DEBUG. While :func:`sdk_request` runs
(the egress door wraps each of the SDK's requests in it), every record that a
logger outside ``n2net_privacy`` creates is withheld: its level and logger
stay, its message becomes :data:`WITHHELD`, its arguments and traceback go.
This is done where records are made (the log record factory), because a
filter on a logger misses records propagated from its children
(``httpcore.connection``, ``httpcore.http11``), and the app owns the handlers.
The app's own records, and its own httpx requests, are untouched.
"""

from __future__ import annotations

import contextlib
import contextvars
import logging
import re
from collections.abc import Callable, Iterator
from typing import Any

__all__ = [
    "WITHHELD",
    "RedactingFilter",
    "get_logger",
    "redact_email",
    "redact_name",
    "redact_phone",
    "scrub",
    "sdk_request",
]

WITHHELD = "[withheld by n2net-privacy: this record is about one of the SDK's own requests]"

_DIGITS = re.compile(r"\d")
# Runs of 7+ digits (the shortest personal numbers), with the punctuation people type.
_PHONE_LIKE = re.compile(r"\+?\d(?:[\s().\-/]*\d){6,}")
_EMAIL_LIKE = re.compile(r"[^\s@<>\"'(),;:]+@[^\s@<>\"'(),;:]+")

_KEEP_TAIL = 4
_MIN_DIGITS_TO_SHOW = 7


def redact_phone(raw: str) -> str:
    """Mask a phone number: keep a leading ``+``, one lead digit and the last four.

    Inputs with fewer than seven digits (short codes, garbage) are masked
    entirely, since four digits of a five-digit code is the code.
    """
    digits = "".join(ch for ch in raw if ch.isdigit() and ch.isascii())
    plus = "+" if raw.lstrip().startswith(("+", "\uff0b")) else ""
    if len(digits) < _MIN_DIGITS_TO_SHOW:
        return plus + "*" * max(len(digits), 3)
    masked = len(digits) - 1 - _KEEP_TAIL
    return f"{plus}{digits[0]}{'*' * masked}{digits[-_KEEP_TAIL:]}"


def redact_email(email: str) -> str:
    """Mask an email address down to the first character of its local part."""
    local = email.strip().split("@", 1)[0]
    first = local[:1].lower() if local else ""
    return f"{first}***@***"


def redact_name(name: str) -> str:
    """Mask a contact name down to its initials: ``"Ann Lee"`` becomes ``"A. L."``."""
    initials = [part[0].upper() + "." for part in name.split() if part]
    return " ".join(initials) if initials else "<empty>"


def scrub(text: str) -> str:
    """Mask every email- or phone-like run in free text."""
    text = _EMAIL_LIKE.sub(lambda m: redact_email(m.group(0)), text)
    return _PHONE_LIKE.sub(lambda m: redact_phone(m.group(0)), text)


class RedactingFilter(logging.Filter):
    """A logging filter that scrubs the formatted message of every record.

    Installed on the ``n2net_privacy`` logger by :func:`get_logger`. The
    record's message is rendered, scrubbed and frozen, so handlers further
    down never see the raw arguments.
    """

    def filter(self, record: logging.LogRecord) -> bool:
        message = record.getMessage()
        record.msg = scrub(message)
        record.args = None
        # A traceback can quote an app callback's exception text; handlers
        # render exc_text when it is set, so set it scrubbed.
        if record.exc_info and not record.exc_text:
            record.exc_text = scrub(_FORMATTER.formatException(record.exc_info))
        if record.stack_info:
            record.stack_info = scrub(record.stack_info)
        return True


_FORMATTER = logging.Formatter()


_ROOT = "n2net_privacy"
_root_logger = logging.getLogger(_ROOT)
if not any(isinstance(f, RedactingFilter) for f in _root_logger.filters):
    _root_logger.addFilter(RedactingFilter())
# A library does not print unless the app configures logging (Python's HOWTO).
_root_logger.addHandler(logging.NullHandler())


def get_logger(name: str) -> logging.Logger:
    """Return a logger under ``n2net_privacy`` whose records are scrubbed.

    Logger filters do not propagate to children, so the filter is added to
    each logger handed out here.
    """
    logger = logging.getLogger(name if name.startswith(_ROOT) else f"{_ROOT}.{name}")
    if not any(isinstance(f, RedactingFilter) for f in logger.filters):
        logger.addFilter(RedactingFilter())
    return logger


_IN_SDK_REQUEST: contextvars.ContextVar[bool] = contextvars.ContextVar(
    "n2net_privacy_sdk_request", default=False
)


def _is_sdk_logger(name: str) -> bool:
    return name == _ROOT or name.startswith(_ROOT + ".")


class _WithholdingFactory:
    """Wraps the app's log record factory; withholds other loggers' records in SDK requests."""

    def __init__(self, inner: Callable[..., logging.LogRecord]) -> None:
        self.inner = inner

    def __call__(self, *args: Any, **kwargs: Any) -> logging.LogRecord:
        record = self.inner(*args, **kwargs)
        if _IN_SDK_REQUEST.get() and not _is_sdk_logger(record.name):
            record.msg = WITHHELD
            record.args = None
            record.exc_info = None
            record.exc_text = None
            record.stack_info = None
        return record


def _withhold_in_sdk_requests() -> None:
    """Install the withholding factory, again if the app has replaced it since."""
    current = logging.getLogRecordFactory()
    if not isinstance(current, _WithholdingFactory):
        logging.setLogRecordFactory(_WithholdingFactory(current))


@contextlib.contextmanager
def sdk_request() -> Iterator[None]:
    """Mark the code inside as one of the SDK's own requests (the egress door does).

    Records that loggers outside ``n2net_privacy`` make meanwhile, in this
    thread or asyncio task only, carry :data:`WITHHELD` instead of their
    message, whatever level the app set.
    """
    _withhold_in_sdk_requests()
    token = _IN_SDK_REQUEST.set(True)
    try:
        yield
    finally:
        _IN_SDK_REQUEST.reset(token)


_withhold_in_sdk_requests()
