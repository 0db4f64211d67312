"""E.164 normalization: the input forms, the refusal reasons, agreement with phonenumbers."""

from __future__ import annotations

import json
import logging
import re
import subprocess
import sys
import textwrap
from collections.abc import Iterator

import phonenumbers
import pytest
from hypothesis import example, given, settings
from hypothesis import strategies as st
from phonenumbers import NumberParseException, PhoneNumberFormat, PhoneNumberType

from n2net_privacy.device import DeviceContext
from n2net_privacy.errors import ConfigurationError, PhoneNumberError
from n2net_privacy.phone import (
    MAX_INPUT_LENGTH,
    NormalizationResult,
    NumberType,
    PhoneNumberErrorReason,
    load_phone_metadata,
    normalize,
    normalize_many,
    to_e164,
)

# Load once up front so the first hypothesis example is not charged for it.
load_phone_metadata()

E164 = re.compile(r"^\+[1-9]\d{1,14}$")
FIVE_DIGITS = re.compile(r"\d{5}")
R = PhoneNumberErrorReason
REGIONS = [None, "US", "GB", "DE", "FR", "IN", "BR", "JP", "AU", "IT", "CN"]


def fullwidth(text: str) -> str:
    """The full-width forms (U+FF01..) East Asian keyboards type, for digits, + and A-Z."""
    return text.translate(
        {c: c + 0xFEE0 for c in map(ord, "0123456789+ABCDEFGHIJKLMNOPQRSTUVWXYZ")}
    )


def arabic_indic(text: str) -> str:
    return text.translate({ord("0") + d: 0x0660 + d for d in range(10)})


def persian(text: str) -> str:
    """Extended Arabic-Indic digits, as Persian and Urdu keyboards type them."""
    return text.translate({ord("0") + d: 0x06F0 + d for d in range(10)})


# --- the input forms real address books hold -------------------------------------------------


@pytest.mark.parametrize(
    ("raw", "region", "e164", "extension"),
    [
        # tel: URIs (RFC 3966), with an extension and with a phone-context
        ("tel:+1-201-555-0123", None, "+12015550123", None),
        ("TEL:+1-201-555-0123;ext=42", None, "+12015550123", "42"),
        ("tel:2015550123;phone-context=+1", None, "+12015550123", None),
        # vanity numbers, in ASCII and in full-width letters
        ("1-800-FLOWERS", "US", "+18003569377", None),
        ("1-800-flowers", "US", "+18003569377", None),
        (fullwidth("1-800-FLOWERS"), "US", "+18003569377", None),
        # international prefixes of the region the number was dialled from
        ("011 44 20 7946 0958", "US", "+442079460958", None),
        ("00 49 30 123456", "DE", "+4930123456", None),
        ("0011 61 2 9374 4000", "AU", "+61293744000", None),
        # the UK's "(0)": the national prefix inside an international number
        ("+44 (0) 20 7946 0958", None, "+442079460958", None),
        ("+44 (0)20 7946 0958", "US", "+442079460958", None),
        # extensions, kept apart from the E.164
        ("+1 201 555 0123 ext. 42", None, "+12015550123", "42"),
        ("+1 201 555 0123 x42", None, "+12015550123", "42"),
        ("+1 201 555 0123;ext=42", None, "+12015550123", "42"),
        ("(201) 555-0123 extension 7", "US", "+12015550123", "7"),
        # full-width, Arabic-Indic and Extended Arabic-Indic (Persian) digits
        (fullwidth("+1 201 555 0123"), None, "+12015550123", None),
        (arabic_indic("+1 201 555 0123"), None, "+12015550123", None),
        (persian("+1 201 555 0123"), None, "+12015550123", None),
        (arabic_indic("020 7946 0958"), "GB", "+442079460958", None),
        # punctuation and whitespace, including what phonenumbers cannot skip alone
        ("(201).555-0123", "US", "+12015550123", None),
        ("201/555 0123", "US", "+12015550123", None),
        ("  +1 201 555 0123 \n", None, "+12015550123", None),
        ("+1\u00a0201\u202f555\u20090123", None, "+12015550123", None),  # odd spaces
        ("\u202a+1 201 555 0123\u202c", None, "+12015550123", None),  # iOS bidi embedding
        ("+1\u200e201\u200e555\u200e0123", None, "+12015550123", None),  # LRM marks
        ("+1\u200b201\u200b5550123", None, "+12015550123", None),  # zero-width spaces
        ("(201)\u2012555\u20140123", "US", "+12015550123", None),  # figure dash, em dash
        # national format needs the region; international ignores it
        ("030 123456", "DE", "+4930123456", None),
        ("+49 30 123456", "US", "+4930123456", None),
        ("+800 1234 5678", None, "+80012345678", None),
    ],
)
def test_input_forms_normalize(raw: str, region: str | None, e164: str, extension: str) -> None:
    result = normalize(raw, region)
    assert result.e164 == e164
    assert result.extension == extension
    assert result.ok and result.reason is None
    assert to_e164(raw, region) == e164


@pytest.mark.parametrize(
    ("raw", "region", "reason"),
    [
        ("911", "US", R.EMERGENCY),
        ("112", "DE", R.EMERGENCY),
        ("999", "GB", R.EMERGENCY),
        ("112", "GB", R.EMERGENCY),
        ("33669", "US", R.SHORT_CODE),
        # the US international prefix is 011, so 00 is not one there
        ("0049 30 123456", "US", R.INVALID),
        ("+49 5352 4344358272", None, R.TOO_LONG),  # valid for phonenumbers, 16 digits
        ("+49 1234 567890123456", None, R.TOO_LONG),  # invalid and over 15 digits
        ("1" * (MAX_INPUT_LENGTH + 1), "US", R.TOO_LONG),
        ("2015550123", None, R.INVALID_COUNTRY_CODE),  # national form, no region: no guess
        ("911", None, R.INVALID_COUNTRY_CODE),
        ("+999 1234567", None, R.INVALID_COUNTRY_CODE),
        ("call me", "US", R.NOT_A_NUMBER),
        ("", "US", R.NOT_A_NUMBER),
        ("011 44", "US", R.TOO_SHORT_AFTER_IDD),
        ("+49 1", None, R.TOO_SHORT),
        ("+1 201 555 012", None, R.INVALID),
        # emergency numbers and short codes exist only when dialled locally
        ("+1 911", "US", R.INVALID),
        ("+1 33669", "US", R.INVALID),
        ("011 1 33669", "US", R.INVALID),
    ],
)
def test_refusal_reasons(raw: str, region: str | None, reason: PhoneNumberErrorReason) -> None:
    result = normalize(raw, region)
    assert result == NormalizationResult(None, None, None, None, reason)
    assert not result.ok
    with pytest.raises(PhoneNumberError) as caught:
        to_e164(raw, region)
    assert caught.value.reason is reason


def test_phonenumbers_alone_would_dress_up_these_numbers() -> None:
    """The reason this module exists: format_number formats what is not a number."""
    for raw, region in [("911", "US"), ("0660123123", "PL")]:
        number = phonenumbers.parse(raw, region)
        assert phonenumbers.format_number(number, PhoneNumberFormat.E164).startswith("+")
        assert not normalize(raw, region).ok


def test_input_at_the_length_cap_is_still_parsed() -> None:
    padded = "+1 201 555 0123".rjust(MAX_INPUT_LENGTH)
    assert to_e164(padded) == "+12015550123"
    assert normalize(padded + " ").reason is R.TOO_LONG


def test_megabytes_of_input_give_a_short_error() -> None:
    with pytest.raises(PhoneNumberError) as caught:
        to_e164("+1 201 555 0123 " * 100_000)
    assert caught.value.reason is R.TOO_LONG
    assert len(str(caught.value)) < 2 * MAX_INPUT_LENGTH


def test_success_carries_type_and_region() -> None:
    assert normalize("+1 800 356 9377") == NormalizationResult(
        "+18003569377", NumberType.TOLL_FREE, "US", None, None
    )
    assert normalize("07400 123456", "GB").number_type is NumberType.MOBILE
    assert normalize("+1 204 234 5678").region == "CA"  # +1 is shared; Canada by area code
    assert normalize("+800 1234 5678").region == "001"  # non-geographic


def test_result_is_frozen() -> None:
    result = normalize("+1 201 555 0123")
    with pytest.raises(AttributeError):
        result.e164 = "+19999999999"  # type: ignore[misc]


# --- regions and the device context ----------------------------------------------------------


def test_region_code_is_case_insensitive_and_checked() -> None:
    assert to_e164("030 123456", "de") == "+4930123456"
    for bad in ["XX", "UK", "Germany", ""]:
        with pytest.raises(ConfigurationError):
            normalize("030 123456", bad)


def test_device_context_supplies_the_region_sim_first() -> None:
    german_sim_us_locale = DeviceContext(sim_region="DE", locale_region="US")
    assert to_e164("030 123456", german_sim_us_locale) == "+4930123456"
    assert to_e164("(201) 555-0123", DeviceContext(locale_region="US")) == "+12015550123"
    # international input never depends on the device
    assert to_e164("+44 20 7946 0958", german_sim_us_locale) == "+442079460958"


def test_device_without_a_usable_region_refuses_national_input() -> None:
    no_sim = DeviceContext(sim_region="", locale_region="419")  # es-419: Latin America
    assert normalize("030 123456", no_sim).reason is R.INVALID_COUNTRY_CODE
    assert to_e164("+49 30 123456", no_sim) == "+4930123456"


# --- batches ---------------------------------------------------------------------------------


def test_normalize_many_keeps_order_and_matches_normalize() -> None:
    raws = ["(201) 555-0123", "911", "+44 20 7946 0958", "junk", "(201) 555-0123"]
    assert list(normalize_many(raws, "US")) == [normalize(raw, "US") for raw in raws]


def test_normalize_many_is_lazy() -> None:
    consumed: list[str] = []

    def numbers() -> Iterator[str]:
        for raw in ["+1 201 555 0123", "+1 201 555 0124", "+1 201 555 0125"]:
            consumed.append(raw)
            yield raw

    stream = normalize_many(numbers())
    assert consumed == []
    assert next(stream).e164 == "+12015550123"
    assert len(consumed) == 1


def test_normalize_many_reuses_cached_results_within_its_bound() -> None:
    a, b = "+1 201 555 0123", "+1 201 555 0124"
    first, _, again = normalize_many([a, b, a])
    assert again is first  # served from the cache, not recomputed
    first, _, again = normalize_many([a, b, a], cache_size=1)
    assert again == first and again is not first  # b evicted a
    first, again = normalize_many([a, a], cache_size=0)
    assert again is not first


def test_normalize_many_checks_arguments_before_the_first_item() -> None:
    with pytest.raises(ConfigurationError):
        normalize_many([], "XX")
    with pytest.raises(ConfigurationError):
        normalize_many([], "US", cache_size=-1)
    results = list(normalize_many(["030 123456"], DeviceContext(sim_region="DE")))
    assert results[0].e164 == "+4930123456"


# --- privacy ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("raw", "region", "redacted"),
    [
        ("+1 201 555 0198 999", None, "+1*********8999"),
        ("(201) 555-019", "US", "2****5019"),
        (fullwidth("+1 201 555 019"), None, "+1*****5019"),
        ("0049 30 1234567", "US", "0********4567"),
    ],
)
def test_errors_and_logs_carry_only_the_redacted_form(
    raw: str, region: str | None, redacted: str, caplog: pytest.LogCaptureFixture
) -> None:
    with caplog.at_level(logging.DEBUG, logger="n2net_privacy"):
        with pytest.raises(PhoneNumberError) as caught:
            to_e164(raw, region)
        list(normalize_many([raw], region))
    error = caught.value
    assert error.redacted == redacted
    assert redacted in str(error)
    assert caplog.messages, "a refused number is logged at DEBUG"
    for text in [str(error), repr(error), *caplog.messages]:
        assert raw not in text
        assert raw.strip("+") not in text
        # the redacted form shows four digits in a row at most
        assert not FIVE_DIGITS.search(text)


# --- properties ------------------------------------------------------------------------------

PHONE_ALPHABET = (
    "0123456789+-() .xX#;=/tel:ext" + fullwidth("0123456789+") + arabic_indic("0123456789")
)


@settings(max_examples=300)
@given(raw=st.text(max_size=300), region=st.sampled_from(REGIONS))
@example(raw="\x00+1 201 555 0123", region=None)
@example(raw="+" * 300, region="US")
def test_arbitrary_text_only_ever_raises_phone_number_error(raw: str, region: str | None) -> None:
    try:
        result = to_e164(raw, region)
    except PhoneNumberError as error:
        assert not FIVE_DIGITS.search(str(error))
    else:
        assert E164.match(result)


@settings(max_examples=300)
@given(raw=st.text(alphabet=PHONE_ALPHABET, max_size=40), region=st.sampled_from(REGIONS))
def test_results_are_e164_and_idempotent(raw: str, region: str | None) -> None:
    try:
        e164 = to_e164(raw, region)
    except PhoneNumberError:
        return
    assert E164.match(e164)
    assert to_e164(e164) == e164
    assert to_e164(e164, "JP") == e164  # a + number means the same from anywhere


def _library_e164(raw: str, region: str | None) -> str | None:
    """phonenumbers' own answer, for numbers it calls valid."""
    try:
        number = phonenumbers.parse(raw, region)
    except NumberParseException:
        return None
    if not phonenumbers.is_valid_number(number):
        return None
    return phonenumbers.format_number(number, PhoneNumberFormat.E164)


@st.composite
def plausible_numbers(draw: st.DrawFn) -> tuple[str, str]:
    """An example number of some region and type, its last digits varied, in any format."""
    region = draw(st.sampled_from(sorted(phonenumbers.SUPPORTED_REGIONS)))
    kind = draw(st.sampled_from([PhoneNumberType.FIXED_LINE, PhoneNumberType.MOBILE]))
    example = phonenumbers.example_number_for_type(region, kind) or phonenumbers.example_number(
        region
    )
    assert example is not None
    nsn = phonenumbers.national_significant_number(example)
    tail = draw(st.text(alphabet="0123456789", min_size=0, max_size=min(4, len(nsn) - 1)))
    number = phonenumbers.PhoneNumber(
        country_code=example.country_code,
        national_number=int(nsn[: len(nsn) - len(tail)] + tail),
        italian_leading_zero=example.italian_leading_zero,
    )
    fmt = draw(
        st.sampled_from(
            [
                PhoneNumberFormat.NATIONAL,
                PhoneNumberFormat.INTERNATIONAL,
                PhoneNumberFormat.E164,
                PhoneNumberFormat.RFC3966,
            ]
        )
    )
    return phonenumbers.format_number(number, fmt), region


@settings(max_examples=400)
@given(case=plausible_numbers())
def test_agrees_with_phonenumbers(case: tuple[str, str]) -> None:
    raw, region = case
    expected = _library_e164(raw, region)
    result = normalize(raw, region)
    if expected is not None and len(expected) <= 16:
        assert result.e164 == expected
        number = phonenumbers.parse(raw, region)
        assert result.region == phonenumbers.region_code_for_number(number)
        assert result.number_type is not None
        assert result.number_type.name == PhoneNumberType.to_string(
            phonenumbers.number_type(number)
        )
    else:
        assert not result.ok


@settings(max_examples=300)
@given(raw=st.text(alphabet="0123456789+-() x", max_size=25), region=st.sampled_from(REGIONS))
def test_ascii_input_is_accepted_exactly_when_phonenumbers_calls_it_valid(
    raw: str, region: str | None
) -> None:
    expected = _library_e164(raw, region)
    if expected is not None and len(expected) > 16:
        expected = None
    assert normalize(raw, region).e164 == expected


# --- vectors from the library's own metadata -------------------------------------------------


def _expected_for(example: phonenumbers.PhoneNumber) -> str | PhoneNumberErrorReason:
    e164 = phonenumbers.format_number(example, PhoneNumberFormat.E164)
    # Valid examples longer than E.164 allows would be refused by design. phonenumbers
    # 9.0.43 has none; this keeps the test honest if a later release adds one.
    return e164 if len(e164) <= 16 else R.TOO_LONG


def test_every_metadata_example_in_national_format_normalizes_to_its_e164() -> None:
    types = [value for value in PhoneNumberType.values() if value != PhoneNumberType.UNKNOWN]
    checked, wrong = 0, []
    for region in sorted(phonenumbers.SUPPORTED_REGIONS):
        for kind in types:
            example = phonenumbers.example_number_for_type(region, kind)
            if example is None:
                continue
            national = phonenumbers.format_number(example, PhoneNumberFormat.NATIONAL)
            result = normalize(national, region)
            got = result.e164 or result.reason
            # Shared numbers (+1 800 toll-free) belong to the calling code's main region.
            owner = phonenumbers.region_code_for_number(example)
            if got != _expected_for(example) or (result.ok and result.region != owner):
                wrong.append((region, PhoneNumberType.to_string(kind), got, result.region))
            checked += 1
    assert checked > 1000
    assert wrong == []


def test_every_non_geographic_example_normalizes() -> None:
    for calling_code in phonenumbers.COUNTRY_CODES_FOR_NON_GEO_REGIONS:
        example = phonenumbers.example_number_for_non_geo_entity(calling_code)
        assert example is not None
        international = phonenumbers.format_number(example, PhoneNumberFormat.INTERNATIONAL)
        result = normalize(international)
        assert result.e164 == _expected_for(example)
        assert result.region == "001"


def test_every_emergency_and_short_code_example_is_refused_as_such() -> None:
    checked = 0
    for region in sorted(phonenumbers.SUPPORTED_SHORT_REGIONS):
        metadata = phonenumbers.PhoneMetadata.short_metadata_for_region(region)
        assert metadata is not None
        if metadata.emergency is not None and metadata.emergency.example_number:
            assert normalize(metadata.emergency.example_number, region).reason is R.EMERGENCY
            checked += 1
        if metadata.short_code is not None and metadata.short_code.example_number:
            code = metadata.short_code.example_number
            # Many regions' example short code is also their emergency number.
            expected = (
                R.EMERGENCY if phonenumbers.is_emergency_number(code, region) else R.SHORT_CODE
            )
            assert normalize(code, region).reason is expected
            checked += 1
    assert checked > 400


# --- thread safety on a cold process ---------------------------------------------------------

_COLD_PROCESS = textwrap.dedent(
    """
    import json, sys, threading

    from n2net_privacy.phone import normalize

    cases = json.load(sys.stdin)
    # Nothing has touched the lazily loaded metadata yet: this process is cold.
    assert not [m for m in sys.modules if m.startswith("phonenumbers.data.region_")]

    def run(offset):
        # Each thread starts at a different region, so first uses collide everywhere.
        rotated = cases[offset:] + cases[:offset]
        barrier.wait()
        return {raw + "|" + str(region): repr(normalize(raw, region)) for raw, region in rotated}

    barrier = threading.Barrier(16)
    outputs, errors = [None] * 16, []

    def worker(index):
        try:
            outputs[index] = run(index * len(cases) // 16)
        except BaseException as exc:
            errors.append(repr(exc))

    threads = [threading.Thread(target=worker, args=(i,)) for i in range(16)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    single = {raw + "|" + str(region): repr(normalize(raw, region)) for raw, region in cases}
    json.dump({"errors": errors, "same": [out == single for out in outputs], "single": single},
              sys.stdout)
    """
)


def test_sixteen_threads_on_a_cold_process_agree_with_one() -> None:
    cases: list[tuple[str, str | None]] = []
    for region in sorted(phonenumbers.SUPPORTED_REGIONS)[::3]:  # 80-odd regions
        for kind in (PhoneNumberType.FIXED_LINE, PhoneNumberType.MOBILE):
            example = phonenumbers.example_number_for_type(region, kind)
            if example is not None:
                cases.append(
                    (phonenumbers.format_number(example, PhoneNumberFormat.NATIONAL), region)
                )
                cases.append((phonenumbers.format_number(example, PhoneNumberFormat.E164), None))
    cases += [("911", "US"), ("112", "DE"), ("33669", "US"), ("junk", "FR")]
    completed = subprocess.run(
        [sys.executable, "-c", _COLD_PROCESS],
        input=json.dumps(cases),
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert completed.returncode == 0, completed.stderr
    report = json.loads(completed.stdout)
    assert report["errors"] == []
    assert report["same"] == [True] * 16
    # and the cold process's answers are this (warm) process's answers
    assert report["single"] == {
        f"{raw}|{region}": repr(normalize(raw, region)) for raw, region in cases
    }
