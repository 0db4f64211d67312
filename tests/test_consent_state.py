"""The consent tables: every (origin, kind) has its effects, in the one fixed order."""

from __future__ import annotations

import pytest

from n2net_privacy.consent import EFFECTS, KINDS, Effect, Kind, Origin, classify

E = Effect
ORDER = [E.SAVE, E.PUBLISH, E.CANCEL_AND_PURGE, E.NOTIFY, E.PERSIST]


@pytest.mark.parametrize(
    ("was", "now", "killed", "kind"),
    [
        (False, False, False, Kind.CHANGE),
        (False, True, False, Kind.GRANT),
        (True, False, False, Kind.REVOKE),
        (True, True, False, Kind.CHANGE),
        (True, True, True, Kind.RESET),  # iOS kills the app on any privacy change
        (False, True, True, Kind.RESET),
        (True, False, True, Kind.REVOKE),
        (False, False, True, Kind.RESET),
    ],
)
def test_classify(was: bool, now: bool, killed: bool, kind: Kind) -> None:
    assert classify(was_allowed=was, now_allowed=now, app_killed=killed) is kind


def test_every_origin_and_kind_has_effects_in_the_one_order() -> None:
    assert set(KINDS.values()) | {Kind.RESET} == set(Kind)
    for origin in Origin:
        for kind in Kind:
            effects = EFFECTS[origin, kind]
            assert list(effects) == sorted(effects, key=ORDER.index), (origin, kind)
            assert E.PUBLISH in effects and E.NOTIFY in effects


@pytest.mark.parametrize("origin", list(Origin))
@pytest.mark.parametrize("kind", [Kind.REVOKE, Kind.RESET])
def test_a_withdrawal_is_published_first_and_saved_last(origin: Origin, kind: Kind) -> None:
    assert EFFECTS[origin, kind] == (E.PUBLISH, E.CANCEL_AND_PURGE, E.NOTIFY, E.PERSIST)


def test_a_user_grant_counts_only_once_saved_a_platform_grant_is_a_fact() -> None:
    assert EFFECTS[Origin.USER, Kind.GRANT][0] is E.SAVE
    assert E.PERSIST not in EFFECTS[Origin.USER, Kind.GRANT]
    assert EFFECTS[Origin.PLATFORM, Kind.GRANT] == (E.PUBLISH, E.NOTIFY, E.PERSIST)
