"""The request line and framing headers belong to the door (pure decisions).

A caller names the method, the URL, its own end-to-end headers and the body.
Everything that frames the request on the wire or steers it at a hop is
derived by the door from the URL and the body: ``Host``, ``Content-Length``,
``Connection``. A caller that tries to set one of them, or a hop-by-hop
header (RFC 9110 section 7.6.1), is refused before a byte is sent: a caller's
``Host`` is domain fronting, a caller's ``Content-Length`` or
``Transfer-Encoding`` is request smuggling. A body the caller hands over as a
stream of chunks (the conformance kit's probe of a server's ``411``) is
framed by the door itself: ``Transfer-Encoding: chunked`` and no length.

Nothing here does I/O or imports httpx; :mod:`n2net_privacy.egress` applies
these checks to every request, whatever transport is underneath.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence

from n2net_privacy._version import __version__
from n2net_privacy.egress.policy import Purpose
from n2net_privacy.errors import EgressPolicyError

__all__ = [
    "DOOR_HEADERS",
    "USER_AGENT",
    "check_framing",
    "check_userinfo",
    "host_header",
    "is_reserved",
    "refuse_reserved",
]

#: The SDK's one fixed, generic User-Agent (no device, OS or app detail).
USER_AGENT = f"n2net-privacy/{__version__}"
#: Headers only the door may write: framing and hop-by-hop.
DOOR_HEADERS = frozenset({
    "host",
    "content-length",
    "transfer-encoding",
    "connection",
    "upgrade",
    "te",
    "trailer",
    "keep-alive",
})
#: What the door itself writes for ``Connection`` (HTTP/1.1 reuse).
_CONNECTION = "keep-alive"


def is_reserved(name: str) -> bool:
    """True for a header a caller may not set (``Proxy-*`` included)."""
    lowered = name.strip().lower()
    return lowered in DOOR_HEADERS or lowered.startswith("proxy-")


def _refuse(what: str, purpose: Purpose, host: str) -> EgressPolicyError:
    return EgressPolicyError(
        f"{what} (purpose {purpose.value!r})", purpose=purpose.value, host=host
    )


def refuse_reserved(names: Iterable[str], *, purpose: Purpose, host: str) -> None:
    """Raise :class:`EgressPolicyError` naming the first header a caller may not set."""
    for name in names:
        if is_reserved(name):
            raise _refuse(f"header {name.lower()!r} is set by the door, not the caller",
                          purpose, host)


def host_header(raw_host: str, port: int | None) -> str:
    """The ``Host`` value for a URL's host and explicit (non-default) port."""
    host = f"[{raw_host}]" if ":" in raw_host else raw_host
    return host if port is None else f"{host}:{port}"


def check_userinfo(userinfo: str, *, purpose: Purpose, host: str) -> None:
    """Refuse credentials in the URL: they would leave as an Authorization header."""
    if userinfo:
        raise _refuse("a URL with user info is refused", purpose, host)


def check_framing(
    headers: Sequence[tuple[str, str]],
    *,
    expected_host: str,
    body_length: int,
    purpose: Purpose,
    host: str,
    chunked: bool = False,
) -> None:
    """Refuse a request whose framing headers differ from what the door derives.

    Exactly one ``Host`` equal to the URL's authority; ``Content-Length``
    absent or equal to the body's length (and present when there is a
    body); ``Connection`` absent or ``keep-alive``; no other hop-by-hop
    header. This holds whatever built the request. ``chunked`` is for a body
    the door was given as a stream: then exactly one
    ``Transfer-Encoding: chunked`` and no ``Content-Length``, never both.
    """
    hosts = [value for name, value in headers if name.lower() == "host"]
    if hosts != [expected_host]:
        raise _refuse("the Host header must be the URL's host", purpose, host)
    lengths = [value for name, value in headers if name.lower() == "content-length"]
    encodings = [value for name, value in headers if name.lower() == "transfer-encoding"]
    if chunked:
        if lengths or encodings != ["chunked"]:
            raise _refuse("a streamed body is framed chunked, without a length", purpose, host)
    elif lengths != [str(body_length)] and not (lengths == [] and body_length == 0):
        raise _refuse("Content-Length must be the body's length", purpose, host)
    for name, value in headers:
        lowered = name.lower()
        if lowered in ("host", "content-length") or (chunked and lowered == "transfer-encoding"):
            continue
        if lowered == "connection" and value.strip().lower() == _CONNECTION:
            continue
        if is_reserved(lowered):
            raise _refuse(f"header {lowered!r} may not leave the door", purpose, host)
