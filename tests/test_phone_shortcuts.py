"""The phone shortcuts give phonenumbers' own answers, never a different one.

``normalize`` skips ``phonenumbers.parse`` for ``+1NXXNXXXXXX`` text and
resolves a number's region and type with one metadata match. Both would be
silent privacy and correctness bugs if they ever disagreed with the library
(a number uploaded that the library calls invalid, or a wrong region), so
every NANP area code is checked, and hypothesis searches the shapes around
the fast path and valid numbers of every region.
"""

from __future__ import annotations

import phonenumbers
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from phonenumbers import NumberParseException, PhoneNumberType

from n2net_privacy._phone_shortcuts import parse_nanp_e164, region_and_type
from n2net_privacy.phone import load_phone_metadata, normalize

REGIONS = [None, "US", "CA", "JM", "GB", "DE", "IN"]


def _library_parse(text: str, region: str | None) -> phonenumbers.PhoneNumber | None:
    try:
        return phonenumbers.parse(text, region)
    except NumberParseException:
        return None


def _public_pair(number: phonenumbers.PhoneNumber) -> tuple[str | None, int]:
    return phonenumbers.region_code_for_number(number), phonenumbers.number_type(number)


@pytest.mark.parametrize("first", range(2, 10))
def test_every_nanp_area_code_parses_as_the_library_does(first: int) -> None:
    load_phone_metadata()
    for area, subscriber in (
        (area, subscriber)
        for area in range(first * 100, first * 100 + 100)
        for subscriber in ("2000000", "5550123", "9999999", "0123456")
    ):
        text = f"+1{area}{subscriber}"
        fast = parse_nanp_e164(text)
        assert fast is not None
        for region in REGIONS:
            assert fast == phonenumbers.parse(text, region), (text, region)
        assert region_and_type(fast) == _public_pair(fast), text


@settings(max_examples=500)
@given(
    text=st.one_of(
        st.from_regex(r"\A\+1[0-9]{10}\Z"),
        st.from_regex(r"\A\+?1?[0-9]{8,12}\Z"),
        st.text(alphabet="+1234567890 -()\u0660\uff11", max_size=14),
    ),
    region=st.sampled_from(REGIONS),
)
def test_the_fast_parse_is_taken_only_where_it_equals_parse(text: str, region: str | None) -> None:
    fast = parse_nanp_e164(text)
    if fast is not None:
        assert fast == _library_parse(text, region)
        assert normalize(text, region) == normalize(" " + text, region)  # the slow path agrees


def test_the_fast_parse_declines_every_other_shape() -> None:
    for text in (
        "+11234567890",  # area code starting 1: the national prefix rules apply
        "+10234567890",  # leading zero
        "+1201555012",  # nine digits
        "+120155501234",  # eleven digits
        "+1 2015550123",  # punctuation
        "+1201555012\u0663",  # a non-ASCII digit
        "12015550123",  # no plus
        "+442071838750",  # another country
    ):
        assert parse_nanp_e164(text) is None, text


def _example_numbers() -> list[phonenumbers.PhoneNumber]:
    numbers = []
    for region in sorted(phonenumbers.SUPPORTED_REGIONS):
        for kind in (
            PhoneNumberType.FIXED_LINE,
            PhoneNumberType.MOBILE,
            PhoneNumberType.TOLL_FREE,
            PhoneNumberType.PREMIUM_RATE,
            PhoneNumberType.VOIP,
        ):
            example = phonenumbers.example_number_for_type(region, kind)
            if example is not None:
                numbers.append(example)
    for code in sorted(phonenumbers.COUNTRY_CODES_FOR_NON_GEO_REGIONS):
        example = phonenumbers.example_number_for_non_geo_entity(code)
        if example is not None:
            numbers.append(example)
    return numbers


EXAMPLES = _example_numbers()


def test_region_and_type_equals_the_public_pair_for_every_example_number() -> None:
    load_phone_metadata()
    assert len(EXAMPLES) > 500
    for number in EXAMPLES:
        assert region_and_type(number) == _public_pair(number), number


@settings(max_examples=400)
@given(
    example=st.sampled_from(EXAMPLES),
    tail=st.text(alphabet="0123456789", min_size=1, max_size=4),
)
def test_region_and_type_equals_the_public_pair_near_valid_numbers(
    example: phonenumbers.PhoneNumber, tail: str
) -> None:
    # Valid, invalid, and numbers of a sibling region that shares the calling code.
    nsn = phonenumbers.national_significant_number(example)
    mutated = phonenumbers.PhoneNumber(
        country_code=example.country_code,
        national_number=int(nsn[: max(len(nsn) - len(tail), 1)] + tail),
        italian_leading_zero=example.italian_leading_zero,
    )
    assert region_and_type(mutated) == _public_pair(mutated)


def test_an_unknown_calling_code_has_no_region() -> None:
    number = phonenumbers.PhoneNumber(country_code=999, national_number=1234567)
    assert region_and_type(number) == (None, PhoneNumberType.UNKNOWN)
    assert _public_pair(number) == (None, PhoneNumberType.UNKNOWN)
