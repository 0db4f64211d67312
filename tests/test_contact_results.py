"""Result values and the pure pieces behind them: page windows and visible deltas."""

from __future__ import annotations

import pytest

from n2net_privacy.contacts.index import Catalog
from n2net_privacy.contacts.model import ALL_FIELDS, Contact, ContactField
from n2net_privacy.contacts.results import (
    MAX_PAGE_SIZE,
    ContactLookup,
    ContactPage,
    ContactsDelta,
    PageRequest,
    visible_delta,
)
from n2net_privacy.errors import InvalidArgumentError
from n2net_privacy.permissions.status import PermissionStatus

S = PermissionStatus
A = Contact(id="a", display_name="A")
A2 = Contact(id="a", display_name="A renamed")
A_EQUAL = Contact(id="a", display_name="A")
B = Contact(id="b", display_name="B")
C = Contact(id="c", display_name="C")


@pytest.mark.parametrize(
    ("old", "new", "purged", "added", "updated", "removed"),
    [
        ({}, {"a": A}, False, {"a"}, set(), set()),
        ({"a": A}, {}, False, set(), set(), {"a"}),
        ({"a": A, "b": B}, {"a": A2, "b": B}, False, set(), {"a"}, set()),
        ({"a": A}, {"a": A_EQUAL}, False, set(), set(), set()),  # equal, not identical
        ({"a": A, "b": B}, {"b": B, "c": C}, False, {"c"}, set(), {"a"}),
        (None, {"a": A, "c": C}, True, {"c"}, {"a"}, {"b"}),  # purged: kept ids re-read
    ],
)
def test_visible_delta(
    old: dict[str, Contact] | None,
    new: dict[str, Contact],
    purged: bool,
    added: set[str],
    updated: set[str],
    removed: set[str],
) -> None:
    old_ids = frozenset(old) if old is not None else frozenset({"a", "b"})
    delta = visible_delta(S.GRANTED, old_ids, old, new, purged=purged)
    assert delta == ContactsDelta(
        S.GRANTED, frozenset(added), frozenset(updated), frozenset(removed), purged
    )


def test_a_delta_is_empty_only_when_nothing_happened() -> None:
    assert ContactsDelta(S.GRANTED).empty
    assert not ContactsDelta(S.DENIED, purged=True).empty
    assert not ContactsDelta(S.GRANTED, removed=frozenset({"a"})).empty


@pytest.mark.parametrize(
    ("offset", "limit", "ids", "following"),
    [
        (0, 2, ["a", "b"], 2),
        (2, 2, ["c"], None),
        (0, 3, ["a", "b", "c"], None),
        (5, 2, [], None),
    ],
)
def test_page_request_slices_and_points_to_the_next_page(
    offset: int, limit: int, ids: list[str], following: int | None
) -> None:
    catalog = Catalog((C, A, B), version=0, selection=None)
    page = PageRequest.checked(offset, limit, None).page(catalog, catalog.contacts, S.LIMITED)
    assert [c.id for c in page.items] == ids
    assert (page.offset, page.next_offset, page.total, page.status) == (
        offset,
        following,
        3,
        S.LIMITED,
    )


def test_page_request_projects_and_reuses_projections() -> None:
    catalog = Catalog((A, B), version=0, selection=None)
    request = PageRequest.checked(0, 10, {"phones"})
    first = request.page(catalog, catalog.contacts, S.GRANTED)
    again = request.page(catalog, catalog.contacts, S.GRANTED)
    assert [c.display_name for c in first.items] == ["", ""]
    assert first.items[0] is again.items[0]
    assert first.fields == {ContactField.PHONES}


@pytest.mark.parametrize(("offset", "limit"), [(-1, 1), (0, 0), (0, MAX_PAGE_SIZE + 1)])
def test_page_request_rejects_bad_windows(offset: int, limit: int) -> None:
    with pytest.raises(InvalidArgumentError, match=r"offset|limit"):
        PageRequest.checked(offset, limit, None)


def test_empty_results_carry_the_status() -> None:
    page = PageRequest.checked(40, 20, None).empty(S.BLOCKED)
    assert page == ContactPage(S.BLOCKED, offset=40)
    assert (page.allowed, page.items, page.next_offset, page.fields) == (
        False,
        (),
        None,
        ALL_FIELDS,
    )
    assert not ContactLookup(S.RESTRICTED).allowed
    assert ContactLookup(S.LIMITED, A).allowed
