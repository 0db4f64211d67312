"""The one ``with obj:`` -> ``obj.close()`` mixin."""

from __future__ import annotations

import pytest

from n2net_privacy._closing import ClosingContextManager


class Resource(ClosingContextManager):
    def __init__(self) -> None:
        self.closed = 0

    def close(self) -> None:
        self.closed += 1


def test_enter_gives_the_object_and_exit_closes_it() -> None:
    resource = Resource()
    with resource as entered:
        assert entered is resource
        assert resource.closed == 0
    assert resource.closed == 1


def test_an_exception_in_the_block_still_closes_and_propagates() -> None:
    resource = Resource()
    with pytest.raises(KeyError), resource:
        raise KeyError("boom")
    assert resource.closed == 1


def test_the_mixin_adds_no_instance_state() -> None:
    assert ClosingContextManager.__slots__ == ()
