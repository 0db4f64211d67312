"""Where a captured app may send data, and why: the policy file of ``audit-har``.

A capture from a real device holds traffic the SDK never made: the app's own
API, a CDN, a crash reporter. QA declares the destinations they expect in a
small JSON file; a request to any other host is itself a finding
("undeclared destination"), as Apple's App Privacy Report would show it::

    {
      "destinations": [
        {"host": "api.n2net.com", "purpose": "n2net_api"},
        {"host": "gravatar.com", "purpose": "gravatar"},
        {"host": "*.cdn.n2net.com", "purpose": "assets", "ports": [443, 8443]}
      ]
    }

``purpose`` is free text, except that ``n2net_api`` and ``gravatar`` carry
the SDK's own allowances (a sealed event batch; a Gravatar hash in the path).
``ports`` defaults to ``[443]``; a ``*.`` prefix matches subdomains only.
Without a file, the SDK's egress allowlist is the policy.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from n2net_privacy.errors import DestinationPolicyError  # the one tree; importable here too

__all__ = ["Destination", "DestinationPolicy", "DestinationPolicyError"]

_MAX_POLICY_BYTES = 1024 * 1024
_KNOWN_KEYS = {"host", "purpose", "ports"}


@dataclass(frozen=True, slots=True)
class Destination:
    host: str
    purpose: str
    ports: frozenset[int] = field(default_factory=lambda: frozenset({443}))

    def matches(self, host: str, port: int) -> bool:
        host = host.lower().rstrip(".")
        if port not in self.ports:
            return False
        if self.host.startswith("*."):
            return host.endswith(self.host[1:])
        return host == self.host


@dataclass(frozen=True, slots=True)
class DestinationPolicy:
    destinations: tuple[Destination, ...]

    def purpose_for(self, host: str, port: int | None, scheme: str = "https") -> str | None:
        """The declared purpose of ``host:port``, or None for an undeclared destination."""
        effective = port if port is not None else (80 if scheme == "http" else 443)
        return next((d.purpose for d in self.destinations if d.matches(host, effective)), None)

    @classmethod
    def sdk_default(cls) -> DestinationPolicy:
        """The SDK's own egress allowlist (``host`` means port 443, ``host:port`` that port)."""
        from n2net_privacy.egress.policy import EgressPolicy, parse_endpoint

        out = []
        for purpose, entries in EgressPolicy().allowed_hosts.items():
            for entry in sorted(entries):
                host, port = parse_endpoint(entry)
                out.append(Destination(host, purpose.value, frozenset({port or 443})))
        return cls(tuple(out))

    @classmethod
    def parse(cls, text: str, source: str = "<policy>") -> DestinationPolicy:
        try:
            data = json.loads(text)
        except json.JSONDecodeError as exc:
            raise DestinationPolicyError(f"{source}:{exc.lineno}: not valid JSON") from exc
        except RecursionError as exc:
            raise DestinationPolicyError(f"{source}: nested too deeply") from exc
        if not isinstance(data, dict) or not isinstance(data.get("destinations"), list):
            raise DestinationPolicyError(f'{source}: expected an object with a "destinations" list')
        if set(data) - {"destinations"}:
            unknown = ", ".join(sorted(set(data) - {"destinations"}))
            raise DestinationPolicyError(f"{source}: unknown key(s): {unknown}")
        return cls(
            tuple(_destination(item, i, source) for i, item in enumerate(data["destinations"]))
        )

    @classmethod
    def load(cls, path: Path) -> DestinationPolicy:
        try:
            if not path.is_file():
                raise DestinationPolicyError(f"{path}: not a regular file")
            if path.stat().st_size > _MAX_POLICY_BYTES:
                raise DestinationPolicyError(f"{path}: larger than {_MAX_POLICY_BYTES} bytes")
            text = path.read_text(encoding="utf-8")
        except OSError as exc:
            raise DestinationPolicyError(f"{path}: cannot read ({exc.strerror})") from exc
        except UnicodeDecodeError as exc:
            raise DestinationPolicyError(f"{path}: not UTF-8 text") from exc
        return cls.parse(text, str(path))


def _destination(item: Any, index: int, source: str) -> Destination:
    where = f"{source}: destinations[{index}]"
    if not isinstance(item, dict):
        raise DestinationPolicyError(f"{where}: expected an object")
    unknown = set(item) - _KNOWN_KEYS
    if unknown:
        raise DestinationPolicyError(f"{where}: unknown key(s): {', '.join(sorted(unknown))}")
    host, purpose, ports = item.get("host"), item.get("purpose"), item.get("ports", [443])
    if not isinstance(host, str) or not host or " " in host or "/" in host:
        raise DestinationPolicyError(f'{where}: "host" must be a host name such as api.n2net.com')
    if not isinstance(purpose, str) or not purpose:
        raise DestinationPolicyError(f'{where}: "purpose" must be a non-empty string')
    if (
        not isinstance(ports, list)
        or not ports
        or not all(isinstance(p, int) and not isinstance(p, bool) and 0 < p < 65536 for p in ports)
    ):
        raise DestinationPolicyError(f'{where}: "ports" must be a list of port numbers')
    return Destination(host.lower().rstrip("."), purpose, frozenset(ports))
