"""The pure side of the egress chokepoint: purposes, policy, audit records.

Nothing here does I/O or imports httpx; :mod:`n2net_privacy.egress` applies
these decisions to real requests. QA tools and tests can use the types
without touching the network.
"""

from __future__ import annotations

import ipaddress
import threading
from collections.abc import Mapping
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Protocol

from n2net_privacy.errors import EgressPolicyError

__all__ = [
    "AuditEntry",
    "AuditLog",
    "EgressPolicy",
    "EgressResponse",
    "OutgoingRequest",
    "Purpose",
    "RequestInspector",
    "is_loopback",
]


class Purpose(StrEnum):
    """Why a request leaves the device. Each purpose has its own host allowlist."""

    N2NET_API = "n2net_api"
    GRAVATAR = "gravatar"
    #: The app's own traffic in a capture from a real device (``audit-har``,
    #: the mitmproxy addon). The SDK never sends for it: no host is allowed.
    APP = "app"


def is_loopback(host: str) -> bool:
    """True for ``localhost`` and loopback addresses (127.0.0.0/8, ``[::1]``)."""
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


@dataclass(frozen=True)
class EgressPolicy:
    """Which hosts each purpose may reach, and whether loopback plaintext is allowed.

    ``test_mode`` is the only switch that admits ``http://`` (to loopback
    hosts only) and TLS contexts that do not verify certificates.
    """

    allowed_hosts: Mapping[Purpose, frozenset[str]] = field(
        default_factory=lambda: {
            Purpose.N2NET_API: frozenset({"api.n2net.com"}),
            Purpose.GRAVATAR: frozenset({"gravatar.com", "www.gravatar.com"}),
        }
    )
    test_mode: bool = False

    def check(self, purpose: Purpose, scheme: str, host: str) -> None:
        """Raise :class:`EgressPolicyError` unless the policy admits this destination."""
        host = host.lower()
        if host not in self.allowed_hosts.get(purpose, frozenset()):
            raise EgressPolicyError(
                f"host {host!r} is not allowed for purpose {purpose.value!r}",
                purpose=purpose.value,
                host=host,
            )
        if scheme == "https":
            return
        if scheme == "http" and self.test_mode and is_loopback(host):
            return
        raise EgressPolicyError(
            f"{scheme}:// to {host!r} refused: only https, or loopback http in test mode",
            purpose=purpose.value,
            host=host,
        )


@dataclass(frozen=True, slots=True)
class OutgoingRequest:
    """A request about to leave, as inspectors see it (no httpx types)."""

    purpose: Purpose
    method: str
    url: str
    scheme: str
    host: str
    path: str
    query: str
    headers: tuple[tuple[str, str], ...]
    body: bytes
    #: The egress's sequence number of the request (from 1); its audit entry has the same.
    request_id: int = 0


@dataclass(frozen=True, slots=True)
class AuditEntry:
    """One request that left (or was blocked). Carries no query, header or body."""

    at: float
    purpose: Purpose
    method: str
    host: str
    path: str
    #: Request line, headers and body: everything the request wrote (before TLS).
    request_bytes: int
    status: int | None = None
    blocked: bool = False
    #: Same as the inspectors' :attr:`OutgoingRequest.request_id`.
    request_id: int = 0
    #: The network error's type name when no reply came (``"ConnectTimeout"``).
    error: str | None = None


class RequestInspector(Protocol):
    """Looks at every outgoing request; raises EgressPolicyError to block it."""

    def inspect(self, request: OutgoingRequest) -> None: ...


class AuditLog:
    """A thread-safe, append-only record of every request through the chokepoint."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._entries: list[AuditEntry] = []

    def record(self, entry: AuditEntry) -> None:
        with self._lock:
            self._entries.append(entry)

    def entries(self) -> tuple[AuditEntry, ...]:
        with self._lock:
            return tuple(self._entries)

    def clear(self) -> None:
        with self._lock:
            self._entries.clear()

    def __len__(self) -> int:
        with self._lock:
            return len(self._entries)


@dataclass(frozen=True, slots=True)
class EgressResponse:
    """A reply, fully read. Header names are lower-case."""

    status: int
    headers: Mapping[str, str]
    content: bytes

    def header(self, name: str) -> str | None:
        return self.headers.get(name.lower())
