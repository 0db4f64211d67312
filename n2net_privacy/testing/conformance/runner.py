"""Run the checks against one ingest and collect a :class:`Report`.

>>> [check.name for check in select("idempotency-*")]
['idempotency-replay', 'idempotency-key-conflict']
"""

from __future__ import annotations

import fnmatch
from collections.abc import Iterable

from n2net_privacy.errors import ConfigurationError, N2NetPrivacyError
from n2net_privacy.testing.conformance.accepting import ACCEPTING
from n2net_privacy.testing.conformance.model import (
    Check,
    CheckFailed,
    CheckResult,
    CheckSkipped,
    KitRuntime,
    Report,
    S,
    Target,
    Verdict,
)
from n2net_privacy.testing.conformance.observing import OBSERVING
from n2net_privacy.testing.conformance.refusing import REFUSING
from n2net_privacy.testing.conformance.session import ProbeClient, Session

__all__ = ["CHECKS", "chosen", "patterns", "run_checks", "run_conformance", "select"]

CHECKS: tuple[Check[Session], ...] = ACCEPTING + REFUSING + OBSERVING
"""Every check, in the order a run takes them (the observing ones last)."""


def patterns(only: str | None, names: Iterable[str]) -> tuple[str, ...] | None:
    """``only`` split into globs, each checked to match one of ``names``; None for all.

    Raises :class:`ConfigurationError` when a pattern matches no check.
    """
    if only is None:
        return None
    globs = tuple(part.strip() for part in only.split(",") if part.strip())
    if not globs:
        raise ConfigurationError("--only needs at least one check name or pattern")
    known = tuple(names)
    for glob in globs:
        if not any(fnmatch.fnmatchcase(name, glob) for name in known):
            raise ConfigurationError(f"--only {glob!r} matches no check")
    return globs


def chosen(checks: tuple[Check[S], ...], globs: tuple[str, ...] | None) -> tuple[Check[S], ...]:
    """The checks whose names match one of ``globs`` (all of them for None)."""
    if globs is None:
        return checks
    return tuple(c for c in checks if any(fnmatch.fnmatchcase(c.name, g) for g in globs))


def select(only: str | None = None) -> tuple[Check[Session], ...]:
    """The ingest checks whose names match ``only``: comma-separated globs (all when None).

    Raises :class:`ConfigurationError` when a pattern matches no check.
    """
    return chosen(CHECKS, patterns(only, (check.name for check in CHECKS)))


def run_checks(checks: Iterable[Check[S]], session: S) -> tuple[CheckResult, ...]:
    """Run ``checks`` in order on ``session``; one result each."""
    return tuple(_run_one(check, session) for check in checks)


def _run_one(check: Check[S], session: S) -> CheckResult:
    session.check = check.name
    started = session.runtime.monotonic()
    verdict, message = Verdict.PASSED, ""
    try:
        message = check.run(session) or ""
    except CheckFailed as exc:
        verdict, message = Verdict.FAILED, str(exc)
    except CheckSkipped as exc:
        verdict, message = Verdict.SKIPPED, str(exc)
    except N2NetPrivacyError as exc:
        # A refusal of the door, say: the check could not be carried out, which is a failure.
        verdict, message = Verdict.FAILED, f"{type(exc).__name__}: {exc}"
    duration = max(0.0, session.runtime.monotonic() - started)
    return CheckResult(check.name, check.contract, verdict, message, duration)


def run_conformance(
    target: Target,
    client: ProbeClient,
    *,
    only: str | None = None,
    runtime: KitRuntime | None = None,
) -> Report:
    """Run the selected checks, in order, against ``target`` through ``client``.

    ``client`` is an egress client for :attr:`Purpose.N2NET_API
    <n2net_privacy.egress.Purpose.N2NET_API>` whose policy admits the target.
    """
    checks = select(only)
    session = Session(target, client, runtime or KitRuntime())
    return Report(target=session.events_url, results=run_checks(checks, session))
