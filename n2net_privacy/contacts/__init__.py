"""Permission-gated contacts: the record, the address-book sources and the gateway.

The app talks to :class:`ContactsGateway`; it reads from an
:class:`AddressBookSource` (:class:`InMemoryAddressBook`,
:class:`JsonAddressBook`, :class:`VCardAddressBook`) and asks a
:class:`PermissionView` (the permission service) before every read. A file
book's ``load_report`` (:class:`LoadReport`) says which unusable values it
dropped.
"""

from __future__ import annotations

from n2net_privacy.contacts.gateway import ContactsGateway, PermissionView
from n2net_privacy.contacts.lenient import DroppedValue, LoadReport
from n2net_privacy.contacts.model import Contact, ContactField, ContactPhone
from n2net_privacy.contacts.results import (
    ContactLookup,
    ContactPage,
    ContactsDelta,
    ContactsListener,
)
from n2net_privacy.contacts.sources import (
    AddressBookSnapshot,
    AddressBookSource,
    InMemoryAddressBook,
    JsonAddressBook,
    contacts_from_records,
    parse_json_address_book,
    read_json_address_book,
    read_records,
)
from n2net_privacy.contacts.vcard import VCardAddressBook, parse_vcard, read_vcard

__all__ = [
    "AddressBookSnapshot",
    "AddressBookSource",
    "Contact",
    "ContactField",
    "ContactLookup",
    "ContactPage",
    "ContactPhone",
    "ContactsDelta",
    "ContactsGateway",
    "ContactsListener",
    "DroppedValue",
    "InMemoryAddressBook",
    "JsonAddressBook",
    "LoadReport",
    "PermissionView",
    "VCardAddressBook",
    "contacts_from_records",
    "parse_json_address_book",
    "parse_vcard",
    "read_json_address_book",
    "read_records",
    "read_vcard",
]
