"""The scenario file, as strict pydantic models: what ``n2net-privacy audit`` runs.

A scenario names a platform, an address book, the user's scripted answers
to permission prompts and an ordered list of steps. Every model is frozen,
rejects unknown keys and does not coerce types (``"3"`` is not a number),
so a typo fails loudly at load time, with its line, instead of running a
different scenario than the one written. Validation errors never carry the
input value (``hide_input_in_errors``): a scenario may hold names, numbers
and emails. The format is documented in docs/scenarios.md.
"""

from __future__ import annotations

from typing import Annotated, Literal, Self, get_args

import phonenumbers
from pydantic import ConfigDict, Discriminator, Field, Tag, field_validator, model_validator

from n2net_privacy.audit.corpus.leaky_client import LeakEncoding, LeakKind, LeakPlace
from n2net_privacy.contacts.model import Contact
from n2net_privacy.models import StrictModel

__all__ = [
    "SCENARIO_VERSION",
    "STEP_TYPES",
    "AddressBookSpec",
    "AndroidPlatform",
    "AnswerSpec",
    "DisableGravatarStep",
    "EnableGravatarStep",
    "FetchAvatarsStep",
    "FlushStep",
    "IOSPlatform",
    "LeakStep",
    "ListContactsStep",
    "MdmRestrictStep",
    "PlatformSpec",
    "Recipient",
    "RecordCallStep",
    "RecordSmsStep",
    "RequestPermissionStep",
    "Scenario",
    "SearchStep",
    "SelectAnswer",
    "ServerOutageStep",
    "SettingsGrantStep",
    "SettingsRevokeStep",
    "SettingsSetLimitedStep",
    "Step",
    "SyntheticBook",
]

SCENARIO_VERSION = 1
MAX_DURATION_S = 2**31 - 1

ContactRef = Annotated[str, Field(min_length=1, max_length=256)]


class _Spec(StrictModel):
    """Frozen, no unknown keys, no coercion, and errors never echo the input."""

    model_config = ConfigDict(hide_input_in_errors=True)


# --- platform ---------------------------------------------------------------------


def _check_region(value: str) -> str:
    if value.upper() not in phonenumbers.SUPPORTED_REGIONS:
        raise ValueError("not a region phonenumbers knows (two letters, such as US or DE)")
    return value.upper()


class _PlatformBase(_Spec):
    region: str = "US"
    """The device's region (SIM or locale): how national-format numbers are read."""

    @field_validator("region")
    @classmethod
    def _region(cls, value: str) -> str:
        return _check_region(value)


class AndroidPlatform(_PlatformBase):
    os: Literal["android"]
    api_level: int = Field(ge=1, le=99)


class IOSPlatform(_PlatformBase):
    os: Literal["ios"]
    ios_version: int = Field(ge=1, le=99)


PlatformSpec = Annotated[AndroidPlatform | IOSPlatform, Field(discriminator="os")]


# --- address book -----------------------------------------------------------------


class SyntheticBook(_Spec):
    """A seeded synthetic book (:func:`~n2net_privacy.testing.synthetic.synthetic_address_book`)."""

    count: int = Field(ge=1, le=100_000)
    seed: int = 0


class AddressBookSpec(_Spec):
    """Exactly one of: a synthetic book, inline contacts, or a JSON/vCard file.

    ``path`` is relative to the scenario file; ``.vcf``/``.vcard`` is read as
    vCard, anything else as the JSON address-book format.
    """

    synthetic: SyntheticBook | None = None
    contacts: tuple[Contact, ...] | None = None
    path: str | None = Field(default=None, min_length=1, max_length=4096)

    @model_validator(mode="after")
    def _exactly_one(self) -> Self:
        given = [self.synthetic is not None, self.contacts is not None, self.path is not None]
        if sum(given) != 1:
            raise ValueError('give exactly one of "synthetic", "contacts" or "path"')
        return self


# --- the user's answers -----------------------------------------------------------


class SelectAnswer(_Spec):
    """iOS 18+: share only these contacts (limited access)."""

    select: tuple[ContactRef, ...]


PromptChoice = Literal["grant", "deny", "deny_dont_ask_again", "dismiss"]


def _answer_tag(value: object) -> str:
    return "select" if isinstance(value, dict) else "answer"


AnswerSpec = Annotated[
    Annotated[PromptChoice, Tag("answer")] | Annotated[SelectAnswer, Tag("select")],
    Discriminator(_answer_tag),
]


# --- steps --------------------------------------------------------------------------


class Recipient(_Spec):
    """Who an SMS or call goes to: a contact's phone (by index) or a literal number.

    A bare string stands for ``{"number": ...}``.
    """

    contact: ContactRef | None = None
    phone: int = Field(default=0, ge=0)
    number: str | None = Field(default=None, min_length=1, max_length=64)

    @model_validator(mode="before")
    @classmethod
    def _bare_number(cls, value: object) -> object:
        return {"number": value} if isinstance(value, str) else value

    @model_validator(mode="after")
    def _one_target(self) -> Self:
        if (self.contact is None) == (self.number is None):
            raise ValueError('give either "contact" (with an optional "phone" index) or "number"')
        if self.number is not None and "phone" in self.model_fields_set:
            raise ValueError('"phone" goes with "contact", not with "number"')
        return self


class RequestPermissionStep(_Spec):
    """The app asks for contacts access; the next scripted answer is used if a prompt shows."""

    step: Literal["request_permission"]


class SettingsGrantStep(_Spec):
    """The user allows contacts access in the system Settings."""

    step: Literal["settings_grant"]


class SettingsRevokeStep(_Spec):
    """The user revokes contacts access in the system Settings."""

    step: Literal["settings_revoke"]


class SettingsSetLimitedStep(_Spec):
    """iOS 18+: the user picks exactly these contacts in Settings (limited access)."""

    step: Literal["settings_set_limited"]
    ids: tuple[ContactRef, ...]


class MdmRestrictStep(_Spec):
    """iOS: a device-management profile restricts contacts access."""

    step: Literal["mdm_restrict"]


class ListContactsStep(_Spec):
    """The contacts screen pages through every visible contact."""

    step: Literal["list_contacts"]
    page_size: int = Field(default=100, ge=1, le=10_000)


class SearchStep(_Spec):
    """The user searches the contacts by name, number or email (local; nothing is sent)."""

    step: Literal["search"]
    by: Literal["name", "number", "email"]
    query: str = Field(min_length=1, max_length=256)


class EnableGravatarStep(_Spec):
    """The user turns Gravatar on in the app's Settings."""

    step: Literal["enable_gravatar"]


class DisableGravatarStep(_Spec):
    """The user turns Gravatar off in the app's Settings."""

    step: Literal["disable_gravatar"]


class FetchAvatarsStep(_Spec):
    """The app fetches avatars for the contacts it can see (at most ``limit``)."""

    step: Literal["fetch_avatars"]
    limit: int | None = Field(default=None, ge=1)
    mode: Literal["async", "blocking"] = "async"


class RecordSmsStep(_Spec):
    """The user sends an SMS; the uploader queues the event."""

    step: Literal["record_sms"]
    to: Recipient


class RecordCallStep(_Spec):
    """The user makes a call of ``duration_s`` seconds; the uploader queues the event."""

    step: Literal["record_call"]
    to: Recipient
    duration_s: int = Field(ge=0, le=MAX_DURATION_S)


class ServerOutageStep(_Spec):
    """The ingest server goes down (``down: true``) or comes back (``down: false``)."""

    step: Literal["server_outage"]
    down: bool


class FlushStep(_Spec):
    """Wait up to ``timeout_s`` for the uploader to deliver everything queued."""

    step: Literal["flush"]
    timeout_s: float = Field(default=5.0, gt=0, le=60)


class LeakStep(_Spec):
    """Send one deliberately leaky request through the same egress (demonstrates the auditor).

    ``contact`` picks whose email, name and first number leak; by default the
    first contact in the book that has all three.
    """

    step: Literal["leak"]
    kind: LeakKind
    place: LeakPlace
    encoding: LeakEncoding = LeakEncoding.PLAIN
    contact: ContactRef | None = None

    @model_validator(mode="after")
    def _gzip_is_for_bodies(self) -> Self:
        bodies = (LeakPlace.BODY_JSON, LeakPlace.BODY_FORM)
        if self.encoding is LeakEncoding.GZIP and self.place not in bodies:
            raise ValueError('encoding "gzip" applies to the places body_json and body_form only')
        return self


Step = Annotated[
    RequestPermissionStep
    | SettingsGrantStep
    | SettingsRevokeStep
    | SettingsSetLimitedStep
    | MdmRestrictStep
    | ListContactsStep
    | SearchStep
    | EnableGravatarStep
    | DisableGravatarStep
    | FetchAvatarsStep
    | RecordSmsStep
    | RecordCallStep
    | ServerOutageStep
    | FlushStep
    | LeakStep,
    Field(discriminator="step"),
]

#: Every step type, in the order docs/scenarios.md lists them.
STEP_TYPES: tuple[str, ...] = tuple(
    model.model_fields["step"].annotation.__args__[0]
    for model in get_args(get_args(Step)[0])
)


# --- the file -----------------------------------------------------------------------


class Scenario(_Spec):
    """One scenario file. ``version`` must be 1."""

    version: int
    title: str | None = Field(default=None, min_length=1, max_length=200)
    platform: PlatformSpec
    address_book: AddressBookSpec
    answers: tuple[AnswerSpec, ...] = ()
    steps: tuple[Step, ...] = Field(min_length=1)

    @field_validator("version")
    @classmethod
    def _known_version(cls, value: int) -> int:
        if value != SCENARIO_VERSION:
            raise ValueError(
                f"unsupported scenario version; this SDK reads version {SCENARIO_VERSION}"
            )
        return value
