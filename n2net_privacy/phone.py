"""E.164 normalization that agrees with libphonenumber and says why a number fails.

A number leaves the device in exactly one form, E.164 (``+12015550123``), and
only when it is a real, valid number. ``phonenumbers.format_number`` would
happily turn ``911`` into ``+1911``; :func:`to_e164` refuses and says why.

>>> to_e164("(201) 555-0123", "US")
'+12015550123'
>>> normalize("911", "US").reason
<PhoneNumberErrorReason.EMERGENCY: 'emergency'>

The decision, in order (first match wins):

==========================================  =========================
input                                       outcome
==========================================  =========================
more than 250 characters                    ``TOO_LONG`` (never parsed)
``phonenumbers.parse`` raises               its error type, mapped 1:1
valid, E.164 fits 15 digits                 success
valid, longer (``+49 5352 4344358272``)     ``TOO_LONG``
invalid, an emergency number of the region  ``EMERGENCY`` (``911``/US)
invalid, a short code dialled nationally    ``SHORT_CODE`` (``33669``/US)
invalid, longer than 15 digits              ``TOO_LONG``
invalid                                     ``INVALID``
==========================================  =========================

The region (an ISO code such as ``"US"``, or a
:class:`~n2net_privacy.device.DeviceContext`) only applies to input without a
``+``: it names the national format and the international prefix (``011`` in
the US, ``00`` in Germany). Without it such input is ``INVALID_COUNTRY_CODE``,
never a guess. phonenumbers itself handles ``tel:`` URIs, vanity letters,
``+44 (0) 20``, extensions and non-ASCII digits; this module only steps in for
what it cannot read (invisible Unicode marks, exotic spaces, full-width letters).

All phonenumbers metadata is loaded once, under a lock, before the first
number is parsed (see :func:`load_phone_metadata`), so concurrent first use
from many threads cannot race on the library's lazy loading
(python-phonenumbers #191).
"""

from __future__ import annotations

import functools
import logging
import re
import threading
import unicodedata
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from enum import StrEnum

import phonenumbers
from phonenumbers import (
    CountryCodeSource,
    NumberParseException,
    PhoneMetadata,
    PhoneNumber,
    PhoneNumberFormat,
    PhoneNumberType,
)

from n2net_privacy import redact
from n2net_privacy._phone_shortcuts import parse_nanp_e164, region_and_type
from n2net_privacy.checks import quoted, require_int, require_type
from n2net_privacy.device import DeviceContext
from n2net_privacy.errors import InvalidArgumentError, InvalidArgumentTypeError, PhoneNumberError

__all__ = [
    "DEFAULT_CACHE_SIZE",
    "MAX_INPUT_LENGTH",
    "NormalizationResult",
    "NumberType",
    "PhoneNumberErrorReason",
    "fold_digits",
    "load_phone_metadata",
    "normalize",
    "normalize_many",
    "to_e164",
]

MAX_INPUT_LENGTH = 250
"""Longer input is rejected as ``TOO_LONG`` before any parsing (phonenumbers' own cap)."""

DEFAULT_CACHE_SIZE = 16_384
"""Entries in :func:`normalize_many`'s LRU cache: a large address book in about 6 MB."""

_E164_MAX_DIGITS = 15

_log = redact.get_logger(__name__)


class PhoneNumberErrorReason(StrEnum):
    """Why a string could not be normalized to E.164."""

    INVALID_COUNTRY_CODE = "invalid_country_code"
    """No ``+``/international prefix and no usable region, or an unknown country code."""
    NOT_A_NUMBER = "not_a_number"
    """Nothing in the text looks like a phone number."""
    TOO_SHORT_AFTER_IDD = "too_short_after_idd"
    """An international prefix (``011``, ``00``) followed by too few digits."""
    TOO_SHORT = "too_short"
    """Too few digits to be any phone number."""
    TOO_LONG = "too_long"
    """Over 250 characters, or more digits than E.164's 15."""
    INVALID = "invalid"
    """Parsed, but no numbering plan has such a number."""
    SHORT_CODE = "short_code"
    """A short code (SMS services, directory help) of the region: not reachable in E.164."""
    EMERGENCY = "emergency"
    """An emergency number of the region (``911``, ``112``, ``999``)."""


class NumberType(StrEnum):
    """What kind of line a valid number is, as libphonenumber's metadata says."""

    FIXED_LINE = "fixed_line"
    MOBILE = "mobile"
    FIXED_LINE_OR_MOBILE = "fixed_line_or_mobile"
    """Regions such as the US, where the number alone cannot tell."""
    TOLL_FREE = "toll_free"
    PREMIUM_RATE = "premium_rate"
    SHARED_COST = "shared_cost"
    VOIP = "voip"
    PERSONAL_NUMBER = "personal_number"
    PAGER = "pager"
    UAN = "uan"
    """Universal access number: one number for a company's many offices."""
    VOICEMAIL = "voicemail"


_NUMBER_TYPES: dict[int, NumberType] = {
    PhoneNumberType.FIXED_LINE: NumberType.FIXED_LINE,
    PhoneNumberType.MOBILE: NumberType.MOBILE,
    PhoneNumberType.FIXED_LINE_OR_MOBILE: NumberType.FIXED_LINE_OR_MOBILE,
    PhoneNumberType.TOLL_FREE: NumberType.TOLL_FREE,
    PhoneNumberType.PREMIUM_RATE: NumberType.PREMIUM_RATE,
    PhoneNumberType.SHARED_COST: NumberType.SHARED_COST,
    PhoneNumberType.VOIP: NumberType.VOIP,
    PhoneNumberType.PERSONAL_NUMBER: NumberType.PERSONAL_NUMBER,
    PhoneNumberType.PAGER: NumberType.PAGER,
    PhoneNumberType.UAN: NumberType.UAN,
    PhoneNumberType.VOICEMAIL: NumberType.VOICEMAIL,
}

_PARSE_REASONS: dict[int, PhoneNumberErrorReason] = {
    NumberParseException.INVALID_COUNTRY_CODE: PhoneNumberErrorReason.INVALID_COUNTRY_CODE,
    NumberParseException.NOT_A_NUMBER: PhoneNumberErrorReason.NOT_A_NUMBER,
    NumberParseException.TOO_SHORT_AFTER_IDD: PhoneNumberErrorReason.TOO_SHORT_AFTER_IDD,
    NumberParseException.TOO_SHORT_NSN: PhoneNumberErrorReason.TOO_SHORT,
    NumberParseException.TOO_LONG: PhoneNumberErrorReason.TOO_LONG,
}


@dataclass(frozen=True, slots=True)
class NormalizationResult:
    """The outcome for one input: either ``e164`` (and friends) or ``reason``.

    On success ``reason`` is ``None``; ``region`` is the ISO region the number
    belongs to (``"001"`` for non-geographic ones such as ``+800``), and
    ``extension`` holds any extension, which is never part of E.164. On
    failure every other field is ``None``. The raw input is not kept, so
    logging a result cannot leak more than its E.164.
    """

    e164: str | None
    number_type: NumberType | None
    region: str | None
    extension: str | None
    reason: PhoneNumberErrorReason | None

    @property
    def ok(self) -> bool:
        """True when the input normalized to E.164."""
        return self.reason is None


# Failures carry nothing but their reason, so one shared instance per reason will do.
_AS_TEXT = "pass the number as text (a str), as it was typed or stored"

_FAILURES = {
    reason: NormalizationResult(None, None, None, None, reason) for reason in PhoneNumberErrorReason
}

_metadata_loaded = threading.Event()
_metadata_lock = threading.Lock()


def load_phone_metadata() -> None:
    """Load every region's phonenumbers metadata now (about 0.25 s, once per process).

    Called on first use anyway; an app may call it at start-up, off the UI
    thread, to keep that cost away from the first number it shows. Loading
    goes through the library's own locked accessors, under our lock, so
    threads arriving meanwhile wait for a complete set.
    """
    if _metadata_loaded.is_set():
        return
    with _metadata_lock:
        if _metadata_loaded.is_set():
            return
        for region in phonenumbers.SUPPORTED_REGIONS:
            PhoneMetadata.metadata_for_region(region)
        for calling_code in phonenumbers.COUNTRY_CODES_FOR_NON_GEO_REGIONS:
            PhoneMetadata.metadata_for_nongeo_region(calling_code)
        for region in phonenumbers.SUPPORTED_SHORT_REGIONS:
            PhoneMetadata.short_metadata_for_region(region)
        _metadata_loaded.set()


def to_e164(raw: str, region: str | DeviceContext | None = None) -> str:
    """Return ``raw`` as E.164, or raise :class:`PhoneNumberError` saying why not.

    ``region`` applies to input without ``+`` (see the module docs). An
    unknown region code is an :class:`InvalidArgumentError` and a ``raw`` that
    is not a ``str`` (``2155552671``) an :class:`InvalidArgumentTypeError`,
    not a bad number.
    The error carries only a redacted form of ``raw``.
    """
    result = normalize(raw, region)  # checks raw's type
    if result.e164 is None:
        assert result.reason is not None  # a result is either a number or a reason
        raise PhoneNumberError(result.reason, _redacted(raw))
    return result.e164


def normalize(raw: str, region: str | DeviceContext | None = None) -> NormalizationResult:
    """Like :func:`to_e164`, but return the outcome as a value instead of raising.

    Only a bad number is a value: a ``raw`` that is not a ``str`` or an
    unknown region still raises (:class:`InvalidArgumentTypeError`,
    :class:`InvalidArgumentError`), since those are the app's bugs.
    """
    require_type("raw", raw, str, hint=_AS_TEXT)
    code = _region_code(region)
    load_phone_metadata()
    return _normalize_text(raw, code)


def normalize_many(
    numbers: Iterable[str],
    region: str | DeviceContext | None = None,
    *,
    cache_size: int = DEFAULT_CACHE_SIZE,
) -> Iterator[NormalizationResult]:
    """Normalize a stream lazily, one result per input, in order.

    Results are cached by ``(raw, region)`` in an LRU of ``cache_size``
    entries that lives as long as the returned iterator, so repeats (the same
    number in many contacts, a re-run over the same list) are nearly free and
    memory stays bounded however long the stream. The region is checked now,
    not at the first ``next()``.
    """
    require_int("cache_size", cache_size, 0)
    if isinstance(numbers, str):
        raise InvalidArgumentTypeError(
            "numbers must be an iterable of str, not one str; for one number use normalize()"
        )
    require_type("numbers", numbers, Iterable)
    code = _region_code(region)
    load_phone_metadata()
    return _stream(numbers, code, cache_size)


def _stream(
    numbers: Iterable[str], code: str | None, cache_size: int
) -> Iterator[NormalizationResult]:
    cached = functools.lru_cache(maxsize=cache_size)(_normalize_text)
    too_long = _FAILURES[PhoneNumberErrorReason.TOO_LONG]
    for index, raw in enumerate(numbers):
        require_type(f"numbers[{index}]", raw, str, hint=_AS_TEXT)
        # Checked before the cache, so a megabyte of junk is never kept as a key.
        yield too_long if len(raw) > MAX_INPUT_LENGTH else cached(raw, code)


def _region_code(region: str | DeviceContext | None) -> str | None:
    if region is None:
        return None
    if isinstance(region, DeviceContext):
        return region.default_region
    require_type("region", region, (str, DeviceContext))
    code = region.upper()
    if code not in phonenumbers.SUPPORTED_REGIONS:
        raise InvalidArgumentError(
            f"unknown region {quoted(region)}: expected an ISO 3166-1 alpha-2 code such as 'US'"
        )
    return code


def _normalize_text(raw: str, region: str | None) -> NormalizationResult:
    if len(raw) > MAX_INPUT_LENGTH:
        result = _FAILURES[PhoneNumberErrorReason.TOO_LONG]
    elif raw.isascii():
        # The fast path: nothing to fold, phonenumbers reads the text as given.
        result = _attempt(raw, region)
    else:
        text = fold_digits(raw)
        result = _attempt(text, region)
        # Only when the library could not read the text as given: what it accepts stays its call.
        if result.reason is not None:
            cleaned = _clean(text)
            if cleaned != text:
                result = _attempt(cleaned, region)
    if result.reason is not None and _log.isEnabledFor(logging.DEBUG):
        _log.debug("phone number %s not normalized: %s", _redacted(raw), result.reason.value)
    return result


def _attempt(text: str, region: str | None) -> NormalizationResult:
    number = parse_nanp_e164(text)  # exactly what parse() returns for +1NXXNXXXXXX
    if number is None:
        try:
            number = phonenumbers.parse(text, region)
        except NumberParseException as exc:
            reason = _PARSE_REASONS.get(exc.error_type, PhoneNumberErrorReason.NOT_A_NUMBER)
            return _FAILURES[reason]
    # UNKNOWN exactly when is_valid_number() is False: both resolve the region and
    # match the same patterns, so one call answers "valid?" and "what type?".
    number_region, kind = region_and_type(number)
    if kind == PhoneNumberType.UNKNOWN:
        return _FAILURES[_invalid_reason(text, number, region)]
    e164 = phonenumbers.format_number(number, PhoneNumberFormat.E164)
    if len(e164) - 1 > _E164_MAX_DIGITS:
        return _FAILURES[PhoneNumberErrorReason.TOO_LONG]
    # Positional: e164, number_type, region, extension, reason (keywords cost ~20% here).
    return NormalizationResult(
        e164, _NUMBER_TYPES[kind], number_region, number.extension or None, None
    )


def _invalid_reason(text: str, number: PhoneNumber, region: str | None) -> PhoneNumberErrorReason:
    """Say why a parsed number is invalid; only invalid numbers pay for these checks."""
    if region is not None:
        # is_emergency_number reads the text itself and never matches "+..." input.
        if phonenumbers.is_emergency_number(text, region):
            return PhoneNumberErrorReason.EMERGENCY
        if phonenumbers.is_valid_short_number_for_region(number, region) and _dialled_nationally(
            text, region
        ):
            return PhoneNumberErrorReason.SHORT_CODE
    digits = len(str(number.country_code)) + len(phonenumbers.national_significant_number(number))
    if digits > _E164_MAX_DIGITS:
        return PhoneNumberErrorReason.TOO_LONG
    return PhoneNumberErrorReason.INVALID


def _dialled_nationally(text: str, region: str) -> bool:
    """True when the text had no ``+`` or international prefix: short codes are local only."""
    source = phonenumbers.parse(text, region, keep_raw_input=True).country_code_source
    return source == CountryCodeSource.FROM_DEFAULT_COUNTRY


# Marks that address books carry but phonenumbers does not skip: bidi controls and
# isolates (iOS wraps numbers in them), zero-width characters, soft hyphen, BOM.
_INVISIBLE_OR_SPACE = re.compile(
    r"[\s\u00ad\u061c\u180e\u200b-\u200f\u202a-\u202e\u2060-\u206f\ufeff]+"
)


# In a str pattern \d is exactly Unicode's decimal digits (category Nd, about 650).
_NON_ASCII_DIGIT = re.compile(r"(?![0-9])\d")


def _ascii_digit(match: re.Match[str]) -> str:
    return str(unicodedata.decimal(match.group()))


def fold_digits(text: str) -> str:
    """Turn every Unicode decimal digit into its ASCII digit, leaving the rest alone.

    phonenumbers reads many scripts' digits itself, but not on every path:
    once the text holds three letters it is read as a vanity number and only
    ASCII digits survive, so a full-width 4 and an Arabic-Indic 2 among
    letters were dropped and a shorter, valid number came out.
    Folding first means no input can come out as a number made of a subset
    of its digits. ASCII text is returned as is, without a copy.

    >>> fold_digits("\u0660\u0661\u0662 \uff14\uff15 \u0966\u096f")
    '012 45 09'
    """
    return text if text.isascii() else _NON_ASCII_DIGIT.sub(_ascii_digit, text)


def _clean(text: str) -> str:
    """Fold compatibility forms (full-width letters, odd spaces) and drop invisible marks."""
    return _INVISIBLE_OR_SPACE.sub(" ", unicodedata.normalize("NFKC", text))


def _redacted(raw: str) -> str:
    """The only form of the input that may appear in messages and logs."""
    # redact_phone counts ASCII digits only; fold the others so "+1******0123" stays useful.
    return redact.redact_phone(fold_digits(_clean(raw[:MAX_INPUT_LENGTH])))
