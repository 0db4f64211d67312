"""The contact record: strict on input, frozen, never echoing bad values."""

from __future__ import annotations

from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st
from pydantic import ValidationError

from n2net_privacy.contacts.model import (
    ALL_FIELDS,
    Contact,
    ContactField,
    ContactPhone,
    project,
    resolve_fields,
)

ANN = Contact(
    id="c1",
    display_name="Ann Lee",
    phones=(ContactPhone(number="+1 215 555 2671", label="Mobile"),),
    emails=("ann@example.com",),
)


def test_a_valid_record_keeps_its_values_and_lowercases_labels() -> None:
    assert ANN.id == "c1"
    assert ANN.display_name == "Ann Lee"
    assert ANN.phones[0] == ContactPhone(number="+1 215 555 2671", label="mobile")
    assert ANN.emails == ("ann@example.com",)


def test_defaults_make_a_minimal_contact() -> None:
    bare = Contact(id="x")
    assert (bare.display_name, bare.phones, bare.emails) == ("", (), ())
    assert ContactPhone(number="112").label == "other"


def test_contacts_are_frozen() -> None:
    with pytest.raises(ValidationError):
        ANN.display_name = "Someone Else"


def test_lists_from_json_become_tuples() -> None:
    contact = Contact.model_validate(
        {"id": "c1", "phones": [{"number": "555 0100"}], "emails": ["a@b.c"]}
    )
    assert isinstance(contact.phones, tuple)
    assert isinstance(contact.emails, tuple)


@pytest.mark.parametrize(
    ("record", "field"),
    [
        ({"display_name": "Ann"}, "id"),
        ({"id": ""}, "id"),
        ({"id": "   "}, "id"),
        ({"id": 7}, "id"),
        ({"id": "c1", "display_name": 42}, "display_name"),
        ({"id": "c1", "display_name": "Ann\nLee"}, "display_name"),
        ({"id": "c1", "display_name": "Ann\x00"}, "display_name"),
        ({"id": "c1", "nickname": "Annie"}, "nickname"),
        ({"id": "c1", "phones": "+1 215 555 2671"}, "phones"),
        ({"id": "c1", "phones": [{"number": "call Ann"}]}, "phones"),
        ({"id": "c1", "phones": [{"number": ""}]}, "phones"),
        ({"id": "c1", "phones": [{"number": "+"}]}, "phones"),
        ({"id": "c1", "phones": [{"number": 2155552671}]}, "phones"),
        ({"id": "c1", "phones": [{"number": "215\n555"}]}, "phones"),
        ({"id": "c1", "phones": [{"number": "555 0100", "label": ""}]}, "phones"),
        ({"id": "c1", "phones": [{"number": "555 0100", "kind": "cell"}]}, "phones"),
        ({"id": "c1", "emails": ["ann.example.com"]}, "emails"),
        ({"id": "c1", "emails": ["ann@@example.com"]}, "emails"),
        ({"id": "c1", "emails": ["ann lee@example.com"]}, "emails"),
        ({"id": "c1", "emails": [None]}, "emails"),
    ],
)
def test_malformed_records_are_rejected(record: dict[str, Any], field: str) -> None:
    with pytest.raises(ValidationError) as caught:
        Contact.model_validate(record)
    assert caught.value.errors()[0]["loc"][0] == field


@pytest.mark.parametrize(
    "number",
    [
        "+1 (215) 555-2671",
        "215.555.2671",
        "020 7946 0958",
        "0044/20/7946/0958",
        "+49 30 901820 ext. 12",
        "555-0100 x7",
        "555 0100#9",
        "112",
        "+\u0669\u0667\u0661 \u0665\u0660 \u0661\u0662\u0663",  # Arabic-Indic digits
    ],
)
def test_numbers_as_people_type_them_are_accepted(number: str) -> None:
    assert ContactPhone(number=f"  {number} ").number == number


def test_validation_errors_never_echo_the_input() -> None:
    with pytest.raises(ValidationError) as caught:
        Contact.model_validate(
            {
                "id": "c1",
                "display_name": "Ann\tLee",
                "phones": [{"number": "Ann Lee 2155552671"}],
                "emails": ["ann lee@example.com"],
            }
        )
    text = str(caught.value)
    for secret in ("Ann", "Lee", "2155552671", "example.com"):
        assert secret not in text


@given(st.text(max_size=40))
def test_no_validation_message_carries_the_value(value: str) -> None:
    for record in (
        {"id": "c1", "display_name": value},
        {"id": "c1", "phones": [{"number": value}]},
        {"id": "c1", "emails": [value]},
    ):
        try:
            Contact.model_validate(record)
        except ValidationError as exc:
            assert "input_value" not in str(exc)


@given(
    st.lists(st.integers(0, 9), min_size=3, max_size=15),
    st.lists(st.sampled_from([" ", "-", ".", "/", "(", ")"]), max_size=15),
    st.booleans(),
)
def test_any_digit_run_with_separators_is_a_number(
    digits: list[int], separators: list[str], plus: bool
) -> None:
    text = "".join(
        str(d) + (separators[i] if i < len(separators) else "") for i, d in enumerate(digits)
    )
    text = ("+" if plus else "") + text
    assert ContactPhone(number=text).number == text.strip()


def test_resolve_fields_accepts_names_and_members() -> None:
    assert resolve_fields(None) == ALL_FIELDS
    assert resolve_fields({"name", ContactField.PHONES}) == {ContactField.NAME, ContactField.PHONES}
    assert resolve_fields(()) == frozenset()
    with pytest.raises(ValueError, match="nickname"):
        resolve_fields({"nickname"})


@pytest.mark.parametrize(
    ("fields", "name", "phones", "emails"),
    [
        ({"name"}, "Ann Lee", (), ()),
        ({"phones"}, "", ANN.phones, ()),
        ({"emails"}, "", (), ANN.emails),
        ({"name", "emails"}, "Ann Lee", (), ANN.emails),
        ((), "", (), ()),
    ],
)
def test_project_empties_unselected_fields_and_keeps_the_id(
    fields: set[str], name: str, phones: tuple[ContactPhone, ...], emails: tuple[str, ...]
) -> None:
    shown = project(ANN, resolve_fields(fields))
    assert (shown.id, shown.display_name, shown.phones, shown.emails) == (
        "c1",
        name,
        phones,
        emails,
    )


def test_project_with_every_field_returns_the_same_object() -> None:
    assert project(ANN, ALL_FIELDS) is ANN
