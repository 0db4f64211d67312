"""Two shortcuts past phonenumbers' public API, each giving exactly its answer.

A fleet simulation (and a phone's drain after a week offline) normalizes tens
of thousands of distinct numbers, so the per-number cost of phonenumbers is
the uploader's cost. Profiling ``normalize("+12015550123")`` showed where it
goes: ``parse`` (about 45%), then the number's region and type, each of which
runs ``_number_type_helper`` (about 25% each). These shortcuts remove the
repeated work and nothing else:

* :func:`parse_nanp_e164`: the one shape most numbers an N2Net app sees
  arrive in, ``+1`` and ten digits whose area code starts 2-9, parses to
  ``PhoneNumber(country_code=1, national_number=int(digits))`` and nothing
  else. ``parse`` reaches the same object: the ``+`` makes ``1`` the country
  code, the US metadata's national prefix (``1``) cannot strip a number
  starting 2-9, there is no leading zero and no extension. Any other text,
  including every non-ASCII or punctuated form, goes through ``parse``.
* :func:`region_and_type`: ``(region_code_for_number(n), number_type(n))``
  with one ``_number_type_helper`` run instead of two, walking the calling
  code's regions exactly as ``_region_code_for_number_from_list`` does.

tests/test_phone_shortcuts.py holds both to phonenumbers' public answers
(every NANP area code, hypothesis over the shapes and over valid numbers of
every region). Both use private names of phonenumbers; where a release lacks
them, the public calls are used instead.
"""

from __future__ import annotations

import re

import phonenumbers
from phonenumbers import PhoneMetadata, PhoneNumber, PhoneNumberType

try:
    from phonenumbers.phonenumberutil import COUNTRY_CODE_TO_REGION_CODE, _number_type_helper
    from phonenumbers.re_util import re_compile
except ImportError:  # pragma: no cover - a phonenumbers release without these names
    _PRIVATE_API = False
else:
    _PRIVATE_API = True

__all__ = ["parse_nanp_e164", "region_and_type"]

_NANP_E164 = re.compile(r"\+1[2-9][0-9]{9}", re.ASCII)


def parse_nanp_e164(text: str) -> PhoneNumber | None:
    """``phonenumbers.parse(text, any region)`` for ``+1NXXNXXXXXX`` text, else None."""
    if len(text) != 12 or _NANP_E164.fullmatch(text) is None:
        return None
    return PhoneNumber(country_code=1, national_number=int(text[2:]))


def region_and_type(number: PhoneNumber) -> tuple[str | None, int]:
    """``(region_code_for_number(number), number_type(number))``, one type match."""
    if not _PRIVATE_API:  # pragma: no cover
        return phonenumbers.region_code_for_number(number), phonenumbers.number_type(number)
    country_code = number.country_code
    regions = COUNTRY_CODE_TO_REGION_CODE.get(country_code) if country_code else None
    if country_code is None or not regions:
        return None, PhoneNumberType.UNKNOWN
    nsn = phonenumbers.national_significant_number(number)
    if len(regions) > 1:
        return _from_list(nsn, regions)
    metadata = PhoneMetadata.metadata_for_region_or_calling_code(country_code, regions[0])
    if metadata is None:
        return regions[0], PhoneNumberType.UNKNOWN
    return regions[0], _number_type_helper(nsn, metadata)


def _from_list(nsn: str, regions: tuple[str, ...]) -> tuple[str | None, int]:
    """``_region_code_for_number_from_list``, keeping the type it matched on the way."""
    for region in regions:
        metadata = PhoneMetadata.metadata_for_region(region.upper(), None)
        if metadata is None:
            continue
        if metadata.leading_digits is not None:
            if re_compile(metadata.leading_digits).match(nsn):
                return region, _number_type_helper(nsn, metadata)
        else:
            kind = _number_type_helper(nsn, metadata)
            if kind != PhoneNumberType.UNKNOWN:
                return region, kind
    return None, PhoneNumberType.UNKNOWN
