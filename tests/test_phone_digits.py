"""No input yields a number made of a subset of its digits (issue #15).

The property: the digits of the E.164 result (plus its extension) are exactly
the digits of the input after folding (every Unicode decimal digit to ASCII,
vanity letters to their keypad digit), minus the prefix that dialling drops:
the ``+`` country code, an international prefix (``011``, ``00``) and
country code, or a national prefix (``0``, ``1``, carrier codes).

The one place libphonenumber itself changes digits is a region whose
metadata has a ``national_prefix_transform_rule``: there the library
rewrites the national prefix into different digits (Argentina's mobile
``15`` becomes a leading ``9``; the NANP islands' 7-digit local numbers get
their area code, ``268`` for Antigua; Brazil drops a carrier code; Japan, San
Marino, the Cocos Islands...). :data:`TRANSFORM_REGIONS` lists them, read from
the metadata and pinned here so a phonenumbers upgrade that adds one is seen.
docs/phone.md names them too. Mexico's old mobile ``1`` after ``+52`` is no
longer in the metadata (phonenumbers 8.10+), so it is not among them.
"""

from __future__ import annotations

import re

import phonenumbers
import pytest
from hypothesis import HealthCheck, assume, example, given, settings
from hypothesis import strategies as st
from phonenumbers import CountryCodeSource, PhoneMetadata, PhoneNumberFormat, PhoneNumberType

from n2net_privacy.errors import PhoneNumberError
from n2net_privacy.phone import fold_digits, load_phone_metadata, normalize, to_e164

load_phone_metadata()

#: Regions where libphonenumber rewrites the national prefix into other digits
#: (``national_prefix_transform_rule`` in its metadata), phonenumbers 9.0.
TRANSFORM_REGIONS = frozenset({
    "AG", "AI", "AR", "AS", "BB", "BM", "BR", "BS", "CC", "CX", "DM", "GA", "GD", "GG", "GU",
    "IM", "JE", "JP", "KN", "KY", "LC", "MG", "MP", "MS", "NF", "SM", "SX", "TC", "TT", "VC",
    "VG", "VI",
})

# The zero of a few scripts' digit runs (all Unicode category Nd).
ZEROS = {
    "ascii": 0x30, "arabic-indic": 0x660, "persian": 0x6F0, "devanagari": 0x966,
    "bengali": 0x9E6, "thai": 0xE50, "myanmar": 0x1040, "fullwidth": 0xFF10,
    "math-bold": 0x1D7CE,
}
# Letters that never start an extension marker ("x", "ext", "int", "anexo").
LETTERS = "ABCDFGHIJKLMNOPQRSUVWYZabcdfghijklmnopqrsuvwyz"
REGIONS = ["US", "GB", "DE", "FR", "JP", "IN", "BR", "AR", "MX", "AU", "IT", "AG", "RU", "CN"]
KINDS = [PhoneNumberType.FIXED_LINE, PhoneNumberType.MOBILE]


def test_transform_regions_are_those_of_the_metadata() -> None:
    found = {
        region
        for region in phonenumbers.SUPPORTED_REGIONS
        if PhoneMetadata.metadata_for_region(region).national_prefix_transform_rule
    }
    assert found == TRANSFORM_REGIONS


def test_the_reported_input_keeps_every_digit() -> None:
    # The case: the Arabic-Indic 2 (and the full-width 4) used to vanish and
    # leave a valid but different number, +81433403582. With every digit read, the
    # number is not a valid Japanese one.
    with pytest.raises(PhoneNumberError):
        to_e164("\uFF1433٢H03l8C", "JP")
    assert normalize("\uFF1433٢H03l8C", "JP").e164 is None


@pytest.mark.parametrize(
    ("raw", "region", "e164"),
    [
        ("٠٣٠ ١٢٣٤٥٦", "DE", "+4930123456"),  # Arabic-Indic national form
        ("+४९ ३० १२३४५६", None, "+4930123456"),  # Devanagari
        # full-width
        ("\uFF10\uFF13-\uFF11\uFF12\uFF13\uFF14-\uFF15\uFF16\uFF17\uFF18", "JP", "+81312345678"),
        ("1-800-FLOWERS", "US", "+18003569377"),  # vanity letters still read
        ("1-\uFF18\uFF10\uFF10-FLOWERS", "US", "+18003569377"),  # ...also with folded digits
        ("1-٨٠٠-FLOWERS", "US", "+18003569377"),
    ],
)
def test_folded_digits_read_like_ascii(raw: str, region: str | None, e164: str) -> None:
    assert to_e164(raw, region) == e164


def test_fold_digits_is_free_for_ascii() -> None:
    text = "+1 (201) 555-0123"
    assert fold_digits(text) is text
    assert fold_digits("\U0001d7ce\U0001d7d7 ๑") == "09 1"


def _model_digits(text: str) -> str:
    """The input's digits after folding, as a dialler would read them."""
    folded = fold_digits(text)
    start = re.search(r"[+0-9]", folded)
    body = folded[start.start():] if start else ""
    # libphonenumber reads letters as keypad digits once there are three of them.
    if len(re.findall(r"[A-Za-z]", body)) >= 3:
        body = phonenumbers.convert_alpha_characters_in_number(body)
    return re.sub(r"\D", "", body)


def _dropped_prefix_ok(prefix: str, text: str, region: str | None, e164: str) -> bool:
    """Whether ``prefix`` is what dialling drops before the national number."""
    number = phonenumbers.parse(e164)
    cc = str(number.country_code)
    source = phonenumbers.parse(
        fold_digits(text), region, keep_raw_input=True
    ).country_code_source
    rest = prefix
    if source in (
        CountryCodeSource.FROM_NUMBER_WITH_PLUS_SIGN,
        CountryCodeSource.FROM_NUMBER_WITHOUT_PLUS_SIGN,
    ):
        if not rest.startswith(cc):
            return False
        rest = rest[len(cc):]
    elif source == CountryCodeSource.FROM_NUMBER_WITH_IDD:
        assert region is not None
        idd = re.match(PhoneMetadata.metadata_for_region(region).international_prefix, rest)
        if idd is None or not rest[idd.end():].startswith(cc):
            return False
        rest = rest[idd.end() + len(cc):]
    if not rest:
        return True
    home = phonenumbers.region_code_for_number(number)
    metadata = PhoneMetadata.metadata_for_region_or_calling_code(number.country_code, home)
    pattern = metadata.national_prefix_for_parsing if metadata else None
    return bool(pattern) and re.fullmatch(pattern, rest) is not None


def _render(digits_text: str, scripts: list[str], letters: list[tuple[int, str]]) -> str:
    out = []
    digit_index = 0
    for ch in digits_text:
        if ch.isdigit():
            zero = ZEROS[scripts[digit_index % len(scripts)]]
            out.append(chr(zero + int(ch)))
            digit_index += 1
        else:
            out.append(ch)
    for position, letter in sorted(letters, reverse=True):
        spot = 1 + position % max(len(out), 1)  # never in front of the number
        out.insert(spot, letter)
    return "".join(out)


@st.composite
def dialled(draw: st.DrawFn) -> tuple[str, str | None]:
    region = draw(st.sampled_from(REGIONS))
    example_number = phonenumbers.example_number_for_type(region, draw(st.sampled_from(KINDS)))
    if example_number is None or draw(st.integers(0, 4)) == 0:
        base = draw(st.from_regex(r"\+?[0-9]{4,15}", fullmatch=True))
    else:
        fmt = draw(st.sampled_from([
            PhoneNumberFormat.NATIONAL, PhoneNumberFormat.INTERNATIONAL, PhoneNumberFormat.E164,
        ]))
        base = phonenumbers.format_number(example_number, fmt)
        if draw(st.booleans()):  # mutate one digit: still often valid
            spots = [i for i, c in enumerate(base) if c.isdigit()]
            i = draw(st.sampled_from(spots))
            base = base[:i] + str(draw(st.integers(0, 9))) + base[i + 1:]
    scripts = draw(st.lists(st.sampled_from(sorted(ZEROS)), min_size=1, max_size=3))
    letters = draw(st.lists(
        st.tuples(st.integers(0, 40), st.sampled_from(LETTERS)), max_size=4,
    ))
    return _render(base, scripts, letters), region


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(dialled())
@example(("\uFF1433٢H03l8C", "JP"))
@example(("011 ٤٤ ٢٠ ٧٩٤٦ ٠٩٥٨", "US"))
@example(("+44 (0) 20 7946 0958", None))
def test_result_digits_are_exactly_the_input_digits(case: tuple[str, str | None]) -> None:
    text, region = case
    result = normalize(text, region)
    assume(result.e164 is not None)
    assert result.e164 is not None
    number = phonenumbers.parse(result.e164)
    kept = phonenumbers.national_significant_number(number) + (result.extension or "")
    digits = _model_digits(text)
    if digits.endswith(kept) and _dropped_prefix_ok(
        digits[: len(digits) - len(kept)], text, region, result.e164
    ):
        return
    # The documented exception: libphonenumber's own national-prefix transform.
    home = phonenumbers.region_code_for_number(number)
    assert home in TRANSFORM_REGIONS or region in TRANSFORM_REGIONS, (
        f"{result.e164} is not the digits of the input ({digits}) minus a dropped prefix"
    )


@pytest.mark.parametrize(
    ("raw", "region", "e164"),
    [
        # Argentina: national 0 + area 11 + mobile 15 becomes +54 9 11...: digits change.
        ("011 15 2345-6789", "AR", "+5491123456789"),
        # Antigua: a 7-digit local number gets its area code 268 added.
        ("460 1234", "AG", "+12684601234"),
    ],
)
def test_libphonenumber_transforms_are_the_documented_exceptions(
    raw: str, region: str, e164: str
) -> None:
    assert to_e164(raw, region) == e164
    digits = _model_digits(raw)
    national = phonenumbers.national_significant_number(phonenumbers.parse(e164))
    assert not digits.endswith(national)  # the library changed digits
    assert region in TRANSFORM_REGIONS
