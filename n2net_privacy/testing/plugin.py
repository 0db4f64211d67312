"""The n2net_privacy pytest plugin, registered through the ``pytest11`` entry point.

Installing the package gives every test suite these fixtures (a suite's own
fixture of the same name wins):

``scripted_user``
    A :class:`~n2net_privacy.permissions.ScriptedUser` with no answers yet;
    ``scripted_user.push(Answer.GRANT)`` scripts the next prompt.
``android_provider`` / ``ios_provider``
    Simulated Android 14 (API 34) and iOS 18 permission systems answered by
    ``scripted_user``.
``address_book`` / ``address_book_factory``
    A seeded synthetic book of 50 contacts (names with non-ASCII, emails with
    plus-addressing and mixed case, numbers from 16 regions), or a factory
    ``address_book_factory(count, seed=...)``.
``server_key`` / ``ingest_server``
    A fresh HPKE key pair, and the reference ingest server on 127.0.0.1 that
    opens seals with it (app key ``"test-app-key"``).
``gravatar_stand_in``
    The loopback Gravatar stand-in; ``gravatar_stand_in.add_avatar(hash)``.
``egress``
    An :class:`~n2net_privacy.testing.audited.AuditedEgress` for the
    ``address_book`` that opens sealed bodies with ``server_key``; call
    ``egress.assert_no_pii()`` at the end of a test.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator

import pytest

from n2net_privacy.contacts import Contact
from n2net_privacy.permissions import (
    AndroidPermissionProvider,
    IOSPermissionProvider,
    ScriptedUser,
)
from n2net_privacy.testing.audited import AuditedEgress
from n2net_privacy.testing.gravatar_server import GravatarStandIn
from n2net_privacy.testing.ingest_server import IngestServer
from n2net_privacy.testing.synthetic import synthetic_address_book
from n2net_privacy.uploader import ServerKeyPair

__all__ = [
    "TEST_APP_KEY",
    "address_book",
    "address_book_factory",
    "android_provider",
    "egress",
    "gravatar_stand_in",
    "ingest_server",
    "ios_provider",
    "scripted_user",
    "server_key",
]

TEST_APP_KEY = "test-app-key"


@pytest.fixture
def scripted_user() -> ScriptedUser:
    return ScriptedUser()


@pytest.fixture
def android_provider(scripted_user: ScriptedUser) -> AndroidPermissionProvider:
    return AndroidPermissionProvider(api_level=34, user=scripted_user)


@pytest.fixture
def ios_provider(scripted_user: ScriptedUser) -> IOSPermissionProvider:
    return IOSPermissionProvider(ios_version=18, user=scripted_user)


@pytest.fixture
def address_book_factory() -> Callable[..., list[Contact]]:
    def make(count: int = 50, *, seed: int = 0) -> list[Contact]:
        return synthetic_address_book(count, seed=seed)

    return make


@pytest.fixture
def address_book(address_book_factory: Callable[..., list[Contact]]) -> list[Contact]:
    return address_book_factory(50)


@pytest.fixture
def server_key() -> ServerKeyPair:
    return ServerKeyPair.generate(key_id="test-key-1")


@pytest.fixture
def ingest_server(server_key: ServerKeyPair) -> Iterator[IngestServer]:
    server = IngestServer(server_key, app_key=TEST_APP_KEY)
    try:
        yield server
    finally:
        server.close()


@pytest.fixture
def gravatar_stand_in() -> Iterator[GravatarStandIn]:
    with GravatarStandIn() as stand_in:
        yield stand_in


@pytest.fixture
def egress(address_book: list[Contact], server_key: ServerKeyPair) -> AuditedEgress:
    return AuditedEgress(address_book, server_private_key=server_key.private_key)
