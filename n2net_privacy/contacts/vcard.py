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
``SOURCE``, ``PHOTO``...) is skipped, but its base64 or quoted-printable
must still decode: a corrupt value means a corrupt file.

Cards are read and checked one at a time, so the error names the *first*
bad card: :class:`~n2net_privacy.errors.AddressBookError` with location
``card N (line L)`` (the line of the offending property, or the card's
``BEGIN`` line) or ``line L`` outside any card. Messages never quote a value.
Nothing is published until every card has been read.
"""

from __future__ import annotations

import hashlib
import os
from pathlib import Path

from pydantic import ValidationError

from n2net_privacy.checks import require_type
from n2net_privacy.contacts.model import Contact
from n2net_privacy.contacts.sources import (
    InMemoryAddressBook,
    check_unique_ids,
    describe_validation_error,
    read_text,
)
from n2net_privacy.contacts.vcard_lines import (
    ContentLine,
    RawCard,
    VCardSyntaxError,
    check_encoded,
    decode_value,
    iter_cards,
)
from n2net_privacy.errors import AddressBookError

__all__ = ["VCardAddressBook", "parse_vcard"]

_MEMORY = "<memory>"
_VERSIONS = frozenset({"2.1", "3.0", "4.0"})
# TYPE values that say nothing about which number this is.
_UNINFORMATIVE = frozenset({"voice", "pref", "internet", "x400", "x-internet"})
_LABEL_NAMES = {"cell": "mobile", "iphone": "mobile"}
_MAX_LABEL = 64
_USED = frozenset({"VERSION", "FN", "N", "TEL", "EMAIL", "UID", "X-ABLABEL"})
# N's components in the order a name is said: prefix, given, additional, family, suffix.
_N_ORDER = (3, 1, 2, 0, 4)


def parse_vcard(text: str, *, source: str = _MEMORY) -> tuple[Contact, ...]:
    """Parse every card in ``text`` into contacts, or raise for the first bad one."""
    require_type("text", text, str, hint="pass the file's text; VCardAddressBook reads a path")
    contacts: list[Contact] = []
    uids: list[bool] = []
    try:
        for card in iter_cards(text):
            contact, has_uid = _contact_from_card(card, source=source)
            contacts.append(contact)
            uids.append(has_uid)
    except VCardSyntaxError as exc:
        raise AddressBookError(exc.reason, source=source, location=_where(exc)) from None
    _derive_missing_ids(contacts, uids)
    check_unique_ids(contacts, source=source, unit="card")
    return tuple(contacts)


class VCardAddressBook(InMemoryAddressBook):
    """An address book loaded from a ``.vcf`` file holding one or more cards.

    Loaded at construction; :meth:`reload` re-reads the file and publishes
    the new contents only if every card is valid.
    """

    def __init__(self, path: str | Path) -> None:
        require_type("path", path, (str, os.PathLike))
        self.path = Path(path)
        super().__init__(self._load(), name=str(self.path))

    def reload(self) -> None:
        """Re-read the file; on error the previous contents stay and the error is raised."""
        self.replace(self._load())

    def _load(self) -> tuple[Contact, ...]:
        return parse_vcard(read_text(self.path), source=str(self.path))


def _where(exc: VCardSyntaxError) -> str:
    return f"card {exc.card} (line {exc.line})" if exc.card is not None else f"line {exc.line}"


def _text(content: ContentLine, version: str) -> str:
    value = decode_value(content, version)
    if not isinstance(value, str):
        raise VCardSyntaxError(f"{content.name} is not text", content.line)
    return value


def _name_from_n(card: RawCard, version: str) -> str:
    n = card.first("N")
    if n is None:
        return ""
    parts = _text(n, version).split(";")
    ordered = [parts[i].replace(",", " ").strip() for i in _N_ORDER if i < len(parts)]
    return " ".join(p for p in ordered if p)


def _contact_from_card(card: RawCard, *, source: str) -> tuple[Contact, bool]:
    """One card to a contact (with a placeholder id if it has no UID); raises if bad."""
    try:
        return _read_card(card)
    except VCardSyntaxError as exc:
        exc.card = card.index
        raise
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


def _display_name(card: RawCard, version: str) -> tuple[str, int]:
    fn = card.first("FN")
    if fn is not None:
        return _text(fn, version), fn.line
    if version == "2.1":  # FN is optional in 2.1
        return _name_from_n(card, version), card.line
    raise _Invalid("missing FN", card.line)


class _Entries:
    """The phones and emails of one card, with the line each came from."""

    def __init__(self) -> None:
        self.phones: list[dict[str, str]] = []
        self.emails: list[str] = []
        self.lines: dict[str, list[int]] = {"phones": [], "emails": []}
        #: The first undecodable property the card does not use, kept so that of
        #: two problems the one higher in the file is named.
        self.skipped_error: VCardSyntaxError | None = None

    def read(self, card: RawCard, version: str) -> None:
        ab_labels = {
            c.group.lower(): _text(c, version)
            for c in card.lines
            if c.name == "X-ABLABEL" and c.group
        }
        for content in card.lines:
            if content.name not in _USED:
                try:
                    check_encoded(content)  # skipped, but a corrupt value is a corrupt file
                except VCardSyntaxError as exc:
                    self.skipped_error = self.skipped_error or exc
            elif content.name in ("TEL", "EMAIL"):
                self._add(content, version, ab_labels)

    def _add(self, content: ContentLine, version: str, ab_labels: dict[str, str]) -> None:
        try:
            value = _text(content, version)
        except VCardSyntaxError:
            if self.skipped_error is not None:
                raise self.skipped_error from None
            raise
        if value.strip() == "":
            return
        if content.name == "EMAIL":
            self.emails.append(value)
            self.lines["emails"].append(content.line)
        else:
            label = ab_labels.get((content.group or "").lower()) or _type_label(content.params)
            self.phones.append({"number": _tel_number(value), "label": _clean_label(label)})
            self.lines["phones"].append(content.line)


def _read_card(card: RawCard) -> tuple[Contact, bool]:
    version = _version(card)
    display_name, name_line = _display_name(card, version)
    entries = _Entries()
    entries.read(card, version)
    uid_line = card.first("UID")
    uid = _text(uid_line, version).strip() if uid_line else ""
    record = {
        # A placeholder, replaced by a derived id after every card is read.
        "id": uid or "vcard-pending",
        "display_name": display_name,
        "phones": entries.phones,
        "emails": entries.emails,
    }
    skipped = entries.skipped_error
    try:
        contact = Contact.model_validate(record)
    except ValidationError as exc:
        other = uid_line.line if uid_line else card.line
        line = _error_line(exc, entries.lines, name_line, other)
        if skipped is not None and skipped.line < line:
            raise skipped from None
        raise _Invalid(describe_validation_error(exc), line) from None  # see contacts_from_records
    if skipped is not None:
        raise skipped
    return contact, bool(uid)


def _error_line(
    exc: ValidationError, lines: dict[str, list[int]], name_line: int, uid_line: int
) -> int:
    """The line of the first property pydantic rejected."""
    loc = exc.errors(include_url=False, include_input=False)[0]["loc"]
    if loc and loc[0] in lines and len(loc) > 1 and isinstance(loc[1], int):
        return lines[str(loc[0])][loc[1]]
    return name_line if loc and loc[0] == "display_name" else uid_line


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
