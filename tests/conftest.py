"""Fixtures every test module may ask for; the fakes themselves live in ``_support``."""

from __future__ import annotations

import pytest
from _support import FakeClock


@pytest.fixture
def fake_clock() -> FakeClock:
    """A fresh virtual clock: aware-UTC ``clock()``, float ``monotonic()``, ``sleep``, ``wait``."""
    return FakeClock()
