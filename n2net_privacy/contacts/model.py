"""The contact record the SDK hands to the app, and field selection.

A :class:`Contact` is strict on the way in: address-book input is untrusted,
so a record with a wrong type, an extra key, a control character in a name,
a "number" without digits or an "email" without ``@`` is rejected instead
of being coerced. Validation errors never echo the input
(``hide_input_in_errors``), so a bad record's name or number cannot end up
in a traceback. The address-book loaders build on this strictness without
being fatal: a value the model refuses is dropped from its contact and
reported (:mod:`n2net_privacy.contacts.lenient`).

>>> Contact(id="c1", display_name="Ann Lee",
...         phones=(ContactPhone(number="+1 215 555 2671", label="mobile"),),
...         emails=("ann@example.com",)).phones[0].label
'mobile'
"""

from __future__ import annotations

import re
from collections.abc import Collection
from enum import StrEnum
from typing import Annotated

from pydantic import AfterValidator, BaseModel, ConfigDict, Field, StrictStr

from n2net_privacy.checks import quoted, require_type
from n2net_privacy.errors import InvalidArgumentError, InvalidArgumentTypeError

__all__ = [
    "ALL_FIELDS",
    "Contact",
    "ContactField",
    "ContactPhone",
    "project",
    "resolve_fields",
]

_CONTROL = re.compile(r"[\x00-\x1f\x7f]")
# Digits with the punctuation people type into numbers, an optional leading
# plus, and an optional extension ("x12", "ext. 12", "#12", ",12", ";ext=12").
_PHONE = re.compile(
    r"\+?[\d\s().\-/]*\d[\d\s().\-/]*(?:\s*(?:ext\.?|x|#|,|;ext=)\s*\d+)?",
    re.IGNORECASE,
)
_EMAIL = re.compile(r"[^\s@]+@[^\s@]+")


def _no_control_chars(value: str) -> str:
    # Messages describe the problem only; the value itself is never echoed.
    if _CONTROL.search(value):
        raise ValueError("contains a control character")
    return value


def _stripped(value: str) -> str:
    return _no_control_chars(value.strip())


def _phone_number(value: str) -> str:
    value = _stripped(value)
    if not _PHONE.fullmatch(value):
        raise ValueError("not a phone number (digits, spaces, + - ( ) . / and an extension only)")
    return value


def _email(value: str) -> str:
    value = _stripped(value)
    if not _EMAIL.fullmatch(value):
        raise ValueError("not an email address (one @, no spaces)")
    return value


def _label(value: str) -> str:
    value = _stripped(value).lower()
    if not value:
        raise ValueError("empty label")
    return value


ContactId = Annotated[StrictStr, AfterValidator(_stripped), Field(min_length=1, max_length=256)]
DisplayName = Annotated[StrictStr, AfterValidator(_stripped), Field(max_length=512)]
PhoneText = Annotated[StrictStr, Field(max_length=64), AfterValidator(_phone_number)]
Label = Annotated[StrictStr, Field(max_length=64), AfterValidator(_label)]
EmailText = Annotated[StrictStr, Field(max_length=254), AfterValidator(_email)]


class ContactPhone(BaseModel):
    """One phone number as the address book stores it, with its label.

    ``number`` is kept as typed (``"(215) 555-2671"``); E.164 normalization
    is a separate step. ``label`` is lower-cased: ``"mobile"``, ``"home"``...
    """

    model_config = ConfigDict(
        frozen=True, extra="forbid", hide_input_in_errors=True, defer_build=True
    )

    number: PhoneText
    label: Label = "other"


class Contact(BaseModel):
    """One address-book entry: a stable id, a display name, numbers and emails.

    ``id`` is the address book's own identifier (a vCard UID, a platform
    contact id); ``display_name`` may be empty, as in real books.
    """

    model_config = ConfigDict(
        frozen=True, extra="forbid", hide_input_in_errors=True, defer_build=True
    )

    id: ContactId
    display_name: DisplayName = ""
    phones: tuple[ContactPhone, ...] = ()
    emails: tuple[EmailText, ...] = ()


class ContactField(StrEnum):
    """A field the app may select when listing; ``id`` is always included."""

    NAME = "name"
    PHONES = "phones"
    EMAILS = "emails"


ALL_FIELDS: frozenset[ContactField] = frozenset(ContactField)


def resolve_fields(fields: Collection[ContactField | str] | None) -> frozenset[ContactField]:
    """Turn the app's field selection into a set; ``None`` means every field.

    A name that is not a :class:`ContactField` is an
    :class:`~n2net_privacy.errors.InvalidArgumentError` (a ``ValueError``)
    listing the valid names; a lone string or a non-collection is an
    :class:`~n2net_privacy.errors.InvalidArgumentTypeError`.
    """
    if fields is None:
        return ALL_FIELDS
    if isinstance(fields, str):
        raise InvalidArgumentTypeError(
            "fields must be a collection of field names, such as {'name'}, not one str"
        )
    require_type("fields", fields, Collection, hint="such as {'name', 'phones'}")
    chosen: set[ContactField] = set()
    for field in fields:
        if not isinstance(field, str) or field not in _FIELD_NAMES:
            # quoted() shows it only when it looks like a field name: never contact data.
            raise InvalidArgumentError(
                f"fields: {quoted(field)} is not a contact field; choose from "
                f"{', '.join(repr(name) for name in sorted(_FIELD_NAMES))} (id is always included)"
            )
        chosen.add(ContactField(field))
    return frozenset(chosen)


_FIELD_NAMES = frozenset(str(f) for f in ContactField)


def project(contact: Contact, fields: frozenset[ContactField]) -> Contact:
    """Return ``contact`` with unselected fields emptied (``""`` or ``()``).

    The full selection returns the very same object, so the common listing
    path allocates nothing.
    """
    if fields == ALL_FIELDS:
        return contact
    update: dict[str, object] = {}
    if ContactField.NAME not in fields:
        update["display_name"] = ""
    if ContactField.PHONES not in fields:
        update["phones"] = ()
    if ContactField.EMAILS not in fields:
        update["emails"] = ()
    return contact.model_copy(update=update)
