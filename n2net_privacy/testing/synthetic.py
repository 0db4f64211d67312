"""A seeded synthetic address-book generator for tests, demos and benchmarks.

The same seed always yields the same book. Names include non-ASCII ones,
emails include plus-addressing and mixed case, and numbers are real, valid
numbers (checked with phonenumbers) from 16 regions, written the way people
store them: national or international format, sometimes with a label.

>>> book = synthetic_address_book(3, seed=7)
>>> [c.id for c in book]
['syn-0000', 'syn-0001', 'syn-0002']
"""

from __future__ import annotations

import random
from collections.abc import Sequence
from functools import cache

import phonenumbers
from phonenumbers import PhoneNumberFormat, PhoneNumberType

from n2net_privacy.contacts.model import Contact, ContactPhone

__all__ = ["REGIONS", "synthetic_address_book", "synthetic_number"]

#: Regions the generator draws numbers from (at least 15, per the QA brief).
REGIONS: tuple[str, ...] = (
    "US", "CA", "GB", "DE", "FR", "ES", "IT", "PL", "IN", "BR",
    "JP", "AU", "MX", "NG", "ZA", "SE",
)

_GIVEN = (
    "Ann", "José", "Zoë", "Łukasz", "Søren", "Chloé", "Mohammed", "Aiko", "Priya", "João",
    "Björn", "Renée", "Nguyễn", "Oluwaseun", "Siobhán", "Dmitri", "Ines", "Kwame", "Mei",
    "Ahmet", "Élodie", "Hiroshi", "Ana", "Tomás",
)
_FAMILY = (
    "Lee", "García", "Müller", "Kowalski", "Ødegaard", "Dubois", "Khan", "Tanaka", "Sharma",
    "Silva", "Andersson", "O'Brien", "Nakamura", "Okafor", "Schröder", "Rossi", "Novák",
    "Smith", "Van der Berg", "Çelik", "Núñez", "Ivanova",
)
_DOMAINS = ("example.com", "example.org", "mail.example.net", "Example.co.uk")
_LABELS = ("mobile", "home", "work", "other")
_FORMATS = (PhoneNumberFormat.NATIONAL, PhoneNumberFormat.INTERNATIONAL)


@cache
def _template(region: str) -> phonenumbers.PhoneNumber:
    example = phonenumbers.example_number_for_type(region, PhoneNumberType.MOBILE)
    if example is None:  # pragma: no cover - every listed region has one today
        example = phonenumbers.example_number(region)
    assert example is not None
    return example


def synthetic_number(rng: random.Random, region: str) -> phonenumbers.PhoneNumber:
    """A valid number of ``region``: its example mobile with random trailing digits."""
    template = _template(region)
    national = str(template.national_number)
    for _ in range(20):
        tail = "".join(rng.choice("0123456789") for _ in range(4))
        candidate = phonenumbers.PhoneNumber(
            country_code=template.country_code, national_number=int(national[:-4] + tail)
        )
        if phonenumbers.is_valid_number(candidate):
            return candidate
    return template


def _ascii_local(name: str) -> str:
    folded = name.encode("ascii", "ignore").decode().lower()
    return "".join(ch for ch in folded if ch.isalnum()) or "user"


def _email(rng: random.Random, given: str, family: str) -> str:
    local = f"{_ascii_local(given)}.{_ascii_local(family)}"
    if rng.random() < 0.3:
        local += f"+{rng.choice(('news', 'work', 'n2net'))}"
    if rng.random() < 0.4:
        local = local.title()
    return f"{local}@{rng.choice(_DOMAINS)}"


def synthetic_address_book(
    count: int, *, seed: int = 0, regions: Sequence[str] = REGIONS
) -> list[Contact]:
    """Generate ``count`` contacts deterministically from ``seed``."""
    rng = random.Random(seed)
    book: list[Contact] = []
    for index in range(count):
        given, family = rng.choice(_GIVEN), rng.choice(_FAMILY)
        phones = []
        for _ in range(rng.choice((0, 1, 1, 1, 2))):
            number = synthetic_number(rng, rng.choice(regions))
            text = phonenumbers.format_number(number, rng.choice(_FORMATS))
            phones.append(ContactPhone(number=text, label=rng.choice(_LABELS)))
        emails = tuple(_email(rng, given, family) for _ in range(rng.choice((0, 1, 1, 2))))
        book.append(
            Contact(
                id=f"syn-{index:04d}",
                display_name=f"{given} {family}",
                phones=tuple(phones),
                emails=emails,
            )
        )
    return book
