"""PII detectors: every form of a book's email, name and number is found; little else is."""

from __future__ import annotations

import base64
import hashlib
import random
import re
import string
import uuid
from urllib.parse import quote, quote_plus

import phonenumbers
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from n2net_privacy.audit.decoding import Encoding
from n2net_privacy.audit.detectors import (
    AddressBookPii,
    PiiDetector,
    PiiKind,
    fold,
    strip_accents,
)
from n2net_privacy.contacts.model import Contact, ContactPhone
from n2net_privacy.testing.synthetic import synthetic_address_book

EMAIL = "Zoe.Odegaard+news@Example.co.uk"
PII = AddressBookPii(
    names=("Zoë Ødegaard", "Li Na", "Piet van der Berg", "Łukasz Nowak"),
    emails=(EMAIL, "ann@example.com"),
    numbers=("+44 7400 123456", "(201) 555-0123"),
)
DETECTOR = PiiDetector(PII, region="US")


def kinds(text: str) -> set[PiiKind]:
    return {m.kind for m in DETECTOR.scan(text)}


def b64(text: str, *, urlsafe: bool = False, pad: bool = True) -> str:
    encoder = base64.urlsafe_b64encode if urlsafe else base64.b64encode
    out = encoder(text.encode()).decode()
    return out if pad else out.rstrip("=")


# --- emails ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "encoding"),
    [
        ("mail=zoe.odegaard+news@example.co.uk;", Encoding.PLAIN),
        ("ZOE.ODEGAARD+NEWS@EXAMPLE.CO.UK", Encoding.PLAIN),
        (quote(EMAIL, safe=""), Encoding.PERCENT),
        (quote(quote(EMAIL, safe=""), safe=""), Encoding.PERCENT),
        ("to=" + quote_plus(EMAIL), Encoding.PERCENT),
        (b64(EMAIL), Encoding.BASE64),
        (b64("user=" + EMAIL, urlsafe=True, pad=False), Encoding.BASE64),
        ("/v1/" + b64("x" + EMAIL, pad=False), Encoding.BASE64),
        ("Bearer " + b64(b64(EMAIL)), Encoding.BASE64),
        (quote(b64("ab" + EMAIL), safe=""), Encoding.BASE64),
        ("x=" + ("to:" + EMAIL).encode().hex(), Encoding.HEX),
    ],
)
def test_an_email_is_found_in_every_encoding(text: str, encoding: Encoding) -> None:
    matches = [m for m in DETECTOR.scan(text) if m.kind is PiiKind.EMAIL]
    assert [m.encoding for m in matches] == [encoding]
    assert matches[0].redacted == "z***@***"


@settings(max_examples=150, deadline=None)
@given(
    email=st.emails(),
    prefix=st.text(alphabet=string.ascii_letters + string.digits + " =:;", max_size=8),
    how=st.sampled_from(["plain", "upper", "percent", "base64", "urlsafe"]),
)
def test_any_email_is_found_at_any_offset(email: str, prefix: str, how: str) -> None:
    detector = PiiDetector(AddressBookPii(emails=(email,)))
    value = prefix + email
    text = {
        "plain": value,
        "upper": value.upper(),
        "percent": quote(value, safe=""),
        "base64": b64(value),
        "urlsafe": b64(value, urlsafe=True, pad=False),
    }[how]
    assert PiiKind.EMAIL in {m.kind for m in detector.scan(f"x {text} y")}


def test_a_different_email_is_not_found() -> None:
    detector = PiiDetector(AddressBookPii(emails=PII.emails))
    text = "zoe.odegaardx@example.co.uk bnn@example.com ann@example.co ann@"
    assert detector.scan(text) == ()


def test_a_local_part_of_four_or_more_characters_is_found_alone() -> None:
    detector = PiiDetector(AddressBookPii(emails=PII.emails))
    # Zoe's "+news" tag dropped, the domain too: still her address.
    assert [m.kind for m in detector.scan("user=zoe.odegaard;")] == [PiiKind.EMAIL]
    assert detector.scan("user=ann;") == ()  # "ann" is too short to mean anything alone


@pytest.mark.parametrize("algorithm", ["md5", "sha256"])
def test_email_hashes_are_found_in_any_case(algorithm: str) -> None:
    digest = hashlib.new(algorithm, EMAIL.strip().lower().encode()).hexdigest()
    for text in (digest, digest.upper(), f"/avatar/{digest}?s=80"):
        matches = DETECTOR.scan(text)
        assert [(m.kind, m.encoding) for m in matches] == [(PiiKind.EMAIL_HASH, algorithm)]
    assert kinds(digest + "0") == set()  # a longer hex run is some other value


@pytest.mark.parametrize("algorithm", ["md5", "sha1", "sha256"])
@pytest.mark.parametrize("urlsafe", [False, True])
@pytest.mark.parametrize(
    "frame", ["/avatar/{}?s=80", "/avatar/{}", "/v1/u/{}/x", "id={}", "avatar_{}", "+{}"]
)
def test_a_base64_email_digest_is_found_after_a_path_separator(
    algorithm: str, urlsafe: bool, frame: str
) -> None:
    """A base64 digest inside a path (after ``/``, which is itself a base64 letter) was
    read as part of one longer run and missed; every start after a separator is tried."""
    raw = hashlib.new(algorithm, EMAIL.strip().lower().encode()).digest()
    encoder = base64.urlsafe_b64encode if urlsafe else base64.b64encode
    for digest in (encoder(raw).decode(), encoder(raw).decode().rstrip("=")):
        matches = DETECTOR.scan(frame.format(digest))
        assert [(m.kind, m.encoding) for m in matches] == [(PiiKind.EMAIL_HASH, algorithm)]


# --- names ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    "text",
    [
        "Zoë Ødegaard", "zoe odegaard", "ZOË ØDEGAARD", "hi Zoe!", "odegaard,", "Zoe_Odegaard",
        "ZOE%20ODEGAARD", "Zo%C3%AB", "name=Zo%C3%AB+%C3%98degaard", "li na", "LI  NA",
        "lukasz", "Łukasz", "from: Berg", b64("name=Zoë Ødegaard"),
        "zoë".upper(), "Zoe\u0308",  # decomposed diaeresis
    ],
)
def test_a_name_is_found_folded_and_in_any_case(text: str) -> None:
    assert kinds(text) == {PiiKind.NAME}


@pytest.mark.parametrize(
    "text",
    ["zoey", "azoe", "li", "na", "van der", "the van", "lina", "nowakowski", "ber g"],
)
def test_name_matching_respects_word_boundaries_and_skips_particles(text: str) -> None:
    assert kinds(text) == set()


def test_fold_and_strip_accents() -> None:
    assert strip_accents("Zoë Ødegaard Łukasz Nguyễn") == "Zoe Odegaard Lukasz Nguyen"
    assert fold("ZOË Straße") == "zoe strasse"
    assert fold("plain ASCII") == "plain ascii"


# --- numbers -------------------------------------------------------------------------


@pytest.mark.parametrize(
    "text",
    [
        "+447400123456", "+44 7400 123456", "07400 123456", "0044 7400 123456",
        "tel:+44-7400-123456", "(07400) 123.456", "%2B44%207400%20123456",
        b64("to=+447400123456"), "n=4474001234560",
        "+1 201-555-0123", "2015550123", "011 1 201 555 0123", "1 (201) 555-0123",
    ],
)
def test_a_number_is_found_in_any_form(text: str) -> None:
    assert kinds(text) == {PiiKind.PHONE}


@settings(max_examples=150, deadline=None)
@given(
    number=st.sampled_from(["+447400123456", "+12015550123", "+33612345678", "+919876543210"]),
    separators=st.lists(st.sampled_from(["", " ", "-", ".", "(", ")", "/", " - "]),
                        min_size=20, max_size=20),
    international=st.booleans(),
)
def test_a_number_with_any_punctuation_is_found(
    number: str, separators: list[str], international: bool
) -> None:
    detector = PiiDetector(AddressBookPii(numbers=(number,)))
    parsed = phonenumbers.parse(number)
    digits = (str(parsed.country_code) if international else "") + str(
        phonenumbers.national_significant_number(parsed)
    )
    text = "".join(d + s for d, s in zip(digits, separators, strict=False))
    assert [m.kind for m in detector.scan(f"call {text} now")] == [PiiKind.PHONE]


@pytest.mark.parametrize("text", ["+447400123457", "201-555-0124", "12345", "2024-06-01T12:00:00Z"])
def test_other_numbers_are_not_found(text: str) -> None:
    assert kinds(text) == set()


def test_a_nationally_stored_number_without_region_is_still_found_in_e164() -> None:
    detector = PiiDetector(AddressBookPii(numbers=("020 7946 0018",)))
    assert [m.kind for m in detector.scan("+442079460018")] == [PiiKind.PHONE]


def test_phones_can_be_skipped() -> None:
    assert DETECTOR.scan("+447400123456", phones=False) == ()


# --- the book and the results --------------------------------------------------------


def test_from_contacts_reads_names_emails_and_numbers() -> None:
    contact = Contact(
        id="c", display_name="Ann Lee", emails=("a@example.com",),
        phones=(ContactPhone(number="+12015550123"), ContactPhone(number="+447400123456")),
    )
    blank = Contact(id="d")
    assert AddressBookPii.from_contacts([contact, blank]) == AddressBookPii(
        names=("Ann Lee",), emails=("a@example.com",),
        numbers=("+12015550123", "+447400123456"),
    )


def test_matches_carry_only_redacted_forms() -> None:
    text = f"{EMAIL} Zoë Ødegaard +447400123456"
    shown = " ".join(f"{m!r} {m.describe()}" for m in DETECTOR.scan(text)).lower()
    assert {m.kind for m in DETECTOR.scan(text)} == {PiiKind.EMAIL, PiiKind.NAME, PiiKind.PHONE}
    for raw in ("zoe.odegaard", "odegaard", "ødegaard", "7400123456", "123456"):
        assert raw not in shown


def test_two_emails_of_one_initial_are_two_matches() -> None:
    detector = PiiDetector(AddressBookPii(emails=("ann@example.com", "amy@example.com")))
    assert len(detector.scan("ann@example.com amy@example.com")) == 2


def test_empty_book_finds_nothing() -> None:
    detector = PiiDetector(AddressBookPii())
    assert detector.empty
    assert detector.scan("ann@example.com +12015550123") == ()


def test_redact_path_masks_only_the_segments_with_pii() -> None:
    assert DETECTOR.redact_path("/u/Zoe Odegaard/avatar") == "/u/[name]/avatar"
    assert DETECTOR.redact_path(f"/{EMAIL}/+12015550123") == "/[email, name]/[phone]"
    digest = hashlib.md5(EMAIL.lower().encode()).hexdigest()
    assert DETECTOR.redact_path(f"/avatar/{digest}") == "/avatar/[email hash]"
    assert DETECTOR.redact_path("/v1/events") == "/v1/events"


def test_a_realistic_book_does_not_flag_ordinary_traffic() -> None:
    book = synthetic_address_book(300, seed=5)
    detector = PiiDetector(AddressBookPii.from_contacts(book))
    rng = random.Random(9)
    alphabet = string.ascii_letters + string.digits
    samples = [
        "n2net-privacy/0.1.0", "application/n2net-sealed", "gzip, deflate", "keep-alive",
        "s=80&d=404&r=g", "2024-06-01T12:00:00Z", "application/json; charset=utf-8",
    ]
    samples += [str(uuid.UUID(int=rng.getrandbits(128))) for _ in range(300)]
    samples += ["Bearer " + "".join(rng.choice(alphabet) for _ in range(40)) for _ in range(300)]
    samples += [base64.b64encode(rng.randbytes(48)).decode() for _ in range(300)]
    samples += [hashlib.md5(rng.randbytes(8)).hexdigest() for _ in range(300)]
    flagged = [s for s in samples if detector.scan(s)]
    assert flagged == []


def _digest_text(email: str, encode: str) -> str:
    raw = hashlib.md5(email.encode()).digest()
    if encode == "b64":
        return base64.urlsafe_b64encode(raw).decode().rstrip("=")
    return raw.hex().upper() if encode == "HEX" else raw.hex()


def _digest_holding_a_number(encode: str) -> tuple[str, str, str]:
    """An email whose digest, read as the docs say (digits, at most two others between),
    holds a 6-digit number: (email, digest text, number)."""
    for n in range(10_000):
        email = f"user{n}@example.com"
        text = _digest_text(email, encode)
        for run in re.findall(r"[0-9](?:[^0-9]{0,2}[0-9])*", text):
            digits = re.sub(r"[^0-9]", "", run)
            if len(digits) >= 6 and digits[0] != "0":
                return email, text, digits[:6]
    raise AssertionError("no digest with a 6-digit run")  # pragma: no cover


@pytest.mark.parametrize("encode", ["hex", "HEX", "b64"])
def test_the_digits_of_a_known_email_digest_are_not_a_number(encode: str) -> None:
    """A Gravatar id's digits belong to the hash: a 20,000-contact book once matched two."""
    email, text, number = _digest_holding_a_number(encode)
    alone = PiiDetector(AddressBookPii(numbers=(number,)))
    assert PiiKind.PHONE in {m.kind for m in alone.scan(f"?id={text}")}  # the trap
    detector = PiiDetector(AddressBookPii(emails=(email,), numbers=(number,)))
    assert {m.kind for m in detector.scan(f"?id={text}")} == {PiiKind.EMAIL_HASH}
    assert PiiKind.PHONE in {m.kind for m in detector.scan(f"?id={text}&n={number}")}


# The character class the scan replaced (compiling it cost every importing app 2 ms).
_UNSPACED_CLASS = re.compile(
    "[\u0e00-\u0eff\u1000-\u109f\u3040-\u30ff\u3400-\u4dbf\u4e00-\u9fff\uac00-\ud7af\uf900-\ufaff]"
)


@given(st.text(alphabet=st.characters(max_codepoint=0xFFFF), max_size=12))
def test_the_unspaced_script_scan_finds_what_the_character_class_found(text: str) -> None:
    from n2net_privacy.audit.detectors import _has_unspaced_script

    assert _has_unspaced_script(text) == bool(_UNSPACED_CLASS.search(text))


@pytest.mark.parametrize(("name", "unspaced"), [
    ("山田太郎", True), ("김민준", True), ("สมชาย", True), ("アリス", True), ("ꯀ", False),
    ("José Álvarez", False), ("Zoë", False), ("ｱﾘｽ", False), ("\u0dff\u0f00", False),
    ("\u0e00", True), ("\u0eff", True), ("\ufaff", True), ("\ufb00", False),
])
def test_the_unspaced_scripts_and_their_edges(name: str, unspaced: bool) -> None:
    from n2net_privacy.audit.detectors import _has_unspaced_script

    assert _has_unspaced_script(name) is unspaced
