"""Load what can be used: unusable field values are dropped and reported, never fatal.

Phones store a contact's fields as free text: an "email" may hold a note, a
"phone" a name. One such value must not cost the user the whole address book,
so :func:`validate_record` drops it and says so in a :class:`DroppedValue`.
What is dropped:

* a phone whose number is not a number (no digits, letters, over 64
  characters): the whole phone (``field="phones"``);
* a phone label with a control character or over 64 characters: the label
  only, the phone keeps ``"other"`` (``field="phones.label"``);
* an email that is not one address (no ``@``, spaces, over 254 characters):
  that email (``field="emails"``);
* a display name with a control character or over 512 characters: the name,
  which becomes ``""`` as in books with unnamed entries (``field="display_name"``);
* an id, only where the caller has a fallback (a vCard ``UID`` is replaced by
  a derived id; a JSON ``id`` has none, field="id").

A broken *shape* is still an error: a wrong type, a missing ``id``, an
unknown key. Those say the file is not an address book in this format.

A :class:`LoadReport` gathers the drops of one load. Like every SDK error it
never quotes a value: it says which card or record, which field and why.

>>> report = LoadReport("book.vcf", "card", 2, (DroppedValue(1, "emails", "no @"),))
>>> report.counts()
{('emails', 'no @'): 1}
>>> str(report)
'book.vcf: 2 cards loaded; 1 value dropped: card 1: emails: no @'
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from pydantic import ValidationError

from n2net_privacy.contacts.model import Contact
from n2net_privacy.wording import plural

__all__ = ["DroppedValue", "LoadReport", "Locate", "validate_record"]

#: Pydantic error types that say "this string is not usable", as opposed to
#: "this is not the right kind of thing" (a number where text belongs...).
_VALUE_ERRORS = frozenset(
    {"value_error", "string_too_long", "string_too_short", "too_long", "too_short"}
)
_MAX_LISTED = 5

#: Maps a field (``"phones"``, ``"emails"``, ``"display_name"``, ``"id"``) and
#: the position in it (or ``None``) to the line it came from, if known.
Locate = Callable[[str, int | None], int | None]


@dataclass(frozen=True, slots=True)
class DroppedValue:
    """One field value left out of a contact: where and why, never what.

    ``index`` is the 0-based card (vCard) or record (JSON) index, counted as
    :class:`~n2net_privacy.errors.AddressBookError` locations count them;
    ``line`` the 1-based line of a vCard property, when known.
    """

    index: int
    field: str
    reason: str
    line: int | None = None

    def describe(self, unit: str) -> str:
        """``card 4 (line 44): emails: not an email address``, as errors locate things."""
        line = f" (line {self.line})" if self.line is not None else ""
        return f"{unit} {self.index}{line}: {self.field}: {self.reason}"


@dataclass(frozen=True, slots=True)
class LoadReport:
    """What one load of an address book kept and dropped.

    ``unit`` is ``"card"`` or ``"record"``; ``contacts`` how many were loaded
    (every card or record gives one contact, however many values it lost).
    ``dropped`` lists each value left out, in file order. An app can show
    ``str(report)`` to the developer, or the counts to the user ("3 numbers
    could not be read").
    """

    source: str
    unit: str
    contacts: int
    dropped: tuple[DroppedValue, ...] = ()

    @property
    def complete(self) -> bool:
        """Whether every value was loaded."""
        return not self.dropped

    def counts(self) -> dict[tuple[str, str], int]:
        """How many values were dropped, by ``(field, reason)``."""
        return dict(Counter((d.field, d.reason) for d in self.dropped))

    def __str__(self) -> str:
        head = f"{self.source}: {plural(self.contacts, self.unit)} loaded"
        if not self.dropped:
            return head
        count = len(self.dropped)
        listed = "; ".join(d.describe(self.unit) for d in self.dropped[:_MAX_LISTED])
        more = f"; and {count - _MAX_LISTED:,} more" if count > _MAX_LISTED else ""
        return f"{head}; {plural(count, 'value')} dropped: {listed}{more}"


def _reason(error: Mapping[str, Any]) -> str:
    """Our validators' own words, or the bound that was broken; never the value."""
    ctx = error.get("ctx", {})
    if error["type"] == "value_error":
        return str(ctx.get("error", "invalid value"))
    if error["type"] in ("too_long", "string_too_long") and "max_length" in ctx:
        return f"longer than {plural(int(ctx['max_length']), 'character')}"
    if error["type"] in ("too_short", "string_too_short"):
        return "empty"
    return str(error["type"]).replace("_", " ")


def validate_record(
    record: dict[str, Any],
    *,
    index: int,
    fallback_id: str | None = None,
    locate: Locate | None = None,
) -> tuple[Contact, list[DroppedValue]]:
    """Validate ``record`` into a contact, dropping the values it cannot use.

    Raises :class:`pydantic.ValidationError` for what remains wrong after
    that: a broken shape, or an unusable ``id`` with no ``fallback_id``. The
    caller maps it to an :class:`~n2net_privacy.errors.AddressBookError`.
    """
    try:
        return Contact.model_validate(record), []
    except ValidationError as exc:
        errors = exc.errors(include_url=False, include_input=False)
    fixed = dict(record)
    found: list[tuple[str, int | None, str]] = []  # (field, position, reason)
    gone: dict[str, set[int]] = {"phones": set(), "emails": set()}
    relabel: set[int] = set()
    for error in errors:
        if error["type"] not in _VALUE_ERRORS:
            continue
        match tuple(error["loc"]):
            case ("display_name",):
                fixed["display_name"] = ""
                found.append(("display_name", None, _reason(error)))
            case ("id",) if fallback_id is not None:
                fixed["id"] = fallback_id
                found.append(("id", None, _reason(error)))
            case ("emails", int(position)):
                gone["emails"].add(position)
                found.append(("emails", position, _reason(error)))
            case ("phones", int(position), "number"):
                gone["phones"].add(position)
                found.append(("phones", position, _reason(error)))
            case ("phones", int(position), "label"):
                relabel.add(position)
                found.append(("phones.label", position, _reason(error)))
    if gone["emails"]:
        fixed["emails"] = [e for i, e in enumerate(fixed["emails"]) if i not in gone["emails"]]
    if gone["phones"] or relabel:
        fixed["phones"] = [
            {**p, "label": "other"} if i in relabel else p
            for i, p in enumerate(fixed["phones"])
            if i not in gone["phones"]
        ]
    drops = [
        DroppedValue(index, field, reason, _line(locate, field, position))
        for field, position, reason in found
        # A phone dropped for its number is one drop, whatever its label was.
        if not (field == "phones.label" and position in gone["phones"])
    ]
    drops.sort(key=lambda d: d.line or 0)  # file order where lines are known; stable otherwise
    return Contact.model_validate(fixed), drops


def _line(locate: Locate | None, field: str, position: int | None) -> int | None:
    return locate(field.partition(".")[0], position) if locate is not None else None
