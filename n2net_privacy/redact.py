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
"""

from __future__ import annotations

import logging
import re

__all__ = [
    "RedactingFilter",
    "get_logger",
    "redact_email",
    "redact_name",
    "redact_phone",
    "scrub",
]

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
