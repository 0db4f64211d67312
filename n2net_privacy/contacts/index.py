"""The contacts one generation may see, in display order, with lazy search indexes.

A :class:`Catalog` is built from the visible contacts only (under iOS limited
access, the selected ones), so nothing the user did not share is ever held.
The gateway keeps at most one and drops it on revocation. Indexes are built
on the first search that needs them and then kept with the catalog.

Matching rules, all pure and separately testable:

* names: case- and accent-insensitive substring (:func:`fold_name`);
* numbers: formatting-insensitive, and national vs international forms
  agree (:func:`numbers_match`);
* emails: the whole address, case-insensitive.
"""

from __future__ import annotations

import re
import unicodedata
from bisect import bisect_right
from collections.abc import Sequence
from functools import cache

from n2net_privacy.contacts.model import ALL_FIELDS, Contact, ContactField, project

__all__ = [
    "MIN_MATCH_DIGITS",
    "Catalog",
    "fold_email",
    "fold_name",
    "numbers_match",
    "significant_digits",
]

#: Numbers this long or longer match on their trailing digits, as Android's
#: ``PhoneNumberUtils.compare`` does; shorter ones (short codes) must be equal.
MIN_MATCH_DIGITS = 7

# Letters NFKD does not decompose into a base letter plus a combining mark.
_FOLD_EXTRA: dict[int, str | None] = {
    ord(letter): base
    for letter, base in (
        ("ø", "o"),
        ("ł", "l"),
        ("đ", "d"),
        ("ð", "d"),
        ("ħ", "h"),
        ("\u0131", "i"),
        ("æ", "ae"),
        ("œ", "oe"),
        ("þ", "th"),
    )
}
# Sorts after any name, so unnamed contacts come last ("#" in address-book apps).
_UNNAMED = chr(0x10FFFF)
_NON_DIGIT = re.compile(r"\D")
# Everything from an extension marker on is not part of the number people dial.
_EXTENSION = re.compile(r"(?:ext|[x#,;]).*", re.IGNORECASE | re.DOTALL)
_SEPARATOR = "\x00"


@cache
def _fold_table() -> dict[int, str | None]:
    # Built on first use (a few ms), not at import: every combining mark of
    # the Basic Multilingual Plane is deleted, plus the letters above.
    table: dict[int, str | None] = {
        cp: None for cp in range(0x300, 0x10000) if unicodedata.combining(chr(cp))
    }
    table.update(_FOLD_EXTRA)
    return table


def fold_name(text: str) -> str:
    """Case-fold, strip accents and collapse whitespace: ``"Zoë  Ødegård"`` -> ``"zoe odegard"``."""
    if text.isascii():
        return " ".join(text.lower().split())
    decomposed = unicodedata.normalize("NFKD", text.casefold())
    return " ".join(decomposed.translate(_fold_table()).split())


def fold_email(text: str) -> str:
    """The form two emails are compared in: trimmed and case-folded."""
    return text.strip().casefold()


def significant_digits(raw: str) -> str:
    """The digits of a number without extension, leading zeros or formatting.

    Leading zeros go because they are dialing prefixes (the trunk ``0`` of
    ``020 7946 0958``, the international ``00`` of ``0044...``), not part of
    the subscriber number. Non-ASCII decimal digits count as their values.
    """
    digits = _NON_DIGIT.sub("", _EXTENSION.sub("", raw))
    if not digits.isascii():
        digits = "".join(str(unicodedata.decimal(ch)) for ch in digits)
    return digits.lstrip("0")


def numbers_match(a: str, b: str) -> bool:
    """Whether two *significant-digit* strings name the same line.

    Long numbers match when the shorter is a suffix of the longer, so
    ``2155552671`` matches ``12155552671`` and ``442079460958`` matches
    ``2079460958``. Numbers shorter than :data:`MIN_MATCH_DIGITS` must be equal.
    """
    if not a or not b:
        return False
    short, long_ = (a, b) if len(a) <= len(b) else (b, a)
    if len(short) < MIN_MATCH_DIGITS:
        return short == long_
    return long_.endswith(short)


class _NameIndex:
    """All folded names joined into one string, so a search is a few ``str.find`` calls."""

    def __init__(self, keys: Sequence[str]) -> None:
        self._text = _SEPARATOR.join(keys)
        starts: list[int] = []
        at = 0
        for key in keys:
            starts.append(at)
            at += len(key) + 1
        self._starts = starts

    def find(self, needle: str) -> list[int]:
        hits: list[int] = []
        if not needle or _SEPARATOR in needle:
            return hits
        text, starts = self._text, self._starts
        at = text.find(needle)
        while at != -1:
            position = bisect_right(starts, at) - 1
            hits.append(position)
            following = position + 1
            if following == len(starts):
                break
            at = text.find(needle, starts[following])
        return hits


class _NumberIndex:
    """Positions keyed by a number's last digits; candidates are then verified."""

    def __init__(self, contacts: Sequence[Contact]) -> None:
        self._long: dict[str, list[tuple[int, str]]] = {}
        self._short: dict[str, list[int]] = {}
        for position, contact in enumerate(contacts):
            for phone in contact.phones:
                digits = significant_digits(phone.number)
                if len(digits) >= MIN_MATCH_DIGITS:
                    bucket = self._long.setdefault(digits[-MIN_MATCH_DIGITS:], [])
                    bucket.append((position, digits))
                elif digits:
                    self._short.setdefault(digits, []).append(position)

    def find(self, raw: str) -> list[int]:
        digits = significant_digits(raw)
        if len(digits) < MIN_MATCH_DIGITS:
            return sorted(set(self._short.get(digits, ()))) if digits else []
        candidates = self._long.get(digits[-MIN_MATCH_DIGITS:], ())
        return sorted({p for p, stored in candidates if numbers_match(digits, stored)})


class Catalog:
    """Visible contacts of one source version and one selection, sorted by name.

    ``selection`` is the iOS limited-access set (``None`` for full access);
    contacts outside it are dropped before anything is stored.
    """

    def __init__(
        self, contacts: Sequence[Contact], *, version: int, selection: frozenset[str] | None
    ) -> None:
        self.version = version
        self.selection = selection
        visible = (
            list(contacts) if selection is None else [c for c in contacts if c.id in selection]
        )
        keys = [fold_name(c.display_name) for c in visible]
        # One string per contact sorts much faster than a tuple key.
        sort_keys = [f"{k or _UNNAMED}\x00{c.id}" for k, c in zip(keys, visible, strict=True)]
        order = sorted(range(len(visible)), key=sort_keys.__getitem__)
        self.contacts: tuple[Contact, ...] = tuple(visible[i] for i in order)
        self.by_id: dict[str, Contact] = {c.id: c for c in self.contacts}
        self._name_keys = [keys[i] for i in order]
        self._names: _NameIndex | None = None
        self._numbers: _NumberIndex | None = None
        self._emails: dict[str, list[int]] | None = None
        self._projections: dict[frozenset[ContactField], dict[str, Contact]] = {}

    def search_name(self, query: str) -> tuple[Contact, ...]:
        """Contacts whose folded display name contains the folded query."""
        if self._names is None:
            # Two threads may both build it; the results are identical, so no lock.
            self._names = _NameIndex(self._name_keys)
        return self._pick(self._names.find(fold_name(query)))

    def search_number(self, query: str) -> tuple[Contact, ...]:
        """Contacts with a number that :func:`numbers_match` the query."""
        if self._numbers is None:
            self._numbers = _NumberIndex(self.contacts)
        return self._pick(self._numbers.find(query))

    def search_email(self, query: str) -> tuple[Contact, ...]:
        """Contacts with exactly this email address, ignoring case."""
        if self._emails is None:
            emails: dict[str, list[int]] = {}
            for position, contact in enumerate(self.contacts):
                for email in contact.emails:
                    bucket = emails.setdefault(fold_email(email), [])
                    if not bucket or bucket[-1] != position:
                        bucket.append(position)
            self._emails = emails
        return self._pick(self._emails.get(fold_email(query), []))

    def projected(
        self, contacts: Sequence[Contact], fields: frozenset[ContactField]
    ) -> tuple[Contact, ...]:
        """``contacts`` with only ``fields`` filled in (see :func:`project`).

        Projections are kept with the catalog, so paging through the book a
        second time with the same fields allocates nothing.
        """
        if fields == ALL_FIELDS:
            return tuple(contacts)
        memo = self._projections.setdefault(fields, {})
        shown = []
        for contact in contacts:
            found = memo.get(contact.id)
            if found is None:
                found = memo[contact.id] = project(contact, fields)
            shown.append(found)
        return tuple(shown)

    def build_indexes(self) -> None:
        """Build every index now (benchmarks and warm-up); searches do it lazily."""
        self.search_name("")
        self.search_number("")
        self.search_email("")

    def _pick(self, positions: Sequence[int]) -> tuple[Contact, ...]:
        contacts = self.contacts
        return tuple(contacts[p] for p in positions)
