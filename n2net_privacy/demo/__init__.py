"""The story ``n2net-privacy demo`` tells: the policy's promises, kept by running code.

Every chapter runs against simulated platforms and loopback servers only, and
states claims that must hold; :func:`run_demo` returns 0 only when all do.
"""

from __future__ import annotations

import sys
from typing import TextIO

from n2net_privacy.demo.permissions import android_chapter, ios_chapter
from n2net_privacy.demo.story import Story
from n2net_privacy.testing.synthetic import synthetic_address_book

__all__ = ["run_demo"]


def run_demo(out: TextIO = sys.stdout, *, contacts: int = 2_000, seed: int = 2026) -> int:
    """Run every chapter; return 0 when every claim held."""
    story = Story(out)
    book = synthetic_address_book(contacts, seed=seed)
    out.write(f"N2Net Mobile privacy demo: {len(book)} synthetic contacts, seed {seed}\n")
    android_chapter(story, book)
    ios_chapter(story, book)
    out.write(f"\n{story.checks - len(story.failures)}/{story.checks} claims held.\n")
    for failure in story.failures:
        out.write(f"FAILED: {failure}\n")
    return 0 if not story.failures else 1
