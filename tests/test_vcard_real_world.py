"""Ten real vCard exports written by other software (issues #15 and #21).

The files live in ../shared/data/vcards (see SOURCES.txt there for where each
comes from and its licence); they are read in place, never copied into this
repository. Each loads with the right card count, names and numbers; a value
the SDK cannot use (Android's EMAIL holding a name) is dropped and reported,
never fatal. Truncated and structurally corrupted copies, made here in
memory, must raise, naming the first bad card, and load nothing.
"""

from __future__ import annotations

import random
import re
from pathlib import Path

import pytest

from n2net_privacy.contacts.lenient import DroppedValue
from n2net_privacy.contacts.model import ContactPhone
from n2net_privacy.contacts.vcard import VCardAddressBook, read_vcard
from n2net_privacy.errors import AddressBookError

VCARDS = Path(__file__).resolve().parents[2] / "shared" / "data" / "vcards"
if not VCARDS.is_dir():  # the worktree layout: /work/wt/<branch> next to /work/shared
    VCARDS = Path(__file__).resolve().parents[3] / "shared" / "data" / "vcards"

pytestmark = pytest.mark.skipif(
    not VCARDS.is_dir(),
    reason=f"real-world vCards not found at ../shared/data/vcards ({VCARDS}); "
    "they are third-party test data and are not in this repository",
)

P = ContactPhone
N_TILDE = "\u00d1"

# file -> [(display name, [(number, label), ...]), ...] in card order.
EXPECTED: dict[str, list[tuple[str, list[tuple[str, str]]]]] = {
    "aosp-v30_ios_613_multiline.vcf": [("Bob Smith", [("(650) 555-1212", "mobile")])],
    "aosp-v40_sort_as.vcf": [("\u5b89\u85e4 \u30ed\u30a4\u30c9", [])],
    "ezvcard-John_Doe_GMAIL.vcf": [
        # The unescaped comma is part of the name: kept whole, not cut at the comma.
        ("Mr. John Richter, James Doe Sr.", [("905-555-1234", "mobile"), ("905-666-1234", "home")]),
    ],
    "ezvcard-John_Doe_IPHONE.vcf": [
        ("Mr. John Richter James Doe Sr.", [
            ("905-555-1234", "mobile"), ("905-666-1234", "home"), ("905-777-1234", "work"),
            ("905-888-1234", "home"), ("905-999-1234", "work"), ("905-111-1234", "pager"),
            ("905-222-1234", "assistantphone"),
        ]),
    ],
    "ezvcard-John_Doe_LOTUS_NOTES.vcf": [  # PROFILE:VCard (RFC 2426 section 2.1.3) is fine
        ("Mr. Doe John I Johny", [("+1 (212) 204-34456", "mobile"), ("00-1-212-555-7777", "work")]),
    ],
    "ezvcard-John_Doe_MAC_ADDRESS_BOOK.vcf": [
        ("Mr. John Richter,James Doe Sr.", [
            ("905-777-1234", "work"), ("905-666-1234", "home"), ("905-555-1234", "mobile"),
            ("905-888-1234", "home"), ("905-999-1234", "work"), ("905-111-1234", "pager"),
            ("905-222-1234", "assistantphone"),
        ]),
    ],
    "ezvcard-outlook-2007.vcf": [  # vCard 2.1, QUOTED-PRINTABLE NOTE, empty BASE64 KEY
        ("Mr. Michael Angstadt Jr.", [
            ("(111) 555-1111", "work"), ("(111) 555-2222", "home"), ("(111) 555-4444", "mobile"),
            ("(111) 555-3333", "work"),
        ]),
    ],
    "ezvcard-rfc2426-example.vcf": [
        ("Frank Dawson", [("+1-919-676-9515", "msg"), ("+1-919-676-9564", "fax")]),
        ("Tim Howes", [("+1-415-937-3419", "msg"), ("+1-415-528-4164", "fax")]),
    ],
    "ezvcard-rfc6350-example.vcf": [
        ("Simon Perreault", [("+1-418-656-9254 ext. 102", "work"), ("+1-418-262-6501", "work")]),
    ],
}

ANDROID = "ezvcard-John_Doe_ANDROID.vcf"
EXPECTED[ANDROID] = [  # vCard 2.1: QUOTED-PRINTABLE, CHARSET=UTF-8, soft breaks, no FN
    ("", []),
    ("", []),
    (" ".join([N_TILDE] * 5), [("123456789", "mobile")]),
    (" ".join([N_TILDE] * 11), [
        ("123456", "mobile"), ("234567", "home"), ("3456789", "mobile"), ("45678901", "home"),
    ]),
    (" ".join([N_TILDE] * 4), [("123456", "mobile"), ("123456", "work"), ("123456", "work")]),
    (N_TILDE * 4, [("55556666", "mobile")]),
]

# file -> what its load report lists; every other file loads complete.
DROPPED = {
    # Card 4's second EMAIL decodes to fourteen letters N-with-tilde: the platforms keep
    # EMAIL as free text. The value is dropped; the card keeps its first address.
    ANDROID: [DroppedValue(4, "emails", "not an email address (one @, no spaces)", 44)],
}


def test_every_file_is_accounted_for() -> None:
    assert sorted(p.name for p in VCARDS.glob("*.vcf")) == sorted(EXPECTED)


@pytest.mark.parametrize("path", sorted(VCARDS.glob("*.vcf")), ids=lambda p: p.name)
def test_every_real_world_export_loads_and_reports_what_it_dropped(path: Path) -> None:
    # Whatever the directory holds, including files added after this test was written.
    book = VCardAddressBook(path)
    contacts = book.snapshot().contacts
    report = book.load_report
    assert report.source == str(path) and report.unit == "card"
    assert report.contacts == len(contacts) == len(_card_spans(path.read_bytes().decode("utf-8")))
    assert len({c.id for c in contacts}) == len(contacts)
    assert list(report.dropped) == DROPPED.get(path.name, [])
    assert N_TILDE not in str(report) and "company.com" not in str(report)


@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_real_world_export_loads_whole(name: str) -> None:
    contacts = VCardAddressBook(VCARDS / name).snapshot().contacts
    got = [(c.display_name, [(p.number, p.label) for p in c.phones]) for c in contacts]
    assert got == EXPECTED[name]


def test_the_android_export_keeps_every_usable_email() -> None:
    contacts = VCardAddressBook(VCARDS / ANDROID).snapshot().contacts
    assert [c.emails for c in contacts] == [
        ("john.doe@company.com",), ("jane.doe@company.com",), (), (),
        ("bob@company.com",), ("henry@company.com",),
    ]


def test_a_refused_file_loads_nothing_and_a_reload_keeps_the_old_book(tmp_path: Path) -> None:
    path = tmp_path / "book.vcf"
    path.write_bytes((VCARDS / "ezvcard-rfc2426-example.vcf").read_bytes())
    book = VCardAddressBook(path)
    before, report = book.snapshot(), book.load_report
    text = (VCARDS / ANDROID).read_bytes().decode("utf-8")
    _, end = _card_spans(text)[4]
    path.write_text(text[:end] + text[end + len("END:VCARD") :], encoding="utf-8")  # no END
    with pytest.raises(AddressBookError, match="card 4"):
        book.reload()
    assert book.snapshot() is before and book.load_report is report


# -- truncated and corrupted copies, made here -------------------------------------------

LOADABLE = sorted(EXPECTED)


def _card_spans(text: str) -> list[tuple[int, int]]:
    """(start of BEGIN, start of END) offsets of every card."""
    begins = [m.start() for m in re.finditer(r"(?im)^BEGIN:VCARD", text)]
    ends = [m.start() for m in re.finditer(r"(?im)^END:VCARD", text)]
    return list(zip(begins, ends, strict=True))


@pytest.mark.parametrize("name", LOADABLE)
def test_truncated_copies_raise_and_load_nothing(name: str, tmp_path: Path) -> None:
    text = (VCARDS / name).read_bytes().decode("utf-8")
    rng = random.Random(name)
    begin, end = _card_spans(text)[-1]
    # Cut inside the last card: after its BEGIN line, before its END line is complete.
    cuts = {end + 4, end + 7, begin + len("BEGIN:VCARD") + 1}
    cuts |= {rng.randrange(begin + len("BEGIN:VCARD") + 1, end + 8) for _ in range(6)}
    path = tmp_path / "cut.vcf"
    for cut in sorted(cuts):
        path.write_text(text[:cut], encoding="utf-8")
        with pytest.raises(AddressBookError) as caught:
            VCardAddressBook(path)
        last = len(_card_spans(text)) - 1
        assert f"card {last}" in str(caught.value.location), cut


def _corruptions(text: str) -> list[tuple[str, str]]:
    """(what, corrupted text) for one file: each must be refused.

    ``text`` is the file decoded as is: read_text() would turn iOS's CR CR LF into
    blank lines, breaking the folding, and every corruption would pass unseen.
    """
    lines = text.splitlines(keepends=True)
    out = []
    fn = next(i for i, line in enumerate(lines) if line.upper().startswith("FN"))
    out.append(("FN loses its colon", "".join(
        [*lines[:fn], lines[fn].replace(":", " ", 1), *lines[fn + 1:]]
    )))
    end = next(i for i, line in enumerate(lines) if line.upper().startswith("END:VCARD"))
    out.append(("first END dropped", "".join([*lines[:end], *lines[end + 1:]])))
    out.append(("first END renamed", "".join(
        [*lines[:end], "END:VCALENDAR\r\n", *lines[end + 1:]]
    )))
    out.append(("VERSION garbled", re.sub(r"(?m)^VERSION:[0-9.]+", "VERSION:9.9", text, count=1)))
    out.append(("a stray line in a card", "".join(
        [*lines[: fn + 1], "this is not a property\r\n", *lines[fn + 1:]]
    )))
    return out


@pytest.mark.parametrize("name", LOADABLE)
def test_corrupted_copies_raise_and_load_nothing(name: str, tmp_path: Path) -> None:
    text = (VCARDS / name).read_bytes().decode("utf-8")
    path = tmp_path / "bad.vcf"
    for what, corrupted in _corruptions(text):
        path.write_text(corrupted, encoding="utf-8")
        with pytest.raises(AddressBookError) as caught:
            VCardAddressBook(path)
        assert caught.value.location is not None, what
        assert re.fullmatch(r"card \d+ \(line \d+\)|line \d+", caught.value.location), what


@pytest.mark.parametrize("name", LOADABLE)
def test_a_tel_that_is_not_a_number_is_dropped_from_a_real_export(name: str) -> None:
    text = (VCARDS / name).read_bytes().decode("utf-8")
    # ':' is not base64, so this cannot match inside a photo.
    tel = re.search(r"(?m)^((?:[A-Za-z0-9-]+\.)?TEL(?:;[^:\r\n]*)?):[^\r\n]*", text)
    if tel is None:
        pytest.skip("no TEL in this file")
    line = len(re.split(r"\r*\n|\r", text[: tel.start()]))
    changed = text[: tel.start()] + tel.group(1) + ":call me maybe" + text[tel.end() :]
    contacts, report = read_vcard(changed)
    original, original_report = read_vcard(text)
    assert len(contacts) == len(original)
    (drop,) = [d for d in report.dropped if d not in original_report.dropped]
    assert (drop.field, drop.line) == ("phones", line)
    assert len(contacts[drop.index].phones) == len(original[drop.index].phones) - 1
    assert "call me" not in str(report)


def test_a_corrupt_quoted_printable_name_is_dropped_not_cut() -> None:
    card = (
        "BEGIN:VCARD\r\nVERSION:2.1\r\n"
        "FN;CHARSET=UTF-8;ENCODING=QUOTED-PRINTABLE:=C3=91=ZZ\r\nEND:VCARD\r\n"
    )
    (contact,), report = read_vcard(card)
    assert contact.display_name == ""
    assert report.dropped == (
        DroppedValue(0, "display_name", "value cannot be decoded (quoted-printable)", 3),
    )
    latin = card.replace("=C3=91=ZZ", "=D1=20A").replace("UTF-8", "ISO-8859-1")
    (contact,), report = read_vcard(latin)
    assert contact.display_name == N_TILDE + " A" and report.complete
    broken = card.replace("=C3=91=ZZ", "=D1=20A")  # Latin-1 bytes declared as UTF-8
    (contact,), report = read_vcard(broken)
    assert contact.display_name == ""
    assert [d.reason for d in report.dropped] == ["value is not valid text in its CHARSET"]


def test_the_first_bad_card_is_named_even_when_a_later_one_is_worse() -> None:
    bad_version = "BEGIN:VCARD\r\nVERSION:9.0\r\nFN:A\r\nEND:VCARD\r\n"
    stray = "BEGIN:VCARD\r\nVERSION:3.0\r\nFN:B\r\nnot a property\r\nEND:VCARD\r\n"
    unclosed = "BEGIN:VCARD\r\nVERSION:3.0\r\nFN:C\r\n"
    with pytest.raises(AddressBookError) as caught:
        read_vcard(bad_version + stray + unclosed)
    assert caught.value.location == "card 0 (line 2)"
