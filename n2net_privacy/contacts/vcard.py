"""vCard 3.0 and 4.0 address books, read with ``vobject`` (the ``vcard`` extra).

What is taken from each card:

* ``FN`` (required by both versions) becomes the display name;
* every non-empty ``TEL`` becomes a phone: a 4.0 ``tel:`` URI is turned
  back into the number, with its ``ext=``; the label is the Apple
  ``X-ABLabel`` of the same group if there is one, else the first
  ``TYPE`` that says something (``cell`` reads as ``mobile``), else ``other``;
* every non-empty ``EMAIL`` becomes an email;
* ``UID`` becomes the id. A card without one gets a derived id,
  ``vcard-`` + 16 hex digits of SHA-256 over its name, numbers and emails,
  plus ``-2``, ``-3``... for exact repeats. It does not depend on the
  card's position, so inserting a card elsewhere keeps every other id,
  but an edit to such a card reads as a removal and an addition. Derived
  ids are hashes of personal data: keep them on the device.

Other versions (2.1), other components, a missing ``FN``, an invalid value
or a repeated id raise :class:`~n2net_privacy.errors.AddressBookError`
naming the card and its ``BEGIN`` line, or the line vobject could not read.
Nothing is published until every card has been read.
"""

from __future__ import annotations

import hashlib
import re
from pathlib import Path
from typing import Any

from pydantic import ValidationError

from n2net_privacy.contacts.model import Contact
from n2net_privacy.contacts.sources import (
    InMemoryAddressBook,
    check_unique_ids,
    describe_validation_error,
    read_text,
)
from n2net_privacy.errors import AddressBookError, ConfigurationError

__all__ = ["VCardAddressBook", "parse_vcard"]

_MEMORY = "<memory>"
_VERSIONS = frozenset({"3.0", "4.0"})
_BEGIN = re.compile(r"BEGIN:VCARD\s*", re.IGNORECASE)
# TYPE values that say nothing about which number this is.
_UNINFORMATIVE = frozenset({"voice", "pref", "internet", "x400", "x-internet"})
_LABEL_NAMES = {"cell": "mobile", "iphone": "mobile"}
_MAX_LABEL = 64
# vobject's ParseError text quotes the offending line; only its kind is kept.
_PARSE_REASONS = (
    ("Failed to parse line", "not a vCard content line"),
    ("never closed", "card is never closed (no END:VCARD)"),
    ("wasn't closed", "END does not match the open BEGIN"),
    ("never opened", "END without a BEGIN"),
)


def _import_vobject() -> Any:
    try:
        import vobject
    except ImportError as exc:
        raise ConfigurationError(
            "reading vCard files needs the optional extra: pip install 'n2net-privacy[vcard]'"
        ) from exc
    return vobject


def parse_vcard(text: str, *, source: str = _MEMORY) -> tuple[Contact, ...]:
    """Parse every card in ``text`` into contacts, or raise for the first bad one."""
    vobject = _import_vobject()
    begin_lines = [
        number for number, line in enumerate(text.split("\n"), 1) if _BEGIN.fullmatch(line)
    ]
    cards: list[Any] = []
    try:
        for card in vobject.readComponents(text, transform=False, allowQP=True):
            cards.append(card)
    except vobject.base.ParseError as exc:
        message = str(getattr(exc, "msg", ""))
        reason = next((r for key, r in _PARSE_REASONS if key in message), "invalid vCard syntax")
        line = max(int(getattr(exc, "lineNumber", 0) or 0), 1)
        # Not chained: the ParseError's own text quotes the line, names and all.
        raise AddressBookError(reason, source=source, location=f"line {line}") from None
    except Exception as exc:  # vobject decodes values (base64, QP) with assorted errors
        where = _card_location(len(cards), begin_lines)
        raise AddressBookError(
            f"card cannot be decoded ({type(exc).__name__})", source=source, location=where
        ) from None
    contacts = [
        _contact_from_card(card, source=source, where=_card_location(index, begin_lines))
        for index, card in enumerate(cards)
    ]
    _derive_missing_ids(contacts, cards)
    check_unique_ids(contacts, source=source, unit="card")
    return tuple(contacts)


class VCardAddressBook(InMemoryAddressBook):
    """An address book loaded from a ``.vcf`` file holding one or more cards.

    Loaded at construction; :meth:`reload` re-reads the file and publishes
    the new contents only if every card is valid.
    """

    def __init__(self, path: str | Path) -> None:
        self.path = Path(path)
        super().__init__(self._load(), name=str(self.path))

    def reload(self) -> None:
        """Re-read the file; on error the previous contents stay and the error is raised."""
        self.replace(self._load())

    def _load(self) -> tuple[Contact, ...]:
        return parse_vcard(read_text(self.path), source=str(self.path))


def _card_location(index: int, begin_lines: list[int]) -> str:
    if index < len(begin_lines):
        return f"card {index} (line {begin_lines[index]})"
    return f"card {index}"


def _first_value(card: Any, name: str) -> Any:
    for line in card.lines():
        if line.name == name:
            return line.value
    return None


def _contact_from_card(card: Any, *, source: str, where: str) -> Contact:
    def fail(reason: str) -> AddressBookError:
        return AddressBookError(reason, source=source, location=where)

    if str(card.name).upper() != "VCARD":
        raise fail("not a vCard component")
    if _first_value(card, "VERSION") not in _VERSIONS:
        raise fail("missing or unsupported VERSION (3.0 or 4.0 expected)")
    display_name = _first_value(card, "FN")
    if display_name is None:
        raise fail("missing FN")
    if not isinstance(display_name, str):
        raise fail("FN is not text")
    ab_labels = {
        line.group.lower(): line.value
        for line in card.lines()
        if line.name == "X-ABLABEL" and line.group and isinstance(line.value, str)
    }
    phones, emails = [], []
    for line in card.lines():
        value = line.value
        if line.name not in ("TEL", "EMAIL") or value == "":
            continue
        if not isinstance(value, str):
            raise fail(f"{line.name} is not text")
        if line.name == "EMAIL":
            emails.append(value)
        else:
            label = ab_labels.get((line.group or "").lower()) or _type_label(line.params)
            phones.append({"number": _tel_number(value), "label": _clean_label(label)})
    uid = _first_value(card, "UID")
    record = {
        # A placeholder, replaced by a derived id after every card is read.
        "id": uid.strip() if isinstance(uid, str) and uid.strip() else "vcard-pending",
        "display_name": display_name,
        "phones": phones,
        "emails": emails,
    }
    try:
        return Contact.model_validate(record)
    except ValidationError as exc:
        raise fail(describe_validation_error(exc)) from None  # see contacts_from_records


def _type_label(params: dict[str, list[str]]) -> str:
    for value in params.get("TYPE", ()):
        for raw in value.lower().split(","):
            kind = raw.strip().strip('"')
            if kind and kind not in _UNINFORMATIVE:
                return _LABEL_NAMES.get(kind, kind)
    return "other"


def _clean_label(label: str) -> str:
    # Apple wraps its built-in labels: "_$!<Mobile>!$_".
    if label.startswith("_$!<") and label.endswith(">!$_"):
        label = label[4:-4]
    label = label.strip().lower()[:_MAX_LABEL]
    return _LABEL_NAMES.get(label, label) or "other"


def _tel_number(value: str) -> str:
    """The dialable number of a TEL value; a 4.0 ``tel:`` URI keeps only its ``ext``."""
    value = value.strip()
    if not value.lower().startswith("tel:"):
        return value
    number, *params = value[4:].split(";")
    extension = next((p[4:] for p in params if p.lower().startswith("ext=")), "")
    return f"{number} ext. {extension}" if extension else number


def _derive_missing_ids(contacts: list[Contact], cards: list[Any]) -> None:
    seen: dict[str, int] = {}
    for index, (contact, card) in enumerate(zip(contacts, cards, strict=True)):
        uid = _first_value(card, "UID")
        if isinstance(uid, str) and uid.strip():
            continue
        content = "\x1f".join(
            [contact.display_name]
            + [f"{p.label}\x1e{p.number}" for p in contact.phones]
            + ["\x1d" + e for e in contact.emails]
        )
        digest = "vcard-" + hashlib.sha256(content.encode()).hexdigest()[:16]
        seen[digest] = seen.get(digest, 0) + 1
        derived = digest if seen[digest] == 1 else f"{digest}-{seen[digest]}"
        contacts[index] = contact.model_copy(update={"id": derived})
