"""The n2net_privacy pytest plugin, registered through the ``pytest11`` entry point.

Installing the package gives every test suite these fixtures (a suite's own
fixture of the same name wins); ``pytest --fixtures`` shows each docstring and
docs/pytest-plugin.md has a runnable example of each:

``scripted_user``, ``android_provider``, ``ios_provider``
    A scripted user and the simulated Android 14 / iOS 18 permission systems.
``address_book`` / ``address_book_factory``
    Seeded synthetic books; every book they build is known to ``egress``.
``server_key`` / ``ingest_server`` / ``gravatar_stand_in``
    The loopback servers.
``egress``
    An :class:`~n2net_privacy.testing.audited.AuditedEgress` that FAILS the
    test on its own: on any finding the test never asserted, and when the
    test audited no request at all. Any other ``Egress`` built during the
    test (``N2NetPrivacy(egress=None)`` builds one) gets the same auditor.
    The records of every logger during the test are audited as well
    (``log.pii``).

Markers: ``n2net_allow_findings`` (findings do not fail the test),
``n2net_no_requests`` (zero audited requests is fine) and
``n2net_manifest(MANIFEST)`` (hold ``egress`` to a privacy manifest: a path to
``PrivacyInfo.xcprivacy`` or Data safety JSON, or a ``ManifestConfig``).
"""

from __future__ import annotations

from collections.abc import Callable, Generator, Iterator

import pytest

from n2net_privacy.audit.logs import LogWatch
from n2net_privacy.contacts import Contact
from n2net_privacy.egress import Egress, on_new_egress
from n2net_privacy.manifest import (
    DeclaredManifest,
    ManifestConfig,
    ios_plist,
    load_manifest,
    parse_manifest,
)
from n2net_privacy.permissions import AndroidPermissionProvider, IOSPermissionProvider
from n2net_privacy.simulation import ScriptedUser
from n2net_privacy.testing.audited import AuditedEgress
from n2net_privacy.testing.servers.gravatar import GravatarStandIn
from n2net_privacy.testing.servers.ingest import IngestServer
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
_ALLOW_FINDINGS = "n2net_allow_findings"
_NO_REQUESTS = "n2net_no_requests"
_MANIFEST = "n2net_manifest"
_EGRESS_KEY = pytest.StashKey[AuditedEgress]()
_BOOKS_KEY = pytest.StashKey["_KnownBooks"]()


class _KnownBooks:
    """Every contact the test's factories built, handed to the test's auditor."""

    def __init__(self) -> None:
        self.contacts: list[Contact] = []
        self.egress: AuditedEgress | None = None

    def add(self, contacts: list[Contact]) -> None:
        self.contacts.extend(contacts)
        if self.egress is not None:
            self.egress.add_contacts(contacts)


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line(
        "markers", f"{_ALLOW_FINDINGS}: the egress fixture does not fail the test on findings"
    )
    config.addinivalue_line(
        "markers", f"{_NO_REQUESTS}: the egress fixture accepts a test that audits no request"
    )
    config.addinivalue_line(
        "markers", f"{_MANIFEST}(manifest): hold the egress fixture to a privacy manifest "
        "(a path, a ManifestConfig or a DeclaredManifest)",
    )


def _marked_manifest(item: pytest.Item) -> DeclaredManifest | None:
    marker = item.get_closest_marker(_MANIFEST)
    if marker is None:
        return None
    if len(marker.args) != 1:
        raise pytest.UsageError(f"@pytest.mark.{_MANIFEST} takes one argument: the manifest")
    manifest = marker.args[0]
    if isinstance(manifest, DeclaredManifest):
        return manifest
    if isinstance(manifest, ManifestConfig):
        return parse_manifest(ios_plist(manifest), repr(manifest))
    return load_manifest(manifest)


def _verdict(item: pytest.Item, egress: AuditedEgress, *, requests: bool = True) -> list[str]:
    findings = item.get_closest_marker(_ALLOW_FINDINGS) is None
    return egress.unverified(findings=findings, requests=requests)


@pytest.hookimpl(wrapper=True)
def pytest_runtest_call(item: pytest.Item) -> Generator[None, object, object]:
    """After a passing test body, fail it on what its ``egress`` never checked."""
    result = yield
    egress = item.stash.get(_EGRESS_KEY, None)
    if egress is not None:
        problems = _verdict(item, egress)
        if problems:
            egress.acknowledge_findings()  # reported here, not again at teardown
            raise AssertionError("\n".join(problems))
    return result


@pytest.fixture
def scripted_user() -> ScriptedUser:
    """A scripted user with no answers yet; ``scripted_user.push(Answer.GRANT)`` scripts one."""
    return ScriptedUser()


@pytest.fixture
def android_provider(scripted_user: ScriptedUser) -> AndroidPermissionProvider:
    """A simulated Android 14 (API 34) permission system answered by ``scripted_user``."""
    return AndroidPermissionProvider(api_level=34, user=scripted_user)


@pytest.fixture
def ios_provider(scripted_user: ScriptedUser) -> IOSPermissionProvider:
    """A simulated iOS 18 permission system answered by ``scripted_user``."""
    return IOSPermissionProvider(ios_version=18, user=scripted_user)


@pytest.fixture
def _n2net_known_books(request: pytest.FixtureRequest) -> _KnownBooks:
    books = _KnownBooks()
    request.node.stash[_BOOKS_KEY] = books
    return books


@pytest.fixture
def address_book_factory(_n2net_known_books: _KnownBooks) -> Callable[..., list[Contact]]:
    """``address_book_factory(count=50, *, seed=0)``: a seeded synthetic book.

    Names with non-ASCII letters, emails with plus-addressing and mixed case,
    numbers from 16 regions. Every book built here is known to the test's
    ``egress`` auditor, before or after the fixture is created.
    """

    def make(count: int = 50, *, seed: int = 0) -> list[Contact]:
        book = synthetic_address_book(count, seed=seed)
        _n2net_known_books.add(book)
        return book

    return make


@pytest.fixture
def address_book(address_book_factory: Callable[..., list[Contact]]) -> list[Contact]:
    """The default book: ``address_book_factory(50, seed=0)``."""
    return address_book_factory(50)


@pytest.fixture
def server_key() -> ServerKeyPair:
    """A fresh HPKE key pair (``key_id="test-key-1"``) for the ingest server and the auditor."""
    return ServerKeyPair.generate(key_id="test-key-1")


@pytest.fixture
def ingest_server(server_key: ServerKeyPair) -> Iterator[IngestServer]:
    """The reference ingest server on 127.0.0.1, opening seals with ``server_key``.

    Its app key is ``TEST_APP_KEY`` (``"test-app-key"``); ``ingest_server.url``
    is the base URL. Closed after the test.
    """
    server = IngestServer(server_key, app_key=TEST_APP_KEY)
    try:
        yield server
    finally:
        server.close()


@pytest.fixture
def gravatar_stand_in() -> Iterator[GravatarStandIn]:
    """The loopback Gravatar stand-in; ``gravatar_stand_in.add_avatar(hash)`` adds a picture."""
    with GravatarStandIn() as stand_in:
        yield stand_in


@pytest.fixture
def egress(
    request: pytest.FixtureRequest,
    address_book: list[Contact],
    server_key: ServerKeyPair,
    _n2net_known_books: _KnownBooks,
) -> Iterator[AuditedEgress]:
    """An audited loopback egress that fails the test on its own.

    It knows every book from ``address_book``/``address_book_factory`` (and
    ``egress.add_contacts(...)``), opens sealed uploads with ``server_key``,
    and allows only 127.0.0.1. The test FAILS when a finding was never
    asserted (``egress.assert_no_pii()``; marker ``n2net_allow_findings`` opts
    out) or when fewer requests were audited than ``egress.expect_requests``
    asks (1 by default; marker ``n2net_no_requests`` or ``min=0`` opts out).
    Any other ``Egress`` built during the test gets this auditor as well.
    With ``@pytest.mark.n2net_manifest(path_or_config)`` every request is held
    to that privacy manifest: what it does not declare is a
    ``manifest.undeclared`` finding (``egress.use_manifest(...)`` does the same).
    Logs are an egress: while the test runs, every logger's records are
    audited too, and the book's PII in one is a ``log.pii`` finding.
    """
    audited = AuditedEgress(_n2net_known_books.contacts,
                            server_private_key=server_key.private_key,
                            manifest=_marked_manifest(request.node))
    _n2net_known_books.egress = audited
    if request.node.get_closest_marker(_NO_REQUESTS) is None:
        audited.expect_requests(min=1)

    def attach(other: Egress) -> None:
        if other is not audited:
            other.add_inspector(audited.auditor)

    undo = on_new_egress(attach)
    request.node.stash[_EGRESS_KEY] = audited
    try:
        with LogWatch(audited.auditor):  # logs are an egress: every logger's records
            yield audited
    finally:
        undo()
    # Requests made while other fixtures closed (an uploader's last flush) count too.
    late = _verdict(request.node, audited, requests=False)
    if late:
        pytest.fail("\n".join(late), pytrace=False)
