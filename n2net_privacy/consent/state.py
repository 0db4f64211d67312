"""Consent as data: which kind of change a transition is, and which effects it needs, in order.

In the manner of h11's ``_state.py``, the whole consent machine is tables:
:data:`KINDS` says what a change *is* from whether access was allowed before
and after, and :data:`EFFECTS` says what must happen for it, in order. The
:class:`~n2net_privacy.consent.core.ConsentCore` only walks the tuple it is
given; nothing else decides.

Two origins differ in one point, the moment a grant counts:

* ``USER`` (an in-app Settings toggle): the SDK holds the consent, so a grant
  counts only once it is saved (``SAVE`` comes first and a failure raises).
* ``PLATFORM`` (the OS permission): the OS holds the grant; the SDK only
  records what it learned, so saving is always last and never blocks.

A revocation has the same effects from either origin: ``PUBLISH`` (every
later check reads the new state), ``CANCEL_AND_PURGE`` (in-flight work and
caches), ``NOTIFY`` (listeners, through one serial dispatcher), then
``PERSIST``, whose failure is reported and never undoes the revocation.

>>> classify(was_allowed=True, now_allowed=False)
<Kind.REVOKE: 'revoke'>
>>> [e.value for e in EFFECTS[Origin.USER, Kind.REVOKE]]
['publish', 'cancel_and_purge', 'notify', 'persist']
>>> [e.value for e in EFFECTS[Origin.USER, Kind.GRANT]]
['save', 'publish', 'notify']

A ``SAVE``-first transition that a withdrawal overtook while it was being
saved ("withdrawn since version V") is decided again on top of it, and
:data:`SUPERSEDED` says what then happens: a grant is dropped (the later
call wins), any other change is saved again.

>>> SUPERSEDED[Origin.USER, Kind.GRANT].value
'drop'
"""

from __future__ import annotations

from collections.abc import Mapping
from enum import StrEnum

__all__ = ["EFFECTS", "KINDS", "SUPERSEDED", "Effect", "Kind", "Origin", "Superseded", "classify"]


class Origin(StrEnum):
    """Who holds the consent: the user through the app's Settings, or the platform."""

    USER = "user"
    PLATFORM = "platform"


class Kind(StrEnum):
    """What a change means for consent."""

    GRANT = "grant"  # no access before, access now
    REVOKE = "revoke"  # access before, none now
    RESET = "reset"  # access kept, but what the SDK held must go (an app kill)
    CHANGE = "change"  # consent unchanged (a hash algorithm, DENIED -> BLOCKED, a new selection)


class Effect(StrEnum):
    """One step a transition takes; a transition's steps always run in table order."""

    SAVE = "save"  # write the proposed state; on failure nothing else happens and it raises
    PUBLISH = "publish"  # swap the new state in: every later check reads it
    CANCEL_AND_PURGE = "cancel_and_purge"  # stop in-flight work, drop caches, synchronously
    NOTIFY = "notify"  # hand the change to the serial dispatcher
    PERSIST = "persist"  # write the published state; a failure is reported, never raised


class Superseded(StrEnum):
    """What a ``SAVE``-first transition does when the version it was decided on is withdrawn.

    Only transitions without ``SAVE`` (a withdrawal) can be published while
    one is being saved. When that happens the transition is decided again on
    top of the state now in force, and the new decision's kind says which:
    """

    RESAVE = "resave"  # still a change on top of it: save that, then publish
    DROP = "drop"  # the later call wins: give up, and rewrite the disk with what is in force


#: (origin, kind decided again) -> what a SAVE-first transition does when a
#: transition was published while it was being saved ("withdrawn since version V").
SUPERSEDED: Mapping[tuple[Origin, Kind], Superseded] = {
    (Origin.USER, Kind.GRANT): Superseded.DROP,  # a grant never outlives a later withdrawal
    (Origin.USER, Kind.CHANGE): Superseded.RESAVE,  # e.g. a hash algorithm, on top of "off"
}

#: (access allowed before, access allowed after) -> kind, before an app kill is considered.
KINDS: Mapping[tuple[bool, bool], Kind] = {
    (False, False): Kind.CHANGE,
    (False, True): Kind.GRANT,
    (True, False): Kind.REVOKE,
    (True, True): Kind.CHANGE,
}

_E = Effect
_AFTER_THE_FACT = (_E.PUBLISH, _E.NOTIFY, _E.PERSIST)
_WITHDRAWAL = (_E.PUBLISH, _E.CANCEL_AND_PURGE, _E.NOTIFY, _E.PERSIST)
_DURABLE_FIRST = (_E.SAVE, _E.PUBLISH, _E.NOTIFY)

#: (origin, kind) -> the effects of the transition, in the order they run.
EFFECTS: Mapping[tuple[Origin, Kind], tuple[Effect, ...]] = {
    (Origin.USER, Kind.GRANT): _DURABLE_FIRST,
    (Origin.USER, Kind.CHANGE): _DURABLE_FIRST,
    (Origin.USER, Kind.REVOKE): _WITHDRAWAL,
    (Origin.USER, Kind.RESET): _WITHDRAWAL,
    (Origin.PLATFORM, Kind.GRANT): _AFTER_THE_FACT,
    (Origin.PLATFORM, Kind.CHANGE): _AFTER_THE_FACT,
    (Origin.PLATFORM, Kind.REVOKE): _WITHDRAWAL,
    (Origin.PLATFORM, Kind.RESET): _WITHDRAWAL,
}


def classify(*, was_allowed: bool, now_allowed: bool, app_killed: bool = False) -> Kind:
    """The kind of a change; an app kill that leaves access on is a RESET."""
    kind = KINDS[was_allowed, now_allowed]
    if app_killed and kind is not Kind.REVOKE:
        return Kind.RESET
    return kind
