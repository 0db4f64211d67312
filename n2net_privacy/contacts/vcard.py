"""vCard 2.1, 3.0 and 4.0 address books, as phones and desktop apps export them.

Read by :mod:`n2net_privacy.contacts.vcard_lines` (pure Python, no extra
needed). vCard 2.1 is what Android's contacts app and Outlook still write:
``QUOTED-PRINTABLE`` values with soft line breaks and ``CHARSET``, bare
``TEL;CELL`` parameters, base64 running to a blank line. All of it is read.

What is taken from each card:

* ``FN`` becomes the display name, whole: an unescaped comma (Gmail writes
  ``FN:Mr. John Richter, James Doe Sr.``) is part of the name, never a cut.
  ``FN`` is required in 3.0 and 4.0 (RFC 2426 §3.1.1, RFC 6350 §6.2.1); a 2.1
  card without it is named from ``N`` (prefix, given, middle, family,
  suffix), as Android does, or left unnamed;
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

Every other property (``PROFILE:VCard`` of RFC 2426 §2.1.3, ``NAME``,
``SOURCE``, ``PHOTO``...) is skipped without being decoded: a photo whose
base64 is off by a character (the Android export in the test data has one)
costs nothing.

Two kinds of trouble, treated apart:

* A **value the SDK cannot use** is dropped, never fatal. Phones keep these
  fields as free text, so a real export may hold an ``EMAIL`` without ``@``
  or a ``TEL`` with no digits. The value is left out, the rest of the card
  loads, and the drop is counted in the :class:`LoadReport` that
  :func:`read_vcard` returns and :attr:`VCardAddressBook.load_report` holds
  (card index, line, field and reason; never the value). A used value whose
  quoted-printable or ``CHARSET`` does not decode is dropped the same way,
  whole, never cut. A ``UID`` that is unusable or repeats an earlier card's
  is replaced by a derived id, and reported too.
* A **file that is not well formed** is refused whole: ``BEGIN``/``END``
  that do not pair, a line that is neither a property nor a continuation
  of one, no supported ``VERSION``, a 3.0/4.0 card without ``FN``. Cards
  are read and checked one at a time, so the error names the *first* bad
  card: :class:`~n2net_privacy.errors.AddressBookError` with
  location ``card N (line L)`` (the line of the offending property, or the
  card's ``BEGIN`` line) or ``line L`` outside any card. Messages never quote
  a value. Nothing is published until every card has been read.
"""

from __future__ import annotations

import hashlib
from pathlib import Path

from pydantic import ValidationError

from n2net_privacy.checks import require_type
from n2net_privacy.contacts.lenient import DroppedValue, LoadReport, validate_record
from n2net_privacy.contacts.model import Contact
from n2net_privacy.contacts.sources import (
    FileAddressBook,
    check_unique_ids,
    describe_validation_error,
)
from n2net_privacy.contacts.vcard_lines import (
    ContentLine,
    RawCard,
    VCardSyntaxError,
    decode_value,
    iter_cards,
)
from n2net_privacy.errors import AddressBookError

__all__ = ["VCardAddressBook", "parse_vcard", "read_vcard"]

_MEMORY = "<memory>"
# The id of a card without a usable UID until its id is derived from its content.
_PENDING = "vcard-pending"
_VERSIONS = frozenset({"2.1", "3.0", "4.0"})
# TYPE values that say nothing about which number this is.
_UNINFORMATIVE = frozenset({"voice", "pref", "internet", "x400", "x-internet"})
_LABEL_NAMES = {"cell": "mobile", "iphone": "mobile"}
_MAX_LABEL = 64
# N's components in the order a name is said: prefix, given, additional, family, suffix.
_N_ORDER = (3, 1, 2, 0, 4)


def read_vcard(text: str, *, source: str = _MEMORY) -> tuple[tuple[Contact, ...], LoadReport]:
    """Parse every card in ``text`` into contacts, with the report of the values dropped.

    Raises :class:`AddressBookError` for the first card that is not well formed.
    """
    require_type("text", text, str, hint="pass the file's text; VCardAddressBook reads a path")
    contacts: list[Contact] = []
    has_uids: list[bool] = []
    dropped: list[DroppedValue] = []
    uids: dict[str, int] = {}
    try:
        for card in iter_cards(text):
            contact, has_uid, drops = _contact_from_card(card, uids, source=source)
            contacts.append(contact)
            has_uids.append(has_uid)
            dropped.extend(drops)
    except VCardSyntaxError as exc:
        raise AddressBookError(exc.reason, source=source, location=_where(exc)) from None
    _derive_missing_ids(contacts, has_uids)
    check_unique_ids(contacts, source=source, unit="card")
    return tuple(contacts), LoadReport(source, "card", len(contacts), tuple(dropped))


def parse_vcard(text: str, *, source: str = _MEMORY) -> tuple[Contact, ...]:
    """The contacts of :func:`read_vcard`, without its report."""
    return read_vcard(text, source=source)[0]


class VCardAddressBook(FileAddressBook):
    """An address book loaded from a ``.vcf`` file holding one or more cards.

    Loaded at construction; :meth:`reload` re-reads the file and publishes
    the new contents only if every card is well formed. ``load_report``
    counts the values left out (see :func:`read_vcard`).
    """

    def __init__(self, path: str | Path) -> None:
        super().__init__(path, reader=read_vcard)


def _where(exc: VCardSyntaxError) -> str:
    return f"card {exc.card} (line {exc.line})" if exc.card is not None else f"line {exc.line}"


def _contact_from_card(
    card: RawCard, uids: dict[str, int], *, source: str
) -> tuple[Contact, bool, list[DroppedValue]]:
    """:func:`_read_card`, with its errors located in the card."""
    try:
        return _read_card(card, uids)
    except _Invalid as exc:
        raise AddressBookError(
            exc.reason, source=source, location=f"card {card.index} (line {exc.line})"
        ) from None


class _Invalid(Exception):
    def __init__(self, reason: str, line: int) -> None:
        super().__init__(reason)
        self.reason, self.line = reason, line


def _version(card: RawCard) -> str:
    version_line = card.first("VERSION")
    version = version_line.value.strip() if version_line else ""
    if version not in _VERSIONS:
        raise _Invalid(
            "missing or unsupported VERSION (2.1, 3.0 or 4.0 expected)",
            version_line.line if version_line else card.line,
        )
    return version


class _CardReader:
    """The values one card gives, each with its line; a value that does not decode
    (bad quoted-printable, unknown ``CHARSET``, base64 where text belongs) is dropped."""

    def __init__(self, card: RawCard, version: str) -> None:
        self.card, self.version = card, version
        self.phones: list[dict[str, str]] = []
        self.emails: list[str] = []
        self.lines: dict[str, list[int]] = {"phones": [], "emails": []}
        self.dropped: list[DroppedValue] = []

    def text(self, content: ContentLine, field: str) -> str | None:
        try:
            value = decode_value(content, self.version)
        except VCardSyntaxError as exc:
            self.dropped.append(DroppedValue(self.card.index, field, exc.reason, content.line))
            return None
        if not isinstance(value, str):
            reason = "value is not text"
            self.dropped.append(DroppedValue(self.card.index, field, reason, content.line))
            return None
        return value

    def display_name(self) -> tuple[str, int]:
        fn = self.card.first("FN")
        if fn is not None:
            return self.text(fn, "display_name") or "", fn.line
        n = self.card.first("N")
        if self.version != "2.1":  # FN is optional in 2.1 only
            raise _Invalid("missing FN", self.card.line)
        if n is None:
            return "", self.card.line
        parts = (self.text(n, "display_name") or "").split(";")
        ordered = [parts[i].replace(",", " ").strip() for i in _N_ORDER if i < len(parts)]
        return " ".join(p for p in ordered if p), n.line

    def uid(self) -> tuple[str, int]:
        uid_line = self.card.first("UID")
        if uid_line is None:
            return "", self.card.line
        return (self.text(uid_line, "id") or "").strip(), uid_line.line

    def read_phones_and_emails(self) -> None:
        ab_labels: dict[str, str] = {}
        for content in self.card.lines:
            if content.name == "X-ABLABEL" and content.group:
                label = self.text(content, "phones.label")
                if label is not None:
                    ab_labels[content.group.lower()] = label
        for content in self.card.lines:
            if content.name not in ("TEL", "EMAIL"):
                continue
            field = "phones" if content.name == "TEL" else "emails"
            value = self.text(content, field)
            if value is None:
                continue
            if value.strip() == "":
                if content.value.strip():  # given, but nothing is left once decoded ("\\")
                    reason = "empty once its escapes are decoded"
                    self.dropped.append(DroppedValue(self.card.index, field, reason, content.line))
                continue
            if content.name == "EMAIL":
                self.emails.append(value)
                self.lines["emails"].append(content.line)
            else:
                label = ab_labels.get((content.group or "").lower()) or _type_label(content.params)
                self.phones.append({"number": _tel_number(value), "label": _clean_label(label)})
                self.lines["phones"].append(content.line)


def _read_card(card: RawCard, uids: dict[str, int]) -> tuple[Contact, bool, list[DroppedValue]]:
    """One card to a contact and its dropped values; ``uids`` maps each UID kept so far
    to its card. A contact without a usable UID gets a placeholder id, replaced later."""
    reader = _CardReader(card, _version(card))
    display_name, name_line = reader.display_name()
    reader.read_phones_and_emails()
    uid, id_line = reader.uid()
    if uid in uids:
        reader.dropped.append(DroppedValue(card.index, "id", "duplicate id", id_line))
        uid = ""

    def locate(field: str, position: int | None) -> int:
        if field in reader.lines and position is not None:
            return reader.lines[field][position]
        return name_line if field == "display_name" else id_line

    record = {
        "id": uid or _PENDING,
        "display_name": display_name,
        "phones": reader.phones,
        "emails": reader.emails,
    }
    try:
        contact, drops = validate_record(
            record, index=card.index, fallback_id=_PENDING, locate=locate
        )
    except ValidationError as exc:  # not expected: every value here is droppable text
        raise _Invalid(describe_validation_error(exc), card.line) from None
    has_uid = contact.id != _PENDING
    if has_uid:
        uids[contact.id] = card.index
    return contact, has_uid, sorted([*reader.dropped, *drops], key=lambda d: d.line or 0)


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


def _derive_missing_ids(contacts: list[Contact], has_uid: list[bool]) -> None:
    seen: dict[str, int] = {}
    for index, (contact, kept) in enumerate(zip(contacts, has_uid, strict=True)):
        if kept:
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
