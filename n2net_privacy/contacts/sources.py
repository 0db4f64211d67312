"""Address-book sources: where the gateway reads contacts from.

A source plays the part of the phone's own contacts database. It hands out
immutable :class:`AddressBookSnapshot` objects, numbered by ``version``, and
calls its listeners after every change; the gateway diffs snapshots to tell
the app which contacts were added, updated or removed.

Loading is all-or-nothing for the *shape* of a file: it is parsed and
validated completely, and only then published, so a malformed book leaves
the previous contents in place and raises
:class:`~n2net_privacy.errors.AddressBookError`. A field *value* the SDK
cannot use (an "email" without ``@``, a "phone" without digits) is not a
malformed book: it is dropped, the rest of the contact is kept, and the drop
is counted in the book's :class:`~n2net_privacy.contacts.lenient.LoadReport`
(see :mod:`n2net_privacy.contacts.lenient`).

JSON address-book format (UTF-8)::

    {
      "contacts": [
        {
          "id": "c-001",
          "display_name": "Ann Lee",
          "phones": [{"number": "+1 215 555 2671", "label": "mobile"}],
          "emails": ["ann@example.com"]
        }
      ]
    }

``id`` is required and unique; ``display_name``, ``phones``, ``emails`` and a
phone's ``label`` (default ``"other"``) are optional. Unknown keys, wrong
types and a bad or repeated ``id`` are errors; an unusable string in the
other fields is dropped and reported.
"""

from __future__ import annotations

import json
import os
import threading
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol, runtime_checkable

from pydantic import ValidationError

from n2net_privacy.checks import require_type
from n2net_privacy.consent.dispatcher import Dispatcher
from n2net_privacy.contacts.lenient import LoadReport, validate_record
from n2net_privacy.contacts.model import Contact
from n2net_privacy.errors import AddressBookError
from n2net_privacy.redact import get_logger
from n2net_privacy.wording import plural

__all__ = [
    "ADDRESS_BOOK_HINT",
    "AddressBookSnapshot",
    "AddressBookSource",
    "BookReader",
    "FileAddressBook",
    "InMemoryAddressBook",
    "JsonAddressBook",
    "SourceListener",
    "check_unique_ids",
    "contacts_from_records",
    "describe_validation_error",
    "parse_json_address_book",
    "read_json_address_book",
    "read_records",
    "read_text",
]

_log = get_logger(__name__)

SourceListener = Callable[[], None]
_MEMORY = "<memory>"


@dataclass(frozen=True, slots=True)
class AddressBookSnapshot:
    """The whole book at one moment. ``version`` grows with every change."""

    version: int
    contacts: tuple[Contact, ...]


#: What an error says when an address book argument is not an AddressBookSource.
ADDRESS_BOOK_HINT = (
    "pass an address book, such as JsonAddressBook('contacts.json') or "
    "InMemoryAddressBook(contacts)"
)


@runtime_checkable
class AddressBookSource(Protocol):
    """What the gateway needs from an address book."""

    def snapshot(self) -> AddressBookSnapshot:
        """The current contents; cheap when nothing changed."""
        ...

    def subscribe(self, listener: SourceListener) -> Callable[[], None]:
        """Call ``listener()`` after every change; the returned callable unsubscribes."""
        ...


def describe_validation_error(exc: ValidationError) -> str:
    """Say which fields are wrong and why, without quoting any value.

    Pydantic's ``msg`` can embed the input, so only the location, the error
    type and our own validator messages (which never quote) are used.
    """
    parts = []
    for error in exc.errors(include_url=False, include_input=False):
        loc = ".".join(str(p) for p in error["loc"] if isinstance(p, int | str))
        if error["type"] == "extra_forbidden":
            # The key itself could be a name someone typed into the wrong place.
            loc = ".".join(str(p) for p in error["loc"][:-1] if isinstance(p, int | str))
            reason = "unexpected field"
        elif error["type"] == "value_error":
            reason = str(error.get("ctx", {}).get("error", "invalid value"))
        else:
            reason = error["type"].replace("_", " ")
        parts.append(f"{loc or 'record'}: {reason}")
    return "; ".join(parts)


def check_unique_ids(contacts: Sequence[Contact], *, source: str, unit: str = "record") -> None:
    """Raise :class:`AddressBookError` naming both positions of a repeated id."""
    first_seen: dict[str, int] = {}
    for index, contact in enumerate(contacts):
        earlier = first_seen.setdefault(contact.id, index)
        if earlier != index:
            raise AddressBookError(
                f"duplicate id (same as {unit} {earlier})",
                source=source,
                location=f"{unit} {index}",
            )


def read_records(
    records: Iterable[Any], *, source: str = _MEMORY
) -> tuple[tuple[Contact, ...], LoadReport]:
    """Validate plain records (dicts) into contacts, with the report of what was dropped.

    A record that is not an object, has a wrong type, an unknown key, or a
    missing, bad or repeated ``id`` raises :class:`AddressBookError` naming
    the record's index and the field, never its values.
    """
    if isinstance(records, str | bytes | dict):
        require_type("records", records, list)
    require_type("records", records, Iterable, hint="a list of dicts")
    contacts: list[Contact] = []
    dropped = []
    for index, record in enumerate(records):
        if not isinstance(record, dict):
            raise AddressBookError(
                f"expected an object, got {type(record).__name__}",
                source=source,
                location=f"record {index}",
            )
        try:
            contact, drops = validate_record(record, index=index)
        except ValidationError as exc:
            # Not chained: pydantic's text names every offending key, and a key
            # can be a name typed into the wrong place.
            raise AddressBookError(
                describe_validation_error(exc), source=source, location=f"record {index}"
            ) from None
        contacts.append(contact)
        dropped.extend(drops)
    check_unique_ids(contacts, source=source)
    return tuple(contacts), LoadReport(source, "record", len(contacts), tuple(dropped))


def contacts_from_records(records: Iterable[Any], *, source: str = _MEMORY) -> tuple[Contact, ...]:
    """The contacts of :func:`read_records`, without its report."""
    return read_records(records, source=source)[0]


def read_json_address_book(
    text: str, *, source: str = _MEMORY
) -> tuple[tuple[Contact, ...], LoadReport]:
    """Parse the JSON format in this module's docstring, with the load report. Pure."""
    require_type("text", text, (str, bytes),
                 hint="pass the file's text; JsonAddressBook reads a path")
    try:
        document = json.loads(text)
    except json.JSONDecodeError as exc:
        # exc.msg is the grammar complaint ("Expecting ','"); it never quotes the text.
        raise AddressBookError(
            f"invalid JSON: {exc.msg}",
            source=source,
            location=f"line {exc.lineno} column {exc.colno}",
        ) from exc
    if not isinstance(document, dict) or not isinstance(document.get("contacts"), list):
        raise AddressBookError('expected an object with a "contacts" list', source=source)
    if set(document) != {"contacts"}:
        raise AddressBookError('unexpected top-level keys besides "contacts"', source=source)
    return read_records(document["contacts"], source=source)


def parse_json_address_book(text: str, *, source: str = _MEMORY) -> tuple[Contact, ...]:
    """The contacts of :func:`read_json_address_book`, without its report."""
    return read_json_address_book(text, source=source)[0]


def read_text(path: Path) -> str:
    """Read a UTF-8 file (a BOM is allowed), mapping failures to AddressBookError."""
    try:
        data = path.read_bytes()
    except OSError as exc:
        raise AddressBookError(f"cannot read file ({exc.strerror})", source=str(path)) from exc
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise AddressBookError(
            "not UTF-8 text", source=str(path), location=f"byte {exc.start}"
        ) from exc


class InMemoryAddressBook:
    """A mutable, thread-safe address book held in memory.

    The reference source: tests, the demo and the file sources build on it.
    Every mutation bumps the version and then tells the listeners through
    the consent :class:`~n2net_privacy.consent.dispatcher.Dispatcher`:
    outside the lock, in the order of the mutations, and before the mutation
    returns (a mutation made inside a listener is told after that listener
    returns). A listener that raises is logged (its exception type only) and
    the others still run; the mutation stands and does not raise.
    """

    def __init__(self, contacts: Iterable[Contact] = (), *, name: str = _MEMORY) -> None:
        self.name = name
        require_type("contacts", contacts, Iterable)
        initial = tuple(contacts)
        for index, contact in enumerate(initial):
            require_type(f"contacts[{index}]", contact, Contact,
                         hint="build Contact objects; contacts_from_records() takes dicts")
        check_unique_ids(initial, source=name)
        self._lock = threading.Lock()
        self._contacts: dict[str, Contact] = {c.id: c for c in initial}
        self._version = 0
        self._snapshot: AddressBookSnapshot | None = None
        # The dispatcher's name reaches logs: not the book's name, which may be a path.
        self._changes: Dispatcher[int] = Dispatcher("address book")

    def snapshot(self) -> AddressBookSnapshot:
        with self._lock:
            if self._snapshot is None:
                self._snapshot = AddressBookSnapshot(self._version, tuple(self._contacts.values()))
            return self._snapshot

    def subscribe(self, listener: SourceListener) -> Callable[[], None]:
        return self._changes.subscribe(lambda _version: listener())

    def replace(self, contacts: Iterable[Contact]) -> None:
        """Swap the whole contents at once (a re-sync or a reload)."""
        new = tuple(contacts)
        check_unique_ids(new, source=self.name)

        def change(book: dict[str, Contact]) -> None:
            book.clear()
            book.update((c.id, c) for c in new)

        self._mutate(change)

    def add(self, contact: Contact) -> None:
        """Add a contact whose id is not in the book yet."""

        def change(book: dict[str, Contact]) -> None:
            if contact.id in book:
                raise AddressBookError("a contact with this id exists already", source=self.name)
            book[contact.id] = contact

        self._mutate(change)

    def update(self, contact: Contact) -> None:
        """Replace the contact with the same id."""

        def change(book: dict[str, Contact]) -> None:
            if contact.id not in book:
                raise AddressBookError("no contact with this id", source=self.name)
            book[contact.id] = contact

        self._mutate(change)

    def remove(self, contact_id: str) -> None:
        """Remove the contact with this id."""

        def change(book: dict[str, Contact]) -> None:
            if book.pop(contact_id, None) is None:
                raise AddressBookError("no contact with this id", source=self.name)

        self._mutate(change)

    def _mutate(self, change: Callable[[dict[str, Contact]], None]) -> None:
        with self._lock:
            change(self._contacts)
            self._version += 1
            self._snapshot = None
            ticket = self._changes.reserve()  # under the lock: the order of the mutations
            version, count = self._version, len(self._contacts)
        _log.debug("address book changed: %d contacts", count)
        self._changes.fulfil(ticket, version, wait=True)


class BookReader(Protocol):
    """Text of a file to its contacts and load report (:func:`read_json_address_book`...)."""

    def __call__(self, text: str, *, source: str) -> tuple[tuple[Contact, ...], LoadReport]: ...


class FileAddressBook(InMemoryAddressBook):
    """An address book loaded from a file by ``reader``: the JSON and vCard books.

    Loaded at construction; :meth:`reload` re-reads the file and publishes
    the new contents only if the whole file is well formed. ``load_report``
    says what the published contents left out (values the SDK cannot use).
    """

    def __init__(self, path: str | Path, *, reader: BookReader) -> None:
        require_type("path", path, (str, os.PathLike))
        self.path = Path(path)
        self._reader = reader
        contacts, report = self._load()
        super().__init__(contacts, name=str(self.path))
        self.load_report: LoadReport = report

    def reload(self) -> None:
        """Re-read the file; on error the previous contents and report stay, and it raises."""
        contacts, report = self._load()
        self.replace(contacts)
        self.load_report = report

    def _load(self) -> tuple[tuple[Contact, ...], LoadReport]:
        contacts, report = self._reader(read_text(self.path), source=str(self.path))
        if report.dropped:
            # Counts only: the path may name a person, the values certainly do.
            _log.info(
                "address book loaded: %s, %s dropped (see load_report)",
                plural(len(contacts), "contact"),
                plural(len(report.dropped), "unusable value"),
            )
        return contacts, report


class JsonAddressBook(FileAddressBook):
    """An address book loaded from a JSON file (format in the module docstring)."""

    def __init__(self, path: str | Path) -> None:
        super().__init__(path, reader=read_json_address_book)
