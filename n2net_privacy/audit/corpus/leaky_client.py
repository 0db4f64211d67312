"""A deliberately leaky client: the seeded leaks that prove the auditor works.

Each :class:`SeededLeak` is one cell of the matrix *kind* (email, name,
phone) x *place* (path, query, header, JSON body, form body, cookie) x
*encoding* (plain, percent-encoded, base64, gzip body, upper case).
:func:`build_leaky_request` writes the request for a cell (pure) and
:class:`LeakyClient` sends it through a real :class:`~n2net_privacy.egress.Egress`,
so the auditor sees it exactly as it sees the SDK's own traffic.

>>> [str(leak) for leak in leak_matrix()][:2]
['email/path/plain', 'email/path/percent']

Base64 varies by place (URL-safe without padding in the URL, standard with
padding in headers and JSON, standard without padding in cookies, URL-safe
with padding in forms) and always hides the value at an offset inside the
encoded text. The chokepoint strips ``Cookie`` headers, so a cookie leak
never leaves: :attr:`SeededLeak.stripped_by_chokepoint` says so.
"""

from __future__ import annotations

import base64
import gzip
import json
from collections.abc import Mapping
from dataclasses import dataclass
from enum import StrEnum
from urllib.parse import quote

from n2net_privacy.audit.detectors import ContactLike, strip_accents
from n2net_privacy.audit.findings import Rule
from n2net_privacy.egress import Egress
from n2net_privacy.egress.policy import EgressResponse, Purpose

__all__ = [
    "LEAK_HEADER",
    "LEAK_KEY",
    "LeakEncoding",
    "LeakKind",
    "LeakPlace",
    "LeakyClient",
    "LeakyRequest",
    "SeededLeak",
    "build_leaky_request",
    "leak_matrix",
]

LEAK_KEY = "note"
"""The query, JSON and form key every leak is written under."""
LEAK_HEADER = "x-debug"
"""The header leaks are written in."""


class LeakKind(StrEnum):
    EMAIL = "email"
    NAME = "name"
    PHONE = "phone"

    @property
    def rule(self) -> Rule:
        """The auditor rule that must fire for this kind."""
        return {LeakKind.EMAIL: Rule.PII_EMAIL, LeakKind.NAME: Rule.PII_NAME,
                LeakKind.PHONE: Rule.PII_PHONE}[self]


class LeakPlace(StrEnum):
    PATH = "path"
    QUERY = "query"
    HEADER = "header"
    BODY_JSON = "body_json"
    BODY_FORM = "body_form"
    COOKIE = "cookie"

    @property
    def finding_place(self) -> str:
        """The ``Finding.place`` the auditor must report for this place."""
        return _FINDING_PLACES[self]


_FINDING_PLACES = {
    LeakPlace.PATH: "url.path",
    LeakPlace.QUERY: f"query:{LEAK_KEY}",
    LeakPlace.HEADER: f"header:{LEAK_HEADER}",
    LeakPlace.BODY_JSON: f"body:$.{LEAK_KEY}",
    LeakPlace.BODY_FORM: f"body:form:{LEAK_KEY}",
    LeakPlace.COOKIE: "header:cookie",
}
_BODY_PLACES = frozenset({LeakPlace.BODY_JSON, LeakPlace.BODY_FORM})


class LeakEncoding(StrEnum):
    PLAIN = "plain"
    PERCENT = "percent"
    BASE64 = "base64"
    GZIP = "gzip"
    UPPER = "upper"


@dataclass(frozen=True, slots=True)
class SeededLeak:
    """One cell of the matrix."""

    kind: LeakKind
    place: LeakPlace
    encoding: LeakEncoding

    def __str__(self) -> str:
        return f"{self.kind}/{self.place}/{self.encoding}"

    @property
    def stripped_by_chokepoint(self) -> bool:
        """True when the chokepoint removes the carrier before any inspector runs."""
        return self.place is LeakPlace.COOKIE


def leak_matrix() -> tuple[SeededLeak, ...]:
    """Every meaningful cell; gzip applies to bodies only."""
    return tuple(
        SeededLeak(kind, place, encoding)
        for kind in LeakKind
        for place in LeakPlace
        for encoding in LeakEncoding
        if encoding is not LeakEncoding.GZIP or place in _BODY_PLACES
    )


@dataclass(frozen=True, slots=True)
class LeakyRequest:
    """A request ready for :meth:`~n2net_privacy.egress.EgressClient.request`."""

    method: str
    url: str
    headers: Mapping[str, str]
    content: bytes


def _base64(value: str, place: LeakPlace) -> str:
    # The value sits at an offset inside the encoded text, as in a real token.
    raw = f"v1:{value}".encode()
    if place in (LeakPlace.PATH, LeakPlace.QUERY):
        return base64.urlsafe_b64encode(raw).decode().rstrip("=")
    if place is LeakPlace.COOKIE:
        return base64.b64encode(raw).decode().rstrip("=")
    if place is LeakPlace.BODY_FORM:
        return base64.urlsafe_b64encode(raw).decode()
    return base64.b64encode(raw).decode()


def _encode(value: str, leak: SeededLeak) -> str:
    if leak.encoding is LeakEncoding.PERCENT:
        return quote(value, safe="")
    if leak.encoding is LeakEncoding.BASE64:
        return _base64(value, leak.place)
    if leak.encoding is LeakEncoding.UPPER:
        return value.upper()
    return value


def build_leaky_request(
    leak: SeededLeak,
    *,
    email: str,
    name: str,
    number: str,
    base_url: str = "https://api.n2net.com",
) -> LeakyRequest:
    """The request that commits ``leak`` with the given PII (pure)."""
    raw = {LeakKind.EMAIL: email, LeakKind.NAME: name, LeakKind.PHONE: number}[leak.kind]
    if leak.kind is LeakKind.PHONE and leak.encoding is LeakEncoding.UPPER:
        raw = f"tel:{raw}"
    value = _encode(raw, leak)
    if leak.place in (LeakPlace.HEADER, LeakPlace.COOKIE) and not value.isascii():
        # Header values are ASCII on the wire; leaky apps transliterate.
        value = strip_accents(value)
    base = base_url.rstrip("/")
    headers: dict[str, str] = {}
    content = b""
    url = f"{base}/leak"
    method = "GET"
    if leak.place is LeakPlace.PATH:
        # Percent-encoded once more, so the decoded path still shows the encoding.
        segment = quote(value, safe="") if leak.encoding is LeakEncoding.PERCENT else value
        url = f"{base}/leak/{segment}"
    elif leak.place is LeakPlace.QUERY:
        url = f"{url}?{LEAK_KEY}={value}"
    elif leak.place is LeakPlace.HEADER:
        headers[LEAK_HEADER] = value
    elif leak.place is LeakPlace.COOKIE:
        headers["cookie"] = f"session={value}"
    elif leak.place is LeakPlace.BODY_JSON:
        method = "POST"
        headers["content-type"] = "application/json"
        content = json.dumps({LEAK_KEY: value, "app": "leaky"}).encode()
    else:
        method = "POST"
        headers["content-type"] = "application/x-www-form-urlencoded"
        form_value = value if leak.encoding is LeakEncoding.PERCENT else quote(value, safe="")
        content = f"{LEAK_KEY}={form_value}&app=leaky".encode()
    if leak.encoding is LeakEncoding.GZIP:
        content = gzip.compress(content, mtime=0)
        if leak.place is LeakPlace.BODY_JSON:
            headers["content-encoding"] = "gzip"  # the form body is sent undeclared
    return LeakyRequest(method, url, headers, content)


class LeakyClient:
    """Sends seeded leaks through a real egress chokepoint.

    Raises :class:`~n2net_privacy.errors.EgressPolicyError` when an auditor
    in block mode (or the policy) refuses a leak.
    """

    def __init__(
        self,
        egress: Egress,
        *,
        email: str,
        name: str,
        number: str,
        purpose: Purpose = Purpose.N2NET_API,
        base_url: str = "https://api.n2net.com",
    ) -> None:
        self._client = egress.client(purpose)
        self._pii = {"email": email, "name": name, "number": number}
        self._base_url = base_url

    @classmethod
    def for_contact(
        cls,
        egress: Egress,
        contact: ContactLike,
        *,
        purpose: Purpose = Purpose.N2NET_API,
        base_url: str = "https://api.n2net.com",
    ) -> LeakyClient:
        """Leak the first email, the name and the first number of ``contact``."""
        return cls(
            egress,
            email=contact.emails[0],
            name=contact.display_name,
            number=contact.phones[0].number,
            purpose=purpose,
            base_url=base_url,
        )

    def request_for(self, leak: SeededLeak) -> LeakyRequest:
        return build_leaky_request(leak, base_url=self._base_url, **self._pii)

    def send(self, leak: SeededLeak) -> EgressResponse:
        """Commit ``leak``: build its request and send it."""
        request = self.request_for(leak)
        return self._client.request(
            request.method, request.url, headers=request.headers, content=request.content or None
        )

    def close(self) -> None:
        self._client.close()
