"""TLS for the egress door: which contexts are acceptable, and certificate pinning.

* Outside test mode a context must verify certificates (``CERT_REQUIRED``)
  and host names (``check_hostname``); every context must refuse anything
  older than TLS 1.2 (MASVS-NETWORK-1, MASTG-TEST-0242/0243).
* A :class:`PinSet` holds SPKI SHA-256 pins with an expiry date and at
  least two pins, one a backup (TrustKit, Android Network Security Config).
  Pins are matched against the *verified* chain OpenSSL built, so a pin on
  the leaf, an intermediate or the root all work (MASTG-TEST-0244). Once
  the set has expired it lapses with a logged warning: it never bricks the app.

Decisions are pure (:func:`check_context`, :func:`pin_verdict`); the only
I/O-adjacent call is :func:`verified_chain`, which reads a finished handshake.
"""

from __future__ import annotations

import base64
import binascii
import datetime as dt
import enum
import hashlib
import ssl
import threading
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

from n2net_privacy.egress.policy import Purpose
from n2net_privacy.errors import EgressPolicyError, PinMismatchError
from n2net_privacy.redact import get_logger

__all__ = [
    "MINIMUM_TLS",
    "PinCheck",
    "PinSet",
    "PinVerdict",
    "check_context",
    "harden",
    "pin_verdict",
    "spki_sha256",
    "verified_chain",
    "verified_chain_available",
]

MINIMUM_TLS = ssl.TLSVersion.TLSv1_2
_log = get_logger(__name__)


def _refuse(message: str) -> EgressPolicyError:
    return EgressPolicyError(message, purpose="*", host="*")


def check_context(context: ssl.SSLContext, *, test_mode: bool) -> None:
    """Raise :class:`EgressPolicyError` for a context the door will not use.

    Test mode relaxes only verification (a local server with a self-signed
    certificate); the TLS 1.2 floor holds everywhere.
    """
    if context.minimum_version < MINIMUM_TLS:  # MINIMUM_SUPPORTED is -2
        raise _refuse("TLS contexts must set minimum_version to TLS 1.2 or later")
    if test_mode:
        return
    if context.verify_mode != ssl.CERT_REQUIRED:
        raise _refuse("certificate verification cannot be disabled outside test mode")
    if not context.check_hostname:
        raise _refuse("host name checking cannot be disabled outside test mode")


def harden(context: ssl.SSLContext) -> ssl.SSLContext:
    """State the TLS 1.2 floor explicitly on a context the door built itself."""
    context.minimum_version = MINIMUM_TLS
    return context


def spki_sha256(der_certificate: bytes) -> str:
    """The base64 SHA-256 of a certificate's SubjectPublicKeyInfo: the pin format.

    The same value ``openssl x509 -pubkey | openssl pkey -pubin -outform der |
    openssl dgst -sha256 -binary | base64`` prints.
    """
    from cryptography import x509
    from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat

    try:
        key = x509.load_der_x509_certificate(der_certificate).public_key()
    except ValueError as exc:
        raise _refuse("not a DER certificate") from exc
    spki = key.public_bytes(Encoding.DER, PublicFormat.SubjectPublicKeyInfo)
    return base64.b64encode(hashlib.sha256(spki).digest()).decode("ascii")


def _normalize_pin(pin: str) -> str:
    text = pin.strip().removeprefix("sha256/")  # OkHttp's spelling
    try:
        digest = base64.b64decode(text, validate=True)
    except (binascii.Error, ValueError) as exc:
        raise _refuse("a pin is not base64") from exc
    if len(digest) != hashlib.sha256().digest_size:
        raise _refuse("a pin is not a base64 SHA-256 digest (32 bytes)")
    return base64.b64encode(digest).decode("ascii")


def _expiry(expires: dt.date | dt.datetime) -> float:
    if isinstance(expires, dt.datetime):
        aware = expires if expires.tzinfo else expires.replace(tzinfo=dt.UTC)
        return aware.timestamp()
    if isinstance(expires, dt.date):
        return dt.datetime(expires.year, expires.month, expires.day, tzinfo=dt.UTC).timestamp()
    raise _refuse("a pin set needs an expiry date")


@dataclass(frozen=True)
class PinSet:
    """SPKI SHA-256 pins for one purpose, valid until ``expires``.

    ``pins`` are base64 digests from :func:`spki_sha256` (``sha256/`` prefix
    accepted); at least two distinct pins are required so a key rotation or
    a lost key has a backup. A date ``expires`` means midnight UTC at the
    start of that day; a naive datetime is read as UTC. From then on the
    pins lapse (a warning is logged) and only normal verification applies.

    >>> import datetime
    >>> PinSet({"A" * 43 + "=", "B" * 43 + "="}, expires=datetime.date(2030, 1, 1)).expires_at
    1893456000.0
    """

    pins: frozenset[str]
    expires: dt.date | dt.datetime
    expires_at: float = field(init=False)

    def __init__(self, pins: Iterable[str], expires: dt.date | dt.datetime) -> None:
        if isinstance(pins, str):
            raise _refuse("pins must be a collection of pins, not one string")
        normalized = frozenset(_normalize_pin(p) for p in pins)
        if len(normalized) < 2:
            raise _refuse("a pin set needs at least two distinct pins (one a backup)")
        object.__setattr__(self, "pins", normalized)
        object.__setattr__(self, "expires", expires)
        object.__setattr__(self, "expires_at", _expiry(expires))

    def lapsed(self, now: float) -> bool:
        return now >= self.expires_at


class PinVerdict(enum.Enum):
    MATCH = "match"
    MISMATCH = "mismatch"
    LAPSED = "lapsed"


def pin_verdict(pin_set: PinSet, chain: Sequence[bytes], now: float) -> PinVerdict:
    """MATCH when any certificate of the verified ``chain`` (DER) carries a pinned key."""
    if pin_set.lapsed(now):
        return PinVerdict.LAPSED
    if any(spki_sha256(der) in pin_set.pins for der in chain):
        return PinVerdict.MATCH
    return PinVerdict.MISMATCH


def _der(cert: Any) -> bytes:
    if isinstance(cert, bytes):  # the public 3.13 API returns DER already
        return cert
    import _ssl

    return bytes(cert.public_bytes(_ssl.ENCODING_DER))  # a private _ssl.Certificate


def verified_chain(ssl_object: Any) -> tuple[bytes, ...]:
    """The chain OpenSSL verified in the handshake, leaf first, as DER.

    ``ssl_object`` is an :class:`ssl.SSLSocket`, an :class:`ssl.SSLObject` or
    the private ``_ssl._SSLSocket`` inside them (what httpcore hands out).
    The chain comes from OpenSSL's ``SSL_get0_verified_chain``: public as
    ``get_verified_chain()`` since Python 3.13, present on the private
    ``_ssl`` object since CPython 3.10. Empty when the runtime cannot say,
    so a pin check then fails closed.
    """
    for candidate in (ssl_object, getattr(ssl_object, "_sslobj", None)):
        method = getattr(candidate, "get_verified_chain", None)
        if method is not None:
            return tuple(_der(cert) for cert in method() or ())
    return ()


def verified_chain_available() -> bool:
    """Whether this Python can read the verified chain (CPython 3.10+)."""
    import _ssl

    private = _ssl._SSLSocket  # type: ignore[attr-defined]
    return hasattr(ssl.SSLSocket, "get_verified_chain") or hasattr(private, "get_verified_chain")


class PinCheck:
    """Applies one purpose's :class:`PinSet` to finished handshakes (thread-safe).

    Warns once when the set lapses; raises :class:`PinMismatchError` when
    no certificate of the verified chain carries a pinned key.
    """

    def __init__(self, pin_set: PinSet, purpose: Purpose, now_s: Callable[[], float]) -> None:
        self.pin_set = pin_set
        self.purpose = purpose
        self._now_s = now_s  # Unix seconds, as PinSet.expires
        self._warned = threading.Event()

    def active(self) -> bool:
        """False once the pins lapsed (warning once); the handshake is then not pinned."""
        if not self.pin_set.lapsed(self._now_s()):
            return True
        if not self._warned.is_set():
            self._warned.set()
            _log.warning(
                "certificate pins for purpose %s expired; only normal verification applies "
                "until the app ships new pins", self.purpose.value,
            )
        return False

    def check(self, ssl_object: Any) -> None:
        if not self.active():
            return
        chain = verified_chain(ssl_object) if ssl_object is not None else ()
        if pin_verdict(self.pin_set, chain, self._now_s()) is PinVerdict.MISMATCH:
            raise PinMismatchError(
                f"no certificate in the verified chain for purpose {self.purpose.value!r} "
                "carries a pinned key"
            )
