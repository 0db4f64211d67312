"""The ``egress`` fixture fails a test on its own: proved by running tests with pytester."""

from __future__ import annotations

import textwrap

import pytest

from n2net_privacy.testing.synthetic import synthetic_address_book

pytest_plugins = ("pytester",)

HEADER = textwrap.dedent(
    """
    import pytest
    from n2net_privacy.egress import Egress, Purpose


    def leak(egress, stand_in, contact):
        with egress.client(Purpose.GRAVATAR) as client:
            client.request("GET", stand_in.base_url + "x?e=" + contact.emails[0])
    """
)


def _run(pytester: pytest.Pytester, body: str) -> pytest.RunResult:
    pytester.makepyfile(test_case=HEADER + textwrap.dedent(body))
    return pytester.runpytest("-q", "-p", "no:cacheprovider")


def test_a_leaky_test_that_never_asserts_fails(pytester: pytest.Pytester) -> None:
    result = _run(pytester, """
        def test_forgets_to_assert(egress, address_book, gravatar_stand_in):
            leak(egress, gravatar_stand_in, next(c for c in address_book if c.emails))
    """)
    result.assert_outcomes(failed=1)
    out = result.stdout.str()
    assert "never asserted" in out and "pii.email" in out
    assert out.count("@***") >= 1  # the email, redacted
    email = next(c for c in synthetic_address_book(50, seed=0) if c.emails).emails[0]
    assert email.lower() not in out.lower() and email.split("@")[0].lower() not in out.lower()


def test_a_test_that_audits_zero_requests_fails(pytester: pytest.Pytester) -> None:
    result = _run(pytester, """
        def test_sends_nothing(egress):
            egress.assert_no_pii()
    """)
    result.assert_outcomes(failed=1)
    assert "0 requests audited, expected at least 1" in result.stdout.str()


def test_opt_outs_and_asserted_findings_pass(pytester: pytest.Pytester) -> None:
    result = _run(pytester, """
        @pytest.mark.n2net_no_requests
        def test_marker_zero(egress):
            pass

        def test_method_zero(egress):
            egress.expect_requests(min=0)

        @pytest.mark.n2net_allow_findings
        def test_marker_findings(egress, address_book, gravatar_stand_in):
            leak(egress, gravatar_stand_in, next(c for c in address_book if c.emails))

        def test_asserted(egress, address_book, gravatar_stand_in):
            leak(egress, gravatar_stand_in, next(c for c in address_book if c.emails))
            with pytest.raises(AssertionError, match="pii.email"):
                egress.assert_no_pii()

        def test_acknowledged(egress, address_book, gravatar_stand_in):
            leak(egress, gravatar_stand_in, next(c for c in address_book if c.emails))
            assert egress.acknowledge_findings()[0].rule == "pii.email"
    """)
    result.assert_outcomes(passed=5)


def test_books_from_the_factory_and_registered_contacts_are_known(
    pytester: pytest.Pytester,
) -> None:
    result = _run(pytester, """
        from n2net_privacy.contacts import Contact

        def test_factory_book(egress, address_book_factory, gravatar_stand_in):
            other = address_book_factory(5, seed=99)   # built after the fixture
            leak(egress, gravatar_stand_in, next(c for c in other if c.emails))
            assert "pii.email" in {f.rule for f in egress.acknowledge_findings()}

        def test_registered(egress, gravatar_stand_in):
            mine = Contact(id="m1", display_name="Quentin Mirabeau", emails=("qm@example.org",))
            egress.add_contacts([mine])
            leak(egress, gravatar_stand_in, mine)
            assert "pii.email" in {f.rule for f in egress.acknowledge_findings()}
    """)
    result.assert_outcomes(passed=2)


def test_an_sdk_built_without_egress_is_audited_too(pytester: pytest.Pytester) -> None:
    result = _run(pytester, """
        import httpx
        import respx
        from n2net_privacy import N2NetPrivacy
        from n2net_privacy.contacts import InMemoryAddressBook
        from n2net_privacy.egress import EgressPolicy
        from n2net_privacy.testing.audited import LOOPBACK_HOSTS

        def test_default_egress(egress, address_book, android_provider, tmp_path):
            email = next(c for c in address_book if c.emails).emails[0]
            with N2NetPrivacy(provider=android_provider,
                              address_book=InMemoryAddressBook(address_book),
                              data_dir=tmp_path) as sdk, respx.mock:
                respx.get(url__startswith="https://gravatar.com/").mock(
                    return_value=httpx.Response(404))
                assert sdk.egress is not egress
                with sdk.egress.client(Purpose.GRAVATAR) as client:
                    client.request("GET", "https://gravatar.com/avatar/x?e=" + email)
            assert "pii.email" in {f.rule for f in egress.acknowledge_findings()}

        def test_any_other_egress(egress, address_book, gravatar_stand_in):
            other = Egress(EgressPolicy(allowed_hosts=LOOPBACK_HOSTS, test_mode=True))
            leak(other, gravatar_stand_in, next(c for c in address_book if c.emails))

        def test_unaudited_sdk_leak_fails(egress, address_book, android_provider, tmp_path):
            email = next(c for c in address_book if c.emails).emails[0]
            with N2NetPrivacy(provider=android_provider,
                              address_book=InMemoryAddressBook(address_book),
                              data_dir=tmp_path) as sdk, respx.mock:
                respx.get(url__startswith="https://gravatar.com/").mock(
                    return_value=httpx.Response(404))
                with sdk.egress.client(Purpose.GRAVATAR) as client:
                    client.request("GET", "https://gravatar.com/avatar/x?e=" + email)
    """)
    result.assert_outcomes(passed=1, failed=2)
    # Counted on the failure lines only: with CI set, pytest's summary repeats them untruncated.
    failures = [
        line for line in result.outlines if line.startswith("E ") and "never asserted" in line
    ]
    assert len(failures) == 2


def test_every_fixture_has_a_docstring(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(test_x="def test_x():\n    pass\n")
    out = pytester.runpytest("--fixtures", "-p", "no:cacheprovider").stdout.str()
    for name in ("scripted_user", "android_provider", "ios_provider", "address_book",
                 "address_book_factory", "server_key", "ingest_server", "gravatar_stand_in",
                 "egress"):
        section = out.split(f"\n{name} ", 1)
        assert len(section) == 2, name
        assert "no docstring available" not in section[1].split("\n\n", 1)[0], name


def test_egress_clients_are_context_managers() -> None:
    import asyncio

    import httpx

    from n2net_privacy.egress import Egress, Purpose

    sent: list[str] = []

    def reply(request: httpx.Request) -> httpx.Response:
        sent.append(request.url.path)
        return httpx.Response(204)

    egress = Egress(transport=httpx.MockTransport(reply),
                    async_transport=httpx.MockTransport(reply))
    with egress.client(Purpose.N2NET_API) as client:
        assert client.request("GET", "https://api.n2net.com/a").status == 204

    async def go() -> int:
        async with egress.async_client(Purpose.N2NET_API) as client:
            return (await client.request("GET", "https://api.n2net.com/b")).status

    assert asyncio.run(go()) == 204
    assert sent == ["/a", "/b"]
    assert [e.request_id for e in egress.audit.entries()] == [1, 2]


def test_a_contact_in_any_loggers_record_fails_the_test(pytester: pytest.Pytester) -> None:
    result = _run(pytester, """
        import logging

        def test_logs_a_contact(egress, address_book, gravatar_stand_in):
            with egress.client(Purpose.GRAVATAR) as client:
                client.request("GET", gravatar_stand_in.base_url + "avatar/none")
            logging.getLogger("the_app").warning("hello %s", address_book[0].emails[0])
    """)
    result.assert_outcomes(failed=1)
    out = result.stdout.str()
    assert "log.pii at log:the_app" in out and "never asserted" in out
