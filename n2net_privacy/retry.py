"""The one ``Retry-After`` parser and the one backoff, for every sender in the SDK.

Pure: no clock, no sleep, no network (it imports only the standard library),
so the uploader, the Gravatar fetcher and the conformance kit read a server's
``Retry-After`` the same way. Modelled on anthropic-sdk-python's
``_parse_retry_after_header`` and ``_calculate_retry_timeout``.

RFC 9110 §10.2.3 defines ``Retry-After = HTTP-date / delay-seconds`` with
``delay-seconds = 1*DIGIT``; §5.6.7 defines HTTP-date as IMF-fixdate or one
of two obsolete forms (rfc850-date, asctime-date) a recipient MUST accept,
says every HTTP timestamp is UTC, and encourages recipients to be robust
with timestamps forwarded from Internet Message Format (RFC 5322) sources.
Hence this table (``now`` = 07:27:00 GMT):

==========================================  ========  ==================================
Value                                       Result    Why
==========================================  ========  ==================================
``"120"``, ``" 120 "``                      120.0     delay-seconds (surrounding OWS
                                                      is not part of a field value)
``"0"``                                     0.0       delay-seconds: "now"
``"1.5"``                                   None      not 1*DIGIT: an invalid value is
                                                      ignored, the caller backs off
``"+5"``, ``"-5"``                          None      not 1*DIGIT (no sign allowed)
``"٣"`` (non-ASCII digits)                  None      DIGIT is ASCII 0-9 only
``"Wed, 21 Oct 2026 07:28:00 GMT"``         60.0      IMF-fixdate
``"Wednesday, 21-Oct-26 07:28:00 GMT"``     60.0      obsolete rfc850-date (MUST accept)
``"Wed Oct 21 07:28:00 2026"``              60.0      obsolete asctime-date, read as GMT
``"Wed, 21 Oct 2026 07:28:00 -0000"``       60.0      IMF date: RFC 5322 "-0000" is UTC
                                                      (robust timestamp parsing)
``"Wed, 21 Oct 2026 09:28:00 +0200"``       60.0      IMF date with an offset
``"Wed, 21 Oct 2026 07:28:00"`` (no zone)   60.0      HTTP timestamps are always UTC
a date in the past                          0.0       a valid date that has passed: the
                                                      wait is over (not "unusable")
garbage, impossible dates, ``None``         None      unusable: the caller backs off
==========================================  ========  ==================================

Two-digit rfc850 years follow :mod:`email.utils` (00-68 → 20xx, 69-99 →
19xx), which agrees with RFC 9110's 50-year rule for any date sent before
2068. What a caller does with 0.0 is :func:`backoff_delay`'s business: a
server saying "retry now" to a crowd does not make the crowd retry at once.
"""

from __future__ import annotations

import math
import random
import re
from datetime import UTC, datetime

from n2net_privacy.errors import InvalidArgumentError

__all__ = ["backoff_delay", "parse_retry_after"]

# 2.0 ** 1024 overflows a float; far past any cap anyway.
_MAX_EXPONENT = 64
_DELAY_SECONDS = re.compile(r"[0-9]+")


def parse_retry_after(value: str | None, now: datetime | float) -> float | None:
    """Seconds to wait from a ``Retry-After`` value, or ``None`` if absent or unusable.

    ``now`` is the wall-clock time the reply arrived: an aware ``datetime``
    (a naive one is read as UTC) or epoch seconds. See the module docstring
    for what each form of value gives.

    >>> parse_retry_after("2", 0.0)
    2.0
    >>> parse_retry_after("1.5", 0.0) is None
    True
    """
    if value is None:
        return None
    text = value.strip(" \t")
    if _DELAY_SECONDS.fullmatch(text):
        return float(int(text))
    from email.utils import parsedate_to_datetime  # the email package, only for a date

    try:
        when = parsedate_to_datetime(text)
    except (TypeError, ValueError, IndexError, OverflowError):
        return None
    if when.tzinfo is None:  # asctime, "-0000" and zone-less dates: all UTC
        when = when.replace(tzinfo=UTC)
    if isinstance(now, datetime):
        reference = now if now.tzinfo is not None else now.replace(tzinfo=UTC)
    else:
        reference = datetime.fromtimestamp(now, UTC)
    return max(0.0, (when - reference).total_seconds())


def backoff_delay(
    attempt: int,
    retry_after: float | None,
    rng: random.Random,
    base: float = 0.5,
    cap: float = 60.0,
) -> float:
    """Seconds to wait before retry number ``attempt + 1`` (``attempt`` >= 0).

    A positive, finite ``retry_after`` from the server wins, capped at
    ``cap``. Otherwise (no header, an unusable one, or "0"/a past date)
    "full jitter": uniform in ``[0, min(cap, base * 2**attempt)]``. Full
    jitter is chosen once for the whole SDK because, of the schemes compared
    in the AWS Architecture Blog's "Exponential Backoff And Jitter" (Marc
    Brooker, 2015), it spreads a crowd of clients that failed together the
    most for the least total work; a ``Retry-After: 0`` sent to that crowd
    must not synchronise it again, so it does not win.
    """
    if attempt < 0:
        raise InvalidArgumentError("attempt must be >= 0")
    if base <= 0 or cap < 0:
        raise InvalidArgumentError("base must be > 0 and cap >= 0")
    if retry_after is not None and math.isfinite(retry_after) and retry_after > 0:
        return min(retry_after, cap)
    ceiling = min(cap, base * 2.0 ** min(attempt, _MAX_EXPONENT))
    return rng.uniform(0.0, ceiling)
