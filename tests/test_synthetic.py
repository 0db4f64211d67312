"""The synthetic address-book generator: deterministic, realistic, valid."""

from __future__ import annotations

import phonenumbers

from n2net_privacy.testing.synthetic import REGIONS, synthetic_address_book


def test_same_seed_same_book_and_different_seed_different_book() -> None:
    assert synthetic_address_book(50, seed=3) == synthetic_address_book(50, seed=3)
    assert synthetic_address_book(50, seed=3) != synthetic_address_book(50, seed=4)


def test_book_is_realistic() -> None:
    book = synthetic_address_book(600, seed=1)
    names = [c.display_name for c in book]
    emails = [e for c in book for e in c.emails]
    numbers = [p.number for c in book for p in c.phones]
    assert any(not n.isascii() for n in names)
    assert any("+" in e.split("@")[0] for e in emails)
    assert any(e != e.lower() for e in emails)
    assert any(n.startswith("+") for n in numbers)
    assert any(not n.startswith("+") for n in numbers)
    regions = set()
    for number in numbers:
        if number.startswith("+"):
            parsed = phonenumbers.parse(number)
            assert phonenumbers.is_valid_number(parsed)
            regions.add(phonenumbers.region_code_for_number(parsed))
        else:  # national format: valid in at least one of the generator's regions
            assert any(
                phonenumbers.is_valid_number(phonenumbers.parse(number, r)) for r in REGIONS
            )
    assert len(regions) >= 15
    assert regions <= set(REGIONS)
