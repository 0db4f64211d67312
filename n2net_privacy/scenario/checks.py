"""Checks a scenario needs its address book for: ids that exist, steps the platform has.

The schema says a step is well formed; these say it can run: that each
contact id names a contact in the book, that a phone index is in range,
that limited access is asked of iOS 18+ only. Pure: each problem is a JSON
path and a message (never quoting an id, a name or a number), and the
loader turns the first into a :class:`~n2net_privacy.errors.ScenarioError`
on that path's line (the topmost, if there are several).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from n2net_privacy.contacts.model import Contact
from n2net_privacy.scenario.locate import JsonPath
from n2net_privacy.scenario.model import (
    IOSPlatform,
    LeakStep,
    Recipient,
    RecordCallStep,
    RecordSmsStep,
    Scenario,
    SelectAnswer,
    SettingsSetLimitedStep,
)

__all__ = ["LIMITED_ACCESS_SINCE", "Problem", "leak_source", "scenario_problems"]

#: The first iOS major version with limited contacts access.
LIMITED_ACCESS_SINCE = 18
_IOS_ONLY = frozenset({"settings_set_limited", "mdm_restrict"})
_NO_SUCH_CONTACT = "no contact with this id in the address book"

Problem = tuple[JsonPath, str]


def leak_source(book: Sequence[Contact]) -> Contact | None:
    """The first contact with a name, an email and a number: whose PII a leak step sends."""
    for contact in book:
        if contact.display_name and contact.emails and contact.phones:
            return contact
    return None


def _platform_problems(scenario: Scenario) -> list[Problem]:
    platform = scenario.platform
    problems: list[Problem] = []
    limited_ok = isinstance(platform, IOSPlatform) and platform.ios_version >= LIMITED_ACCESS_SINCE
    for index, step in enumerate(scenario.steps):
        if not isinstance(platform, IOSPlatform) and step.step in _IOS_ONLY:
            problems.append((("steps", index, "step"), f'"{step.step}" exists on iOS only'))
        elif isinstance(step, SettingsSetLimitedStep) and not limited_ok:
            problems.append(
                (("steps", index, "step"), f"limited access needs iOS {LIMITED_ACCESS_SINCE}+")
            )
    for index, answer in enumerate(scenario.answers):
        if isinstance(answer, SelectAnswer) and not limited_ok:
            problems.append(
                (("answers", index, "select"),
                 f'"select" (limited access) needs iOS {LIMITED_ACCESS_SINCE}+')
            )
    return problems


def _recipient_problems(
    to: Recipient, path: JsonPath, by_id: Mapping[str, Contact]
) -> list[Problem]:
    if to.contact is None:
        return []
    contact = by_id.get(to.contact)
    if contact is None:
        return [((*path, "contact"), _NO_SUCH_CONTACT)]
    if to.phone >= len(contact.phones):
        count = len(contact.phones)
        return [((*path, "phone"),
                 f"phone index {to.phone} is out of range: the contact has {count} number(s)")]
    return []


def _id_problems(ids: Sequence[str], path: JsonPath, by_id: Mapping[str, Contact]) -> list[Problem]:
    return [((*path, i), _NO_SUCH_CONTACT) for i, cid in enumerate(ids) if cid not in by_id]


def _leak_problems(
    step: LeakStep, path: JsonPath, book: Sequence[Contact], by_id: Mapping[str, Contact]
) -> list[Problem]:
    if step.contact is None:
        if leak_source(book) is None:
            return [(path, "no contact in the book has a name, an email and a number to leak")]
        return []
    contact = by_id.get(step.contact)
    if contact is None:
        return [((*path, "contact"), _NO_SUCH_CONTACT)]
    if not (contact.display_name and contact.emails and contact.phones):
        return [((*path, "contact"), "this contact lacks a name, an email or a number to leak")]
    return []


def scenario_problems(scenario: Scenario, book: Sequence[Contact]) -> list[Problem]:
    """Everything that would stop ``scenario`` from running against ``book``."""
    by_id = {contact.id: contact for contact in book}
    problems = _platform_problems(scenario)
    for index, answer in enumerate(scenario.answers):
        if isinstance(answer, SelectAnswer):
            problems += _id_problems(answer.select, ("answers", index, "select"), by_id)
    for index, step in enumerate(scenario.steps):
        path: JsonPath = ("steps", index)
        if isinstance(step, RecordSmsStep | RecordCallStep):
            problems += _recipient_problems(step.to, (*path, "to"), by_id)
        elif isinstance(step, SettingsSetLimitedStep):
            problems += _id_problems(step.ids, (*path, "ids"), by_id)
        elif isinstance(step, LeakStep):
            problems += _leak_problems(step, path, book, by_id)
    return problems
