"""The red-team's seeded leaks: the cells the first matrix did not have.

:func:`redteam_matrix` lists one :class:`RedTeamLeak` per trick from the
red-team pass over the auditor (issue 11): digits spread over JSON values,
odd separators, compression undeclared or doubled, base64 of gzip, UTF-16,
punycode, JSON in JSON with ``\\u0040``, a BOM, wrapped MIME base64, a CJK
name in CJK text, the method, ``Host`` and ``Content-Length`` as carriers, a
value split over path segments, email hashes, and bodies too large or too
deep to inspect. Each cell builds its request (pure) for
:data:`REDTEAM_BOOK` and names the rule the auditor must report.

>>> [leak.name for leak in redteam_matrix()][:2]
['phone/json-array-digits', 'phone/comma-separators']
"""

from __future__ import annotations

import base64
import gzip
import hashlib
import json
import zlib
from collections.abc import Callable
from dataclasses import dataclass, field

from n2net_privacy.audit.corpus.leaky_client import LeakyRequest
from n2net_privacy.audit.findings import Rule
from n2net_privacy.contacts.model import Contact, ContactPhone
from n2net_privacy.egress.policy import Purpose

__all__ = ["REDTEAM_BOOK", "REDTEAM_RAW", "RedTeamLeak", "redteam_matrix"]

ANN = Contact(
    id="rt1",
    display_name="Annabel Leeford",
    phones=(ContactPhone(number="+1 215 555 2671", label="mobile"),),
    emails=("annabel.leeford@example.com",),
)
XIAOMING = Contact(
    id="rt2",
    display_name="王小明",
    phones=(ContactPhone(number="+86 138 0013 8000", label="mobile"),),
    emails=("xiaoming@bücher.example",),
)
REDTEAM_BOOK = (ANN, XIAOMING)
REDTEAM_RAW = (
    "annabel.leeford@example.com", "annabel.leeford", "annabel", "leeford", "2155552671",
    "215/555/2671", "215-555-2671", "215 555 2671", "王小明", "xiaoming", "13800138000",
)
"""Raw values of :data:`REDTEAM_BOOK` that no artefact may contain."""

_API = "https://api.n2net.com"
_PADDING = "The quick brown fox jumps over the lazy dog while the report renders. "


@dataclass(frozen=True, slots=True)
class RedTeamLeak:
    """One trick: its name, the rule it must trigger, and how to build the request."""

    name: str
    rule: Rule
    build: Callable[[], LeakyRequest] = field(repr=False)
    purpose: Purpose = Purpose.N2NET_API
    gravatar_on: bool = True
    #: The egress door refuses this request before any inspector sees it (a method
    #: the purpose does not allow, a caller-set ``Host`` or ``Content-Length``), so
    #: through the SDK it cannot leave at all; in a capture of other traffic
    #: (``audit-har``, the mitmproxy addon) the auditor still catches it.
    door_refuses: bool = False


def _post(body: bytes, **headers: str) -> LeakyRequest:
    return LeakyRequest("POST", f"{_API}/v1/note", headers, body)


def _json(value: object) -> bytes:
    return json.dumps(value).encode()


def _multipart_wrapped() -> LeakyRequest:
    payload = base64.encodebytes((_PADDING + ANN.emails[0] + " " + _PADDING).encode())
    assert b"\n" in payload.rstrip(b"\n")  # wrapped at 76 characters
    body = (b"--b0undary\r\nContent-Disposition: form-data; name=\"note\"\r\n"
            b"Content-Type: text/plain\r\nContent-Transfer-Encoding: base64\r\n\r\n"
            + payload + b"--b0undary--\r\n")
    return _post(body, **{"content-type": "multipart/form-data; boundary=b0undary"})


def _email_hash(algorithm: str, encoding: str) -> str:
    digest = hashlib.new(algorithm, ANN.emails[0].encode(), usedforsecurity=False).digest()
    if encoding == "hex":
        return digest.hex()
    return base64.b64encode(digest).decode().rstrip("=")


def redteam_matrix() -> tuple[RedTeamLeak, ...]:
    """Every red-team cell, in a stable order."""
    digits = "2155552671"
    national = f"{digits[:3]}-{digits[3:6]}-{digits[6:]}"
    text = f"call me at {national} please".encode()
    return (
        RedTeamLeak("phone/json-array-digits", Rule.PII_PHONE,
                    lambda: _post(_json({"d": [digits[:3], digits[3:6], digits[6:]]}),
                                  **{"content-type": "application/json"})),
        RedTeamLeak("phone/comma-separators", Rule.PII_PHONE,
                    lambda: _post(b"n=" + ",".join(digits).encode())),
        RedTeamLeak("phone/underscore-separators", Rule.PII_PHONE,
                    lambda: _post(f"n={digits[:3]}_{digits[3:6]}_{digits[6:]}".encode())),
        RedTeamLeak("phone/unicode-dashes", Rule.PII_PHONE,
                    lambda: _post(f"n={digits[:3]}\u2012{digits[3:6]}\u2013{digits[6:]}"
                                  .encode())),
        RedTeamLeak("phone/undeclared-deflate", Rule.PII_PHONE,
                    lambda: _post(zlib.compress(text)[2:-4])),
        RedTeamLeak("phone/undeclared-zlib", Rule.PII_PHONE,
                    lambda: _post(zlib.compress(text))),
        RedTeamLeak("phone/gzip-twice", Rule.PII_PHONE,
                    lambda: _post(gzip.compress(gzip.compress(text, mtime=0), mtime=0),
                                  **{"content-encoding": "gzip"})),
        RedTeamLeak("phone/base64-gzip-in-json", Rule.PII_PHONE,
                    lambda: _post(_json({"blob": base64.b64encode(
                        gzip.compress(_json({"to": national}), mtime=0)).decode()}),
                        **{"content-type": "application/json"})),
        RedTeamLeak("phone/utf16-body", Rule.PII_PHONE,
                    lambda: _post(text.decode().encode("utf-16-le"))),
        RedTeamLeak("email/punycode-domain", Rule.PII_EMAIL,
                    lambda: _post(b"to=xiaoming@" + "bücher.example".encode("idna"))),
        RedTeamLeak("email/json-in-json-u0040", Rule.PII_EMAIL,
                    lambda: _post(_json({"payload": json.dumps({"e": ANN.emails[0]})
                                         .replace("@", "\\u0040")}),
                                  **{"content-type": "application/json"})),
        RedTeamLeak("email/bom-json", Rule.PII_EMAIL,
                    lambda: _post(b"\xef\xbb\xbf" + _json({"e": ANN.emails[0]}),
                                  **{"content-type": "application/json"})),
        RedTeamLeak("email/multipart-base64-76", Rule.PII_EMAIL, _multipart_wrapped),
        RedTeamLeak("name/cjk-in-cjk-text", Rule.PII_NAME,
                    lambda: _post("联系人王小明的电话号码".encode(),
                                  **{"content-type": "text/plain; charset=utf-8"})),
        RedTeamLeak("phone/in-the-method", Rule.PII_PHONE,
                    lambda: LeakyRequest(f"X{digits}", f"{_API}/v1/note", {}, b""),
                    door_refuses=True),
        RedTeamLeak("phone/in-the-host-header", Rule.PII_PHONE,
                    lambda: LeakyRequest("GET", f"{_API}/v1/note",
                                         {"host": f"n{digits}.api.n2net.com"}, b""),
                    door_refuses=True),
        RedTeamLeak("phone/in-content-length", Rule.PII_PHONE,
                    lambda: LeakyRequest("POST", f"{_API}/v1/note",
                                         {"content-length": digits}, b"x"),
                    door_refuses=True),
        RedTeamLeak("phone/split-over-path-segments", Rule.PII_PHONE,
                    lambda: LeakyRequest("GET", f"{_API}/contacts/{digits[:3]}/{digits[3:6]}/"
                                         f"{digits[6:]}", {}, b"")),
        RedTeamLeak("email/md5-base64-in-header", Rule.PII_EMAIL,
                    lambda: LeakyRequest("GET", f"{_API}/v1/note",
                                         {"x-user": _email_hash("md5", "base64")}, b"")),
        RedTeamLeak("email/sha1-hex-in-query", Rule.PII_EMAIL,
                    lambda: LeakyRequest("GET", f"{_API}/v1/note?u={_email_hash('sha1', 'hex')}",
                                         {}, b"")),
        RedTeamLeak("email/hash-to-gravatar-while-off", Rule.PII_EMAIL,
                    lambda: LeakyRequest("GET", "https://gravatar.com/avatar/"
                                         + _email_hash("sha256", "hex"), {}, b""),
                    purpose=Purpose.GRAVATAR, gravatar_on=False),
        RedTeamLeak("body/over-16-mib-decompressed", Rule.NOT_INSPECTED,
                    lambda: _post(gzip.compress(b" " * (16 * 1024 * 1024 + 1), mtime=0),
                                  **{"content-encoding": "gzip"})),
        RedTeamLeak("body/undecodable-content-encoding", Rule.NOT_INSPECTED,
                    lambda: _post(b"\x8b\x05\x80" + text + b"\x03",
                                  **{"content-encoding": "br"})),
        RedTeamLeak("body/json-nested-too-deep", Rule.NOT_INSPECTED,
                    lambda: _post(b"[" * 990 + b"1" + b"]" * 990,
                                  **{"content-type": "application/json"})),
    )
