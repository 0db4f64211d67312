"""The catalog and its matching rules: names, numbers, emails."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from n2net_privacy.contacts.index import (
    MIN_MATCH_DIGITS,
    Catalog,
    fold_email,
    fold_name,
    numbers_match,
    significant_digits,
)
from n2net_privacy.contacts.model import Contact, ContactPhone


def contact(cid: str, name: str = "", *numbers: str, emails: tuple[str, ...] = ()) -> Contact:
    phones = tuple(ContactPhone(number=n) for n in numbers)
    return Contact(id=cid, display_name=name, phones=phones, emails=emails)


BOOK = (
    contact("us", "Ann Lee", "+1 (215) 555-2671", emails=("Ann.Lee@Example.com",)),
    contact("uk", "Zoë Ødegård", "020 7946 0958"),
    contact("de", "Łukasz Müller", "+49 30 901820 ext. 7", emails=("lukasz@example.de",)),
    contact("short", "Emergency", "112"),
    contact("nameless", "", "555 0100"),
    contact("ru", "Анна Иванова", "+7 215 555 2671"),
    contact("shared", "Bob Ann Stone", emails=("ann.lee@example.com",)),
)


@pytest.mark.parametrize(
    ("raw", "folded"),
    [
        ("Ann Lee", "ann lee"),
        ("  ANN   lee ", "ann lee"),
        ("Zoë Ødegård", "zoe odegard"),
        ("Łukasz Müller", "lukasz muller"),
        ("Straße", "strasse"),
        ("Æsa Œuvre", "aesa oeuvre"),
        ("Анна", "анна"),
        ("\uff21\uff2e\uff2e", "ann"),  # full-width letters fold too
    ],
)
def test_fold_name(raw: str, folded: str) -> None:
    assert fold_name(raw) == folded


@pytest.mark.parametrize(
    ("raw", "digits"),
    [
        ("+1 (215) 555-2671", "12155552671"),
        ("020 7946 0958", "2079460958"),
        ("0044 20 7946 0958", "442079460958"),
        ("+49 30 901820 ext. 7", "4930901820"),
        ("555-0100 x12", "5550100"),
        ("555 0100#9", "5550100"),
        ("+\u0669\u0667\u0661 50", "97150"),
        ("", ""),
    ],
)
def test_significant_digits(raw: str, digits: str) -> None:
    assert significant_digits(raw) == digits


@pytest.mark.parametrize(
    ("a", "b", "same"),
    [
        ("+1 215 555 2671", "(215) 555-2671", True),
        ("+1 215 555 2671", "001 215 555 2671", True),
        ("+1 215 555 2671", "011 1 215 555 2671", True),
        ("+44 20 7946 0958", "020 7946 0958", True),
        ("+39 06 1234 5678", "06 1234 5678", True),
        ("555 2671", "+1 215 555 2671", True),  # seven digits: a local number
        ("+1 215 555 2671", "+7 215 555 2671", False),
        ("+1 215 555 2671", "+1 215 555 2672", False),
        ("112", "112", True),
        ("112", "911", False),
        ("55 2671", "+1 215 555 2671", False),  # too short to match on a suffix
        ("", "", False),
    ],
)
def test_numbers_match(a: str, b: str, same: bool) -> None:
    assert numbers_match(significant_digits(a), significant_digits(b)) is same
    assert numbers_match(significant_digits(b), significant_digits(a)) is same


@given(
    st.text(alphabet="0123456789", min_size=1, max_size=15),
    st.lists(st.sampled_from([" ", "-", ".", "(", ")", "/"]), max_size=15),
)
def test_formatting_never_changes_the_digits(digits: str, separators: list[str]) -> None:
    formatted = "".join(
        d + (separators[i] if i < len(separators) else "") for i, d in enumerate(digits)
    )
    assert significant_digits(formatted) == significant_digits(digits)


@given(st.from_regex(rf"[1-9][0-9]{{{MIN_MATCH_DIGITS - 1},13}}", fullmatch=True))
def test_national_and_international_prefixes_match(national: str) -> None:
    assert numbers_match(significant_digits("0" + national), significant_digits("+44" + national))
    assert numbers_match(significant_digits("00 44 " + national), significant_digits(national))


def test_catalog_orders_by_folded_name_with_nameless_last() -> None:
    catalog = Catalog(BOOK, version=3, selection=None)
    assert [c.id for c in catalog.contacts] == [
        "us",
        "shared",
        "short",
        "de",
        "uk",
        "ru",
        "nameless",
    ]
    assert catalog.by_id["uk"] is BOOK[1]
    assert catalog.version == 3


def test_catalog_holds_only_the_selection() -> None:
    catalog = Catalog(BOOK, version=0, selection=frozenset({"uk", "missing"}))
    assert [c.id for c in catalog.contacts] == ["uk"]
    assert set(catalog.by_id) == {"uk"}
    assert catalog.search_number("+1 215 555 2671") == ()


@pytest.mark.parametrize(
    ("query", "ids"),
    [
        ("ann", ["us", "shared"]),
        ("ANN LEE", ["us"]),
        ("odeg", ["uk"]),
        ("ØDEGÅRD", ["uk"]),
        ("lukasz mul", ["de"]),
        ("анна", ["ru"]),
        ("e", ["us", "shared", "short", "de", "uk"]),
        ("nobody", []),
        ("", []),
        ("n\x00b", []),
    ],
)
def test_search_name(query: str, ids: list[str]) -> None:
    catalog = Catalog(BOOK, version=0, selection=None)
    assert [c.id for c in catalog.search_name(query)] == ids


@pytest.mark.parametrize(
    ("query", "ids"),
    [
        ("2155552671", ["us", "ru"]),
        ("+1 215-555-2671", ["us"]),
        ("+44 20 7946 0958", ["uk"]),
        ("0049 30 901820", ["de"]),
        ("112", ["short"]),
        ("5550100", ["nameless"]),
        ("0100", []),
        ("", []),
        ("no digits", []),
    ],
)
def test_search_number(query: str, ids: list[str]) -> None:
    catalog = Catalog(BOOK, version=0, selection=None)
    assert sorted(c.id for c in catalog.search_number(query)) == sorted(ids)


def test_a_contact_with_two_matching_numbers_is_found_once() -> None:
    twice = contact("twice", "T", "215 555 2671", "+1 215 555 2671")
    catalog = Catalog((twice,), version=0, selection=None)
    assert catalog.search_number("2155552671") == (twice,)


def test_search_email_is_whole_address_and_case_insensitive() -> None:
    catalog = Catalog(BOOK, version=0, selection=None)
    assert [c.id for c in catalog.search_email(" ANN.LEE@example.COM ")] == ["us", "shared"]
    assert catalog.search_email("ann.lee@example") == ()
    assert fold_email(" A@B.C ") == "a@b.c"


def test_build_indexes_then_search_is_consistent() -> None:
    catalog = Catalog(BOOK, version=0, selection=None)
    catalog.build_indexes()
    assert [c.id for c in catalog.search_name("lee")] == ["us"]
    assert [c.id for c in catalog.search_email("lukasz@example.de")] == ["de"]
