"""vCard 2.1/3.0/4.0 address books: mapping, ids and bad input."""

from __future__ import annotations

import contextlib
import logging
from pathlib import Path

import pytest
from hypothesis import example, given, settings
from hypothesis import strategies as st

from n2net_privacy.contacts.lenient import DroppedValue, LoadReport
from n2net_privacy.contacts.model import ContactPhone
from n2net_privacy.contacts.vcard import VCardAddressBook, parse_vcard, read_vcard
from n2net_privacy.errors import AddressBookError

FIXTURES = Path(__file__).parent / "fixtures"


def card(*lines: str, version: str = "3.0") -> str:
    return "\r\n".join(["BEGIN:VCARD", f"VERSION:{version}", *lines, "END:VCARD", ""])


def test_an_apple_style_3_0_export_maps_names_numbers_labels_and_emails() -> None:
    ann, zoe, unnamed = VCardAddressBook(FIXTURES / "contacts_v3.vcf").snapshot().contacts
    assert ann.id == "8D3F1A2B-0001-4C1E-9A11-ANNLEE000001"
    assert ann.display_name == "Ann Lee"
    assert ann.phones == (
        ContactPhone(number="+1 (215) 555-2671", label="mobile"),
        ContactPhone(number="215.555.0100 x12", label="work"),
    )
    assert ann.emails == ("Ann.Lee@Example.com",)
    assert zoe.display_name == "Zoë Ødegård"
    assert zoe.phones == (ContactPhone(number="020 7946 0958", label="studio"),)
    assert zoe.emails == ("zoe@example.org", "zoe.work@example.org")
    assert unnamed.display_name == ""
    assert unnamed.phones[0].label == "home"


def test_a_4_0_card_with_tel_uris_keeps_the_extension() -> None:
    simon, jose = VCardAddressBook(FIXTURES / "contacts_v4.vcf").snapshot().contacts
    assert simon.id == "urn:uuid:4fbe8971-0bc3-424c-9c26-36c3e1eff6b1"
    assert simon.phones == (
        ContactPhone(number="+1-418-555-1234 ext. 102", label="home"),
        ContactPhone(number="+1-418-262-6501", label="work"),
    )
    assert jose.display_name == "José García"
    assert jose.phones == (ContactPhone(number="+34 612 34 56 78", label="mobile"),)


@pytest.mark.parametrize(
    ("params", "label"),
    [
        ("TEL;TYPE=CELL,VOICE", "mobile"),
        ("TEL;type=pref;type=HOME", "home"),
        ('TEL;TYPE="voice,fax"', "fax"),
        ("TEL;TYPE=VOICE", "other"),
        ("TEL", "other"),
    ],
)
def test_the_first_informative_type_becomes_the_label(params: str, label: str) -> None:
    (contact,) = parse_vcard(card("FN:A", f"{params}:555 0100"))
    assert contact.phones[0].label == label


def test_empty_values_are_skipped() -> None:
    (contact,) = parse_vcard(card("FN:A", "TEL:", "EMAIL:", "TEL:555 0100"))
    assert [p.number for p in contact.phones] == ["555 0100"]
    assert contact.emails == ()


def test_derived_ids_do_not_depend_on_position_and_repeats_are_numbered() -> None:
    ann = card("FN:Ann Lee", "TEL:555 0100")
    bob = card("FN:Bob Stone", "EMAIL:bob@example.com")
    first = {c.display_name: c.id for c in parse_vcard(ann + bob)}
    second = {c.display_name: c.id for c in parse_vcard(bob + card("FN:New") + ann)}
    assert first["Ann Lee"] == second["Ann Lee"]
    assert first["Bob Stone"] == second["Bob Stone"]
    assert first["Ann Lee"].startswith("vcard-")
    twice = parse_vcard(ann + ann)
    assert [c.id for c in twice] == [first["Ann Lee"], first["Ann Lee"] + "-2"]


def test_an_edited_card_without_uid_gets_a_new_id_and_one_with_uid_keeps_it() -> None:
    (before,) = parse_vcard(card("FN:Ann Lee", "TEL:555 0100"))
    (after,) = parse_vcard(card("FN:Ann Lee", "TEL:555 0199"))
    assert before.id != after.id
    (with_uid,) = parse_vcard(card("UID:u-1", "FN:Ann Lee", "TEL:555 0199"))
    assert with_uid.id == "u-1"


def test_an_empty_file_is_an_empty_book() -> None:
    assert parse_vcard("") == ()


@pytest.mark.parametrize(
    ("text", "location", "reason"),
    [
        (card("FN:Ann Lee") + "Ann Lee +1 215 555 2671\r\n", "line 5", "not a vCard content line"),
        ("BEGIN:VCARD\nVERSION:3.0\nFN:Ann Lee\n", "card 0 (line 1)", "never closed"),
        (
            "BEGIN:VCARD\nVERSION:3.0\nFN:Ann Lee\nEND:VCALENDAR\n",
            "card 0 (line 4)",
            "does not match",
        ),
        ("END:VCARD\n", "line 1", "END without a BEGIN"),
        (card("FN:A") + card("TEL:+1 215 555 2671"), "card 1 (line 5)", "missing FN"),
        (card("FN:Ann Lee", version="5.0"), "card 0 (line 2)", "unsupported VERSION"),
        ("BEGIN:VCARD\nFN:Ann Lee\nEND:VCARD\n", "card 0 (line 1)", "unsupported VERSION"),
        ("BEGIN:VCALENDAR\nVERSION:2.0\nEND:VCALENDAR\n", "card 0 (line 1)", "not a vCard"),
        (card("FN:Ann", "TEL;CELL") + card("FN:B"), "card 0 (line 4)", "not a vCard content line"),
        (card("FN:Ann") + "BEGIN:VCARD\r\n" + card("FN:B"), "card 1 (line 5)", "never closed"),
    ],
)
def test_malformed_vcards_name_the_line_or_card_and_not_the_person(
    text: str, location: str, reason: str
) -> None:
    with pytest.raises(AddressBookError) as caught:
        parse_vcard(text, source="book.vcf")
    error = caught.value
    assert error.location == location
    assert reason in str(error)
    for secret in ("Ann", "Lee", "215", "2671"):
        assert secret not in str(error)
    # Nothing that quotes the card may ride along in the traceback either.
    cause = error.__cause__
    if cause is not None:
        assert "Ann" not in str(cause)


def test_a_bad_reload_keeps_the_previous_contents(tmp_path: Path) -> None:
    path = tmp_path / "book.vcf"
    path.write_text(card("UID:a", "FN:A"))
    book = VCardAddressBook(path)
    before = book.snapshot()
    path.write_text(card("UID:b", "FN:B") + card("UID:c"))
    with pytest.raises(AddressBookError, match="card 1"):
        book.reload()
    assert book.snapshot() is before
    path.write_text(card("UID:b", "FN:B"))
    book.reload()
    assert [c.id for c in book.snapshot().contacts] == ["b"]


_line = st.text(
    alphabet=st.characters(exclude_categories=["Cs"], exclude_characters="\r\n"),
    max_size=20,
)


@settings(max_examples=150, deadline=None)
@given(st.lists(_line | st.sampled_from(["BEGIN:VCARD", "END:VCARD", "VERSION:3.0"]), max_size=8))
def test_arbitrary_input_raises_only_address_book_errors(lines: list[str]) -> None:
    with contextlib.suppress(AddressBookError):
        parse_vcard("\n".join(lines))


@settings(max_examples=100, deadline=None)
@given(
    st.text(
        alphabet=st.characters(categories=["L", "N", "Zs"], exclude_characters="\x85\xa0"),
        min_size=1,
        max_size=20,
    ).filter(lambda s: s.strip() == s and s != ""),
    st.from_regex(r"\+?[0-9][0-9 ().-]{5,14}[0-9]", fullmatch=True),
)
def test_any_name_and_number_round_trip(name: str, number: str) -> None:
    (contact,) = parse_vcard(card(f"FN:{name}", f"TEL;TYPE=CELL:{number}"))
    assert contact.display_name == name
    assert contact.phones == (ContactPhone(number=number, label="mobile"),)


def test_reading_cards_logs_no_personal_data(
    caplog: pytest.LogCaptureFixture, tmp_path: Path
) -> None:
    dropping = tmp_path / "Ann Lee.vcf"
    dropping.write_text(card("FN:Ann Lee", "TEL:Ann Lee", "EMAIL:Ann Lee 2671"))
    with caplog.at_level(logging.DEBUG):
        VCardAddressBook(FIXTURES / "contacts_v3.vcf")
        book = VCardAddressBook(dropping)
        for bad in (card("FN:Ann Lee", "TEL;CELL"), card("FN:Ann Lee") + "Ann Lee 2671\n"):
            with pytest.raises(AddressBookError):
                parse_vcard(bad)
    assert "2 unusable values dropped" in caplog.text
    for secret in ("Ann", "Lee", "2671", "example"):
        assert secret not in caplog.text
        assert secret not in repr(book.load_report.dropped)


def _qp(text: str) -> str:
    """Quoted-printable as Android writes it: every byte escaped, soft breaks at 76."""
    encoded = "".join(f"={b:02X}" for b in text.encode("utf-8"))
    lines, line = [], ""
    for i in range(0, len(encoded), 3):
        if len(line) + 3 > 75:
            lines.append(line + "=")
            line = ""
        line += encoded[i : i + 3]
    return "\r\n".join([*lines, line])


_names = st.text(
    alphabet=st.characters(categories=["L", "N", "P", "Zs"], exclude_characters="\x85\xa0"),
    min_size=1,
    max_size=60,
).filter(lambda s: s.strip() == s)


@settings(max_examples=100, deadline=None)
@given(_names)
def test_a_2_1_quoted_printable_name_comes_back_whole(name: str) -> None:
    text = card(f"FN;CHARSET=UTF-8;ENCODING=QUOTED-PRINTABLE:{_qp(name)}", version="2.1")
    (contact,) = parse_vcard(text)
    assert contact.display_name == name


@settings(max_examples=100, deadline=None)
@given(_names)
def test_a_3_0_name_with_escapes_comes_back_whole(name: str) -> None:
    escaped = name.replace("\\", "\\\\").replace(",", "\\,").replace(";", "\\;")
    (contact,) = parse_vcard(card(f"FN:{escaped}"))
    assert contact.display_name == name
    # An unescaped comma (Gmail writes them) is part of the name too, never a cut.
    if "\\" not in name and ";" not in name:
        (raw,) = parse_vcard(card(f"FN:{name}"))
        assert raw.display_name == name


def test_a_2_1_card_without_fn_is_named_from_n() -> None:
    (contact,) = parse_vcard(card("N:Lee;Ann;B.;Dr.;Jr.", "TEL;CELL:555 0100", version="2.1"))
    assert contact.display_name == "Dr. Ann B. Lee Jr."
    assert contact.phones == (ContactPhone(number="555 0100", label="mobile"),)


@pytest.mark.parametrize("newline", ["\r\n", "\n", "\r", "\r\r\n"])
def test_any_line_end_and_folding(newline: str) -> None:
    text = newline.join(
        ["BEGIN:VCARD", "VERSION:3.0", "FN:Ann", " Lee", "TEL;TYPE=CELL:555", "\t0100", "END:VCARD"]
    )
    (contact,) = parse_vcard(text)
    assert (contact.display_name, contact.phones[0].number) == ("AnnLee", "5550100")


# -- values the SDK cannot use are dropped and reported, never fatal -----------------------

NOT_AN_EMAIL = "not an email address (one @, no spaces)"
NOT_A_NUMBER = "not a phone number (digits, spaces, + - ( ) . / and an extension only)"


@pytest.mark.parametrize(
    ("lines", "field", "reason", "line"),
    [
        (["FN:Ann", "TEL:Ann Lee"], "phones", NOT_A_NUMBER, 4),
        (["FN:Ann", "TEL:" + "1" * 65], "phones", "longer than 64 characters", 4),
        (["FN:Ann", "EMAIL:Ann Lee"], "emails", NOT_AN_EMAIL, 4),
        (["FN:Ann", "EMAIL;TYPE=WORK:Ann@Lee@example.com"], "emails", NOT_AN_EMAIL, 4),
        (["FN:Ann\\nLee"], "display_name", "contains a control character", 3),
        (["FN:" + "A" * 513], "display_name", "longer than 512 characters", 3),
        (["FN:Ann", "UID:u\\nv"], "id", "contains a control character", 4),
        (["FN:Ann", "UID:" + "u" * 257], "id", "longer than 256 characters", 4),
        (
            ["FN:Ann", "item1.TEL:555 0100", "item1.X-ABLABEL;ENCODING=QUOTED-PRINTABLE:a=09b"],
            "phones.label",
            "contains a control character",
            4,
        ),
        (["FN:Ann", "EMAIL;ENCODING=QUOTED-PRINTABLE:ann=ZZ@example.com"], "emails",
         "value cannot be decoded (quoted-printable)", 4),
        (["FN:Ann", "EMAIL;CHARSET=X-NOPE;ENCODING=QUOTED-PRINTABLE:a=40b"], "emails",
         "unknown CHARSET", 4),
        (["FN:Ann", "TEL;ENCODING=b:NTU1IDAxMDA="], "phones", "value is not text", 4),
    ],
)
def test_an_unusable_value_is_dropped_and_reported_not_fatal(
    lines: list[str], field: str, reason: str, line: int
) -> None:
    text = card(*lines) + card("FN:Bob", "TEL;CELL:555 0100", "EMAIL:bob@example.com")
    contacts, report = read_vcard(text, source="book.vcf")
    assert len(contacts) == 2
    assert report == LoadReport("book.vcf", "card", 2, (DroppedValue(0, field, reason, line),))
    assert not report.complete
    assert report.counts() == {(field, reason): 1}
    # The other card, and the rest of this one, are untouched.
    assert contacts[1].phones == (ContactPhone(number="555 0100", label="mobile"),)
    assert contacts[1].emails == ("bob@example.com",)
    if field == "phones.label":
        assert contacts[0].phones == (ContactPhone(number="555 0100", label="other"),)
    if field == "id":
        assert contacts[0].id.startswith("vcard-")
    for secret in ("Ann", "Lee", "AAAA", "uuuu", "1111"):
        assert secret not in str(report)


def test_a_card_keeps_its_usable_values_in_order() -> None:
    (contact,), report = read_vcard(card(
        "FN:Ann Lee", "TEL;CELL:555 0100", "TEL;HOME:call me", "TEL;WORK:555 0199",
        "EMAIL:ann", "EMAIL:ann@example.com",
    ))
    assert contact.display_name == "Ann Lee"
    assert contact.phones == (
        ContactPhone(number="555 0100", label="mobile"),
        ContactPhone(number="555 0199", label="work"),
    )
    assert contact.emails == ("ann@example.com",)
    assert [(d.field, d.line) for d in report.dropped] == [("phones", 5), ("emails", 7)]
    assert str(report) == (
        "<memory>: 1 card loaded; 2 values dropped: "
        f"card 0 (line 5): phones: {NOT_A_NUMBER}; card 0 (line 7): emails: {NOT_AN_EMAIL}"
    )


def test_a_repeated_uid_is_replaced_by_a_derived_id_and_reported() -> None:
    contacts, report = read_vcard(
        card("UID:u", "FN:A") + card("UID:u", "FN:B") + card("UID:w", "FN:C")
    )
    assert [c.id for c in contacts][::2] == ["u", "w"]
    assert contacts[1].id.startswith("vcard-") and contacts[1].display_name == "B"
    assert report.dropped == (DroppedValue(1, "id", "duplicate id", 8),)


def test_a_property_the_sdk_does_not_use_is_not_even_decoded() -> None:
    # Android's export has a PHOTO whose base64 is one character short.
    (contact,), report = read_vcard(card("FN:Ann", "PHOTO;ENCODING=b;TYPE=JPEG:AnnLee!"))
    assert contact.display_name == "Ann"
    assert report.complete


def test_the_book_publishes_its_report_with_its_contents(tmp_path: Path) -> None:
    path = tmp_path / "book.vcf"
    path.write_text(card("UID:a", "FN:A", "EMAIL:nope"))
    book = VCardAddressBook(path)
    first = book.load_report
    assert (first.source, first.contacts, first.counts()) == (
        str(path), 1, {("emails", NOT_AN_EMAIL): 1},
    )
    path.write_text(card("UID:a", "FN:A") + card("UID:b"))  # card 1 has no FN: refused
    with pytest.raises(AddressBookError, match="card 1"):
        book.reload()
    assert book.load_report is first  # the report still describes what is published
    path.write_text(card("UID:a", "FN:A", "EMAIL:a@example.com"))
    book.reload()
    assert book.load_report.complete
    assert book.snapshot().contacts[0].emails == ("a@example.com",)


# Any single line of text, as a phone's free-text field may hold.
_free_text = st.text(
    alphabet=st.characters(exclude_categories=["Cs"], exclude_characters="\r\n\x85\u2028\u2029"),
    max_size=40,
)
_FIELDS = {"display_name", "id", "phones", "phones.label", "emails"}


@settings(max_examples=200, deadline=None)
@given(
    st.lists(st.tuples(st.sampled_from(["TEL", "EMAIL", "FN", "UID"]), _free_text), max_size=6),
    st.sampled_from(["2.1", "3.0", "4.0"]),
)
# A lone backslash is given text that decodes to nothing in 3.0/4.0: reported, not lost.
@example([("EMAIL", "\\"), ("TEL", "\\")], "3.0")
@example([("EMAIL", "\\"), ("TEL", "\\")], "4.0")
def test_any_value_in_a_used_field_loads_the_card(
    values: list[tuple[str, str]], version: str
) -> None:
    lines = ["FN:Someone", *(f"{name}:{value}" for name, value in values)]
    contacts, report = read_vcard(card(*lines, version=version) + card("FN:Next"))
    assert [c.display_name for c in contacts][1:] == ["Next"]
    (contact,) = contacts[:1]
    assert {d.field for d in report.dropped} <= _FIELDS
    assert all(d.index == 0 and d.line is not None for d in report.dropped)
    given_phones = [v for n, v in values if n == "TEL" and v.strip()]
    given_emails = [v for n, v in values if n == "EMAIL" and v.strip()]
    dropped = [d.field for d in report.dropped]
    assert len(contact.phones) + dropped.count("phones") == len(given_phones)
    assert len(contact.emails) + dropped.count("emails") == len(given_emails)


_BREAKS = {
    # how a card is broken -> (the break, the line of the card it is reported at)
    "END:VCARD dropped": (lambda lines: lines[:-1], 0),
    "a stray line": (lambda lines: [*lines[:2], "not a property", *lines[2:]], 2),
    "END:VCALENDAR": (lambda lines: [*lines[:-1], "END:VCALENDAR"], -1),
    "no FN": (lambda lines: [lines[0], lines[1], *lines[3:]], 0),
}


@settings(max_examples=100, deadline=None)
@given(
    st.lists(st.lists(_free_text, max_size=3), min_size=1, max_size=5),
    st.data(),
    st.sampled_from(sorted(_BREAKS)),
)
def test_a_structural_break_refuses_the_file_naming_the_first_broken_card(
    emails: list[list[str]], data: st.DataObject, how: str
) -> None:
    # Cards whose values may all be unusable: none of that may mask the break.
    cards = [
        ["BEGIN:VCARD", "VERSION:3.0", f"FN:Card {i}", *(f"EMAIL:{e}" for e in values), "END:VCARD"]
        for i, values in enumerate(emails)
    ]
    broken = data.draw(st.integers(0, len(cards) - 1))
    cut, at = _BREAKS[how]
    cards[broken] = cut(cards[broken])
    starts = [sum(len(c) for c in cards[:i]) + 1 for i in range(len(cards))]
    text = "\r\n".join(line for c in cards for line in c) + "\r\n"
    with pytest.raises(AddressBookError) as caught:
        read_vcard(text)
    if how == "END:VCARD dropped" and broken < len(cards) - 1:
        # The next BEGIN arrives inside the open card: still this card, at its BEGIN.
        assert caught.value.location == f"card {broken} (line {starts[broken]})"
    else:
        line = starts[broken] + (at if at >= 0 else len(cards[broken]) + at)
        assert caught.value.location == f"card {broken} (line {line})"
