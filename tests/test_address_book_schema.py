"""docs/address-book.schema.json accepts exactly what the JSON loader loads whole.

The loader is more forgiving than the schema on purpose (issue #21): a string
it cannot use in a free-text field is dropped and reported, not fatal. So a
document the schema accepts loads with an empty report, and one it refuses
either raises AddressBookError (a broken shape) or loads with drops.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import jsonschema
import pytest

from n2net_privacy.contacts.sources import read_json_address_book
from n2net_privacy.errors import AddressBookError

SCHEMA = json.loads(
    (Path(__file__).resolve().parent.parent / "docs" / "address-book.schema.json").read_text()
)
VALIDATOR = jsonschema.Draft202012Validator(SCHEMA)


def book(**contact: Any) -> dict[str, Any]:
    return {"contacts": [{"id": "c1", **contact}]}


ANN = {"id": "c-001", "display_name": "Ann Lee",
       "phones": [{"number": "+1 215 555 2671", "label": "mobile"}],
       "emails": ["ann@example.com"]}

CASES: list[tuple[str, Any]] = [
    ("the documented example", {"contacts": [ANN]}),
    ("an empty book", {"contacts": []}),
    ("only an id", book()),
    ("an empty name", book(display_name="")),
    ("a trimmed name", book(display_name="  Ann  ")),
    ("a national number with an extension", book(phones=[{"number": "(215) 555-2671 ext. 12"}])),
    ("x extension", book(phones=[{"number": "215 555 2671x9"}])),
    ("an upper-case label", book(phones=[{"number": "+12155552671", "label": "HOME"}])),
    ("no contacts key", {}),
    ("contacts is not a list", {"contacts": {}}),
    ("a top-level extra key", {"contacts": [], "version": 1}),
    ("not an object", []),
    ("a contact that is a string", {"contacts": ["c1"]}),
    ("no id", {"contacts": [{"display_name": "Ann"}]}),
    ("an empty id", book(id="")),
    ("a blank id", book(id="   ")),
    ("a padded id", book(id="  c1 ")),
    ("an id that is a number", book(id=7)),
    ("an id too long", book(id="x" * 257)),
    ("an id of the longest length", book(id="x" * 256)),
    ("an unknown contact key", book(nickname="Annie")),
    ("a name with a control character", book(display_name="Ann\x07Lee")),
    ("a name too long", book(display_name="A" * 513)),
    ("a name that is null", book(display_name=None)),
    ("phones is a string", book(phones="+12155552671")),
    ("a phone without digits", book(phones=[{"number": "n/a"}])),
    ("a phone with letters", book(phones=[{"number": "1-800-FLOWERS"}])),
    ("a phone that is a number", book(phones=[{"number": 12155552671}])),
    ("a phone too long", book(phones=[{"number": "1" * 65}])),
    ("a phone with an unknown key", book(phones=[{"number": "+1", "kind": "x"}])),
    ("an empty label", book(phones=[{"number": "+12155552671", "label": ""}])),
    ("a blank label", book(phones=[{"number": "+12155552671", "label": "  "}])),
    ("an email without @", book(emails=["ann.example.com"])),
    ("an email with a space", book(emails=["ann lee@example.com"])),
    ("an email with two @", book(emails=["a@b@example.com"])),
    ("an email padded with spaces", book(emails=["  ann@example.com "])),
    ("an email that is not a string", book(emails=[{"address": "ann@example.com"}])),
    ("an email too long", book(emails=["a" * 250 + "@b.co"])),
]


def loader_answer(document: Any) -> str:
    """``"whole"``, ``"dropped"`` (loaded, some values left out) or ``"refused"``."""
    try:
        _, report = read_json_address_book(json.dumps(document))
    except AddressBookError:
        return "refused"
    return "whole" if report.complete else "dropped"


def loader_accepts(document: Any) -> bool:
    return loader_answer(document) == "whole"


@pytest.mark.parametrize("document", [doc for _, doc in CASES], ids=[name for name, _ in CASES])
def test_schema_and_loader_agree(document: Any) -> None:
    assert VALIDATOR.is_valid(document) == loader_accepts(document)


def test_the_corpus_has_every_answer() -> None:
    answers = [loader_answer(doc) for _, doc in CASES]
    assert answers.count("whole") >= 8
    assert answers.count("refused") >= 10 and answers.count("dropped") >= 8


def test_what_json_schema_cannot_say_is_stated_and_enforced_by_the_loader() -> None:
    assert "unique" in SCHEMA["description"]
    duplicate = {"contacts": [{"id": "c1"}, {"id": "c1"}]}
    assert VALIDATOR.is_valid(duplicate)
    assert not loader_accepts(duplicate)


def test_the_schema_is_a_valid_draft_2020_12_schema() -> None:
    jsonschema.Draft202012Validator.check_schema(SCHEMA)
