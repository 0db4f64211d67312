"""TLS rules of the egress door: acceptable contexts, pin sets, the verified chain.

Pure decisions are tested here without sockets; test_egress_wire.py proves the
wiring on real TLS connections.
"""

from __future__ import annotations

import base64
import datetime as dt
import logging
import ssl
import warnings
from typing import Any

import httpx
import pytest
import trustme

from n2net_privacy.egress import Egress, EgressPolicy, Purpose
from n2net_privacy.egress.tls import (
    MINIMUM_TLS,
    PinCheck,
    PinSet,
    PinVerdict,
    check_context,
    harden,
    pin_verdict,
    spki_sha256,
    verified_chain,
)
from n2net_privacy.errors import EgressPolicyError, PinMismatchError

A, B = (base64.b64encode(bytes([i]) * 32).decode() for i in (0, 1))
EXPIRES = dt.date(2030, 1, 1)
BEFORE = dt.datetime(2029, 12, 31, 23, 59, tzinfo=dt.UTC).timestamp()
AT = dt.datetime(2030, 1, 1, tzinfo=dt.UTC).timestamp()


def _ctx(**changes: Any) -> ssl.SSLContext:
    ctx = ssl.create_default_context()
    if changes.get("check_hostname") is False:
        ctx.check_hostname = False
    with warnings.catch_warnings():  # Python deprecates TLS 1.1: the context an old app has
        warnings.simplefilter("ignore", DeprecationWarning)
        for name, value in changes.items():
            setattr(ctx, name, value)
    return ctx


@pytest.mark.parametrize(
    ("changes", "test_mode", "allowed"),
    [
        ({}, False, True),
        ({"check_hostname": False}, False, False),
        ({"check_hostname": False, "verify_mode": ssl.CERT_NONE}, False, False),
        ({"check_hostname": False, "verify_mode": ssl.CERT_OPTIONAL}, False, False),
        ({"check_hostname": False}, True, True),  # test mode relaxes verification only
        ({"check_hostname": False, "verify_mode": ssl.CERT_NONE}, True, True),
        ({"minimum_version": ssl.TLSVersion.TLSv1_1}, False, False),
        ({"minimum_version": ssl.TLSVersion.TLSv1_1}, True, False),  # the floor holds always
        ({"minimum_version": ssl.TLSVersion.MINIMUM_SUPPORTED}, False, False),
        ({"minimum_version": ssl.TLSVersion.TLSv1_3}, False, True),
    ],
)
def test_which_contexts_the_door_accepts(
    changes: dict[str, Any], test_mode: bool, allowed: bool
) -> None:
    ctx = _ctx(**changes)
    if allowed:
        check_context(ctx, test_mode=test_mode)
        Egress(EgressPolicy(test_mode=test_mode), verify=ctx)
    else:
        with pytest.raises(EgressPolicyError):
            check_context(ctx, test_mode=test_mode)
        with pytest.raises(EgressPolicyError):
            Egress(EgressPolicy(test_mode=test_mode), verify=ctx)


def test_the_door_states_the_tls_floor_on_its_own_contexts() -> None:
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    ctx.minimum_version = ssl.TLSVersion.MINIMUM_SUPPORTED
    assert harden(ctx).minimum_version == MINIMUM_TLS == ssl.TLSVersion.TLSv1_2
    check_context(ctx, test_mode=False)


# --- pin sets ---------------------------------------------------------------------------


def test_a_pin_set_needs_two_distinct_pins_and_an_expiry() -> None:
    with pytest.raises(EgressPolicyError, match="two distinct pins"):
        PinSet({A}, expires=EXPIRES)
    with pytest.raises(EgressPolicyError, match="two distinct pins"):
        PinSet([A, "sha256/" + A], expires=EXPIRES)  # the same pin twice
    with pytest.raises(EgressPolicyError, match="expiry"):
        PinSet({A, B}, expires=None)  # type: ignore[arg-type]
    with pytest.raises(EgressPolicyError, match="not one string"):
        PinSet(A, expires=EXPIRES)


@pytest.mark.parametrize("bad", ["not base64!", "QUJD", "A" * 44 + "=="])
def test_a_malformed_pin_is_refused(bad: str) -> None:
    with pytest.raises(EgressPolicyError, match="pin"):
        PinSet({A, bad}, expires=EXPIRES)


def test_pins_are_normalized_and_expiry_is_utc() -> None:
    pin_set = PinSet(["sha256/" + A, f" {B} "], expires=EXPIRES)
    assert pin_set.pins == {A, B}
    assert pin_set.expires_at == AT
    naive = PinSet({A, B}, expires=dt.datetime(2030, 1, 1))
    assert naive.expires_at == AT
    assert not pin_set.lapsed(BEFORE)
    assert pin_set.lapsed(AT)


@pytest.fixture(scope="module")
def chain() -> tuple[list[bytes], bytes]:
    root = trustme.CA()
    intermediate = root.create_child_ca()
    leaf = intermediate.issue_cert("api.n2net.com")
    pems = [leaf.cert_chain_pems[0].bytes(), intermediate.cert_pem.bytes(), root.cert_pem.bytes()]
    other = trustme.CA().cert_pem.bytes()
    return [ssl.PEM_cert_to_DER_cert(p.decode()) for p in pems], \
        ssl.PEM_cert_to_DER_cert(other.decode())


@pytest.mark.parametrize("level", [0, 1, 2])
def test_a_pin_on_any_certificate_of_the_chain_matches(
    chain: tuple[list[bytes], bytes], level: int
) -> None:
    ders, _ = chain
    pin_set = PinSet({spki_sha256(ders[level]), A}, expires=EXPIRES)
    assert pin_verdict(pin_set, ders, BEFORE) is PinVerdict.MATCH
    assert pin_verdict(pin_set, ders[:level], BEFORE) is PinVerdict.MISMATCH
    assert pin_verdict(pin_set, [], BEFORE) is PinVerdict.MISMATCH  # fails closed


def test_a_key_outside_the_chain_does_not_match_and_lapsed_pins_say_so(
    chain: tuple[list[bytes], bytes],
) -> None:
    ders, other = chain
    pin_set = PinSet({spki_sha256(other), A}, expires=EXPIRES)
    assert pin_verdict(pin_set, ders, BEFORE) is PinVerdict.MISMATCH
    assert pin_verdict(pin_set, ders, AT) is PinVerdict.LAPSED


def test_spki_sha256_refuses_what_is_not_a_certificate() -> None:
    with pytest.raises(EgressPolicyError):
        spki_sha256(b"not DER")


# --- reading the verified chain (every shape Python hands out) --------------------------


class _Cert:
    def __init__(self, der: bytes) -> None:
        self.der = der

    def public_bytes(self, encoding: int) -> bytes:
        import _ssl

        assert encoding == _ssl.ENCODING_DER
        return self.der


class _Public:  # Python 3.13+: SSLSocket / SSLObject.get_verified_chain() -> DER bytes
    def get_verified_chain(self) -> list[bytes]:
        return [b"leaf", b"root"]


class _Private:  # CPython 3.10-3.12: _ssl._SSLSocket.get_verified_chain() -> Certificates
    def get_verified_chain(self) -> list[_Cert] | None:
        return [_Cert(b"leaf"), _Cert(b"root")]


class _Wrapper:  # ssl.SSLObject / SSLSocket on 3.11, holding the private object
    _sslobj = _Private()


def test_verified_chain_reads_every_shape() -> None:
    assert verified_chain(_Public()) == (b"leaf", b"root")
    assert verified_chain(_Private()) == (b"leaf", b"root")
    assert verified_chain(_Wrapper()) == (b"leaf", b"root")
    assert verified_chain(object()) == ()
    assert verified_chain(None) == ()


def test_pin_check_fails_closed_when_the_chain_cannot_be_read() -> None:
    check = PinCheck(PinSet({A, B}, expires=EXPIRES), Purpose.N2NET_API, lambda: BEFORE)
    with pytest.raises(PinMismatchError):
        check.check(object())
    with pytest.raises(PinMismatchError):
        check.check(None)


def test_lapsed_pins_warn_once_and_let_verification_alone_decide(
    caplog: pytest.LogCaptureFixture,
) -> None:
    check = PinCheck(PinSet({A, B}, expires=EXPIRES), Purpose.GRAVATAR, lambda: AT)
    with caplog.at_level(logging.WARNING):
        check.check(object())
        check.check(None)
    (record,) = [r for r in caplog.records if "expired" in r.getMessage()]
    assert "gravatar" in record.getMessage()


# --- what Egress refuses at construction -----------------------------------------------


def test_pins_must_be_pin_sets() -> None:
    with pytest.raises(EgressPolicyError, match="PinSet"):
        Egress(pins={Purpose.N2NET_API: frozenset({A, B})})  # type: ignore[dict-item]


def test_pins_need_a_verifying_context_even_in_test_mode() -> None:
    lax = _ctx(check_hostname=False, verify_mode=ssl.CERT_NONE)
    with pytest.raises(EgressPolicyError, match="CERT_REQUIRED"):
        Egress(EgressPolicy(test_mode=True), verify=lax,
               pins={Purpose.N2NET_API: PinSet({A, B}, expires=EXPIRES)})


def test_verify_cannot_ride_along_with_an_injected_transport() -> None:
    transport = httpx.MockTransport(lambda r: httpx.Response(200))
    with pytest.raises(EgressPolicyError, match="injected transport"):
        Egress(verify=ssl.create_default_context(), transport=transport)


def test_pins_for_an_unknown_purpose_are_refused() -> None:
    with pytest.raises(EgressPolicyError, match="unknown purpose"):
        Egress(pins={"telemetry": PinSet({A, B}, expires=EXPIRES)})  # type: ignore[dict-item]


def test_pins_need_a_verifying_injected_transport_even_in_test_mode() -> None:
    transport = httpx.HTTPTransport(verify=_ctx(check_hostname=False, verify_mode=ssl.CERT_NONE))
    with pytest.raises(EgressPolicyError, match="CERT_REQUIRED"):
        Egress(EgressPolicy(test_mode=True), transport=transport,
               pins={Purpose.N2NET_API: PinSet({A, B}, expires=EXPIRES)})
    transport.close()
