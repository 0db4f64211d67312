"""Address-book sources: in-memory mutations, the JSON format, all-or-nothing loads."""

from __future__ import annotations

import contextlib
import json
import logging
import shutil
import threading
from collections.abc import Callable
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from n2net_privacy.contacts.lenient import DroppedValue, LoadReport
from n2net_privacy.contacts.model import Contact, ContactPhone
from n2net_privacy.contacts.sources import (
    AddressBookSource,
    InMemoryAddressBook,
    JsonAddressBook,
    contacts_from_records,
    parse_json_address_book,
    read_json_address_book,
    read_records,
)
from n2net_privacy.errors import AddressBookError

FIXTURES = Path(__file__).parent / "fixtures"
ANN = Contact(id="a", display_name="Ann Lee", phones=(ContactPhone(number="+1 215 555 2671"),))
BOB = Contact(id="b", display_name="Bob Stone", emails=("bob@example.com",))
PII = ("Ann", "Lee", "Bob", "2155552671", "555 2671", "bob@example.com", "example")


def _assert_no_pii(text: str) -> None:
    for secret in PII:
        assert secret not in text


# -- in memory ------------------------------------------------------------------


def test_in_memory_book_is_a_source() -> None:
    assert isinstance(InMemoryAddressBook(), AddressBookSource)


def test_every_mutation_bumps_the_version_and_notifies() -> None:
    book = InMemoryAddressBook([ANN])
    calls: list[int] = []
    book.subscribe(lambda: calls.append(book.snapshot().version))
    first = book.snapshot()
    assert (first.version, first.contacts) == (0, (ANN,))

    book.add(BOB)
    renamed = ANN.model_copy(update={"display_name": "Ann Stone"})
    book.update(renamed)
    book.remove("b")
    book.replace([BOB])

    assert calls == [1, 2, 3, 4]
    assert book.snapshot().contacts == (BOB,)


def test_update_keeps_the_position_and_snapshots_are_reused() -> None:
    book = InMemoryAddressBook([ANN, BOB])
    renamed = ANN.model_copy(update={"display_name": "Ann Stone"})
    book.update(renamed)
    snap = book.snapshot()
    assert snap.contacts == (renamed, BOB)
    assert book.snapshot() is snap


def test_unsubscribed_listeners_are_not_called() -> None:
    book = InMemoryAddressBook()
    calls: list[str] = []
    unsubscribe = book.subscribe(lambda: calls.append("x"))
    unsubscribe()
    unsubscribe()  # idempotent
    book.add(ANN)
    assert calls == []


@pytest.mark.parametrize(
    ("action", "message"),
    [
        (lambda book: book.add(ANN), "exists already"),
        (lambda book: book.update(BOB), "no contact with this id"),
        (lambda book: book.remove("b"), "no contact with this id"),
        (lambda book: book.replace([BOB, BOB]), "duplicate id"),
    ],
)
def test_bad_mutations_raise_and_change_nothing(
    action: Callable[[InMemoryAddressBook], object], message: str
) -> None:
    book = InMemoryAddressBook([ANN])
    calls: list[str] = []
    book.subscribe(lambda: calls.append("x"))
    with pytest.raises(AddressBookError, match=message) as caught:
        action(book)
    _assert_no_pii(str(caught.value))
    assert book.snapshot().contacts == (ANN,)
    assert book.snapshot().version == 0
    assert calls == []


def test_duplicate_ids_at_construction_name_both_records() -> None:
    with pytest.raises(AddressBookError) as caught:
        InMemoryAddressBook([ANN, BOB, ANN.model_copy(update={"display_name": "Other"})])
    assert caught.value.location == "record 2"
    assert "record 0" in str(caught.value)


def test_concurrent_adds_lose_nothing() -> None:
    book = InMemoryAddressBook()

    def add_range(start: int) -> None:
        for i in range(start, start + 200):
            book.add(Contact(id=f"c{i}"))

    threads = [threading.Thread(target=add_range, args=(n * 200,)) for n in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    snap = book.snapshot()
    assert len(snap.contacts) == 800
    assert snap.version == 800


# -- JSON -----------------------------------------------------------------------


def test_the_fixture_file_loads() -> None:
    book = JsonAddressBook(FIXTURES / "contacts.json")
    contacts = book.snapshot().contacts
    assert [c.id for c in contacts] == ["c-001", "c-002", "c-003"]
    assert contacts[0].phones[1] == ContactPhone(number="215.555.0100 x12", label="work")
    assert contacts[1].phones[0].label == "other"
    assert contacts[2].display_name == ""


def _doc(*records: object) -> str:
    return json.dumps({"contacts": list(records)}, indent=2)


@pytest.mark.parametrize(
    ("text", "location", "reason"),
    [
        ('{"contacts": [\n  {"id": "a",,}\n]}', "line 2 column 14", "invalid JSON"),
        ("", "line 1 column 1", "invalid JSON"),
        ("[]", None, '"contacts" list'),
        ('{"contacts": {}}', None, '"contacts" list'),
        ('{"contacts": [], "owner": "Ann Lee"}', None, "top-level"),
        (_doc({"id": "a"}, "Ann Lee"), "record 1", "expected an object"),
        (_doc({"id": "a"}, {"display_name": "Ann Lee"}), "record 1", "id: missing"),
        (_doc({"id": "a", "phones": [{"number": 2155552671}]}), "record 0", "phones.0.number"),
        (_doc({"id": "a", "emails": [{"Ann Lee": 1}]}), "record 0", "emails.0: string type"),
        (_doc({"id": "Ann\nLee"}), "record 0", "id: contains a control character"),
        (_doc({"id": "a", "phones": [{"label": "home"}]}), "record 0", "phones.0.number: missing"),
        (_doc({"id": "a", "display_name": 5}), "record 0", "display_name: string type"),
        (_doc({"id": "a", "Ann Lee": "x"}), "record 0", "unexpected field"),
        (_doc({"id": "a"}, {"id": "b"}, {"id": "a"}), "record 2", "duplicate id"),
    ],
)
def test_malformed_json_names_the_place_and_not_the_person(
    text: str, location: str | None, reason: str
) -> None:
    with pytest.raises(AddressBookError) as caught:
        parse_json_address_book(text, source="book.json")
    error = caught.value
    assert error.location == location
    assert error.source == "book.json"
    assert reason in str(error)
    _assert_no_pii(str(error))
    # A traceback prints the cause too.
    _assert_no_pii(str(error.__cause__ or ""))


def test_a_bad_reload_keeps_the_previous_contents(tmp_path: Path) -> None:
    path = tmp_path / "book.json"
    shutil.copy(FIXTURES / "contacts.json", path)
    book = JsonAddressBook(path)
    before = book.snapshot()
    calls: list[str] = []
    book.subscribe(lambda: calls.append("changed"))

    # Three good records, then a bad one: none of the good ones may appear.
    path.write_text(_doc({"id": "x"}, {"id": "y"}, {"id": "z"}, {"id": "w", "phones": "nope"}))
    with pytest.raises(AddressBookError, match="record 3"):
        book.reload()
    assert book.snapshot() is before
    assert calls == []

    path.write_text(_doc({"id": "x"}))
    book.reload()
    assert [c.id for c in book.snapshot().contacts] == ["x"]
    assert calls == ["changed"]


def test_unreadable_files_raise_address_book_errors(tmp_path: Path) -> None:
    with pytest.raises(AddressBookError, match="cannot read file"):
        JsonAddressBook(tmp_path / "missing.json")
    binary = tmp_path / "binary.json"
    binary.write_bytes(b'{"contacts": ["\xff"]}')
    with pytest.raises(AddressBookError) as caught:
        JsonAddressBook(binary)
    assert caught.value.location == "byte 15"


def test_a_byte_order_mark_is_accepted(tmp_path: Path) -> None:
    path = tmp_path / "bom.json"
    path.write_bytes(b"\xef\xbb\xbf" + _doc({"id": "a"}).encode())
    assert JsonAddressBook(path).snapshot().contacts == (Contact(id="a"),)


def test_records_from_python_are_validated_the_same_way() -> None:
    assert contacts_from_records([{"id": "a", "emails": ["a@b.c"]}]) == (
        Contact(id="a", emails=("a@b.c",)),
    )
    contacts, report = read_records([{"id": "a", "emails": ["Ann Lee", "a@b.c"]}], source="app")
    assert contacts == (Contact(id="a", emails=("a@b.c",)),)
    assert report == LoadReport(
        "app", "record", 1, (DroppedValue(0, "emails", "not an email address (one @, no spaces)"),)
    )
    with pytest.raises(AddressBookError, match="record 0"):
        contacts_from_records([{"id": "a", "emails": "Ann Lee"}])


# A free-text field that holds something else: dropped and reported, the rest loads.
@pytest.mark.parametrize(
    ("record", "kept", "field", "reason"),
    [
        (
            {"id": "a", "phones": [{"number": "Ann Lee"}, {"number": "555 0100"}]},
            Contact(id="a", phones=(ContactPhone(number="555 0100"),)),
            "phones",
            "not a phone number (digits, spaces, + - ( ) . / and an extension only)",
        ),
        (
            {"id": "a", "phones": [{"number": "1" * 65, "label": "x\ty"}]},
            Contact(id="a"),
            "phones",
            "longer than 64 characters",
        ),
        (
            {"id": "a", "phones": [{"number": "555 0100", "label": "Ann\tLee"}]},
            Contact(id="a", phones=(ContactPhone(number="555 0100", label="other"),)),
            "phones.label",
            "contains a control character",
        ),
        (
            {"id": "a", "phones": [{"number": "555 0100", "label": " "}]},
            Contact(id="a", phones=(ContactPhone(number="555 0100", label="other"),)),
            "phones.label",
            "empty label",
        ),
        (
            {"id": "a", "display_name": "Ann\x07Lee", "emails": ["ann@example.com"]},
            Contact(id="a", emails=("ann@example.com",)),
            "display_name",
            "contains a control character",
        ),
        (
            {"id": "a", "emails": ["Ann Lee <ann@example.com>"]},
            Contact(id="a"),
            "emails",
            "not an email address (one @, no spaces)",
        ),
    ],
)
def test_an_unusable_value_is_dropped_and_reported(
    record: dict[str, object], kept: Contact, field: str, reason: str
) -> None:
    contacts, report = read_json_address_book(_doc({"id": "z"}, record), source="book.json")
    assert contacts == (Contact(id="z"), kept)
    assert report == LoadReport("book.json", "record", 2, (DroppedValue(1, field, reason),))
    _assert_no_pii(str(report))


def test_the_json_book_publishes_its_report_with_its_contents(tmp_path: Path) -> None:
    path = tmp_path / "book.json"
    path.write_text(_doc({"id": "a", "emails": ["Ann Lee"]}))
    book = JsonAddressBook(path)
    first = book.load_report
    assert first.counts() == {("emails", "not an email address (one @, no spaces)"): 1}
    path.write_text(_doc({"id": "a"}, {"id": "a"}))
    with pytest.raises(AddressBookError, match="duplicate id"):
        book.reload()
    assert book.load_report is first
    path.write_text(_doc({"id": "a", "emails": ["ann@example.com"]}))
    book.reload()
    assert book.load_report.complete


_json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.text(max_size=12),
    lambda inner: (
        st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=8), inner, max_size=4)
    ),
    max_leaves=12,
)
_records = st.fixed_dictionaries(
    {"id": st.text(max_size=6)},
    optional={
        "display_name": _json_values,
        "phones": st.lists(
            st.fixed_dictionaries({"number": _json_values}, optional={"label": _json_values}),
            max_size=2,
        ),
        "emails": st.lists(_json_values, max_size=2),
    },
)


@settings(max_examples=200, deadline=None)
@given(st.lists(_records | _json_values, max_size=5))
def test_any_document_either_loads_completely_or_raises_address_book_error(
    records: list[object],
) -> None:
    text = json.dumps({"contacts": records})
    try:
        contacts, report = read_json_address_book(text)
    except AddressBookError as exc:
        assert exc.location is None or exc.location.startswith("record ")
        assert "input_value" not in str(exc)
    else:
        assert len(contacts) == report.contacts == len(records)
        for drop in report.dropped:
            assert drop.field in {"display_name", "phones", "phones.label", "emails"}
            assert 0 <= drop.index < len(records)
        # What was kept is what was given, less what the report lists.
        for index, (record, contact) in enumerate(zip(records, contacts, strict=True)):
            assert isinstance(record, dict)
            fields = [d.field for d in report.dropped if d.index == index]
            assert len(contact.phones) + fields.count("phones") == len(record.get("phones", []))
            assert len(contact.emails) + fields.count("emails") == len(record.get("emails", []))


@settings(deadline=None)
@given(st.text(max_size=60))
def test_arbitrary_text_never_raises_anything_else(text: str) -> None:
    with contextlib.suppress(AddressBookError):
        parse_json_address_book(text)


def test_loading_and_changing_a_book_logs_no_personal_data(
    caplog: pytest.LogCaptureFixture, tmp_path: Path
) -> None:
    path = tmp_path / "book.json"
    path.write_text(_doc({"id": "a", "display_name": "Ann Lee", "emails": ["bob@example.com"]}))
    with caplog.at_level(logging.DEBUG):
        book = JsonAddressBook(path)
        book.add(BOB)
        book.update(ANN.model_copy(update={"id": "a"}))
        path.write_text(_doc({"id": "a", "phones": [{"number": "Ann Lee +1 215 555 2671"}]}))
        book.reload()
        path.write_text(_doc({"id": "a", "phones": [{"number": 2155552671}]}))
        with pytest.raises(AddressBookError):
            book.reload()
    assert "address book changed" in caplog.text
    assert "1 unusable value dropped" in caplog.text
    _assert_no_pii(caplog.text)


def test_a_raising_listener_is_logged_and_skips_neither_the_others_nor_the_mutation(
    caplog: pytest.LogCaptureFixture,
) -> None:
    book = InMemoryAddressBook(name="/home/ann.lee@example.com/contacts.json")
    calls: list[str] = []

    def broken() -> None:
        raise RuntimeError("ann.lee@example.com")

    book.subscribe(lambda: calls.append("before"))
    book.subscribe(broken)
    book.subscribe(lambda: calls.append("after"))
    with caplog.at_level(logging.DEBUG, logger="n2net_privacy"):
        book.add(ANN)  # does not raise
    assert calls == ["before", "after"]
    assert book.snapshot().contacts == (ANN,)
    assert "listener raised RuntimeError" in caplog.text
    assert "ann" not in caplog.text.lower()  # neither the book's path nor the message


def test_a_mutation_made_by_a_listener_is_told_after_the_one_it_reacts_to() -> None:
    book = InMemoryAddressBook()
    seen: list[tuple[str, int]] = []

    def react() -> None:
        seen.append(("first", book.snapshot().version))
        if book.snapshot().version == 1:
            book.add(BOB)

    book.subscribe(react)
    book.subscribe(lambda: seen.append(("second", book.snapshot().version)))
    book.add(ANN)
    # Both listeners hear change 1 before either hears change 2.
    assert [who for who, _ in seen] == ["first", "second", "first", "second"]
