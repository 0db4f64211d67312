"""The narrator of the demo: chapters, a timeline, and checks that must hold.

A demo that only prints can lie. Each chapter states its claims through
:meth:`Story.check`; ``n2net-privacy demo`` exits non-zero when one fails.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TextIO

from n2net_privacy.audit import TimelineEvent
from n2net_privacy.runtime import Clock, epoch_seconds, utc_now

__all__ = ["Story"]


@dataclass
class Story:
    """The demo's narration; ``clock`` (aware UTC) stamps the timeline in Unix seconds."""

    out: TextIO
    clock: Clock = utc_now
    timeline: list[TimelineEvent] = field(default_factory=list)
    failures: list[str] = field(default_factory=list)
    checks: int = 0

    def chapter(self, title: str) -> None:
        self.out.write(f"\n== {title} ==\n")

    def say(self, text: str) -> None:
        self.out.write(f"   {text}\n")

    def event(self, actor: str, what: str) -> None:
        """Record a permission/Settings change on the timeline and narrate it."""
        self.timeline.append(TimelineEvent(epoch_seconds(self.clock), actor, what))
        self.out.write(f" * [{actor}] {what}\n")

    def check(self, holds: bool, claim: str) -> None:
        """State a claim the running code must bear out."""
        self.checks += 1
        mark = "ok " if holds else "FAIL"
        self.out.write(f"   [{mark}] {claim}\n")
        if not holds:
            self.failures.append(claim)
        self.out.flush()
