"""The mitmproxy addon's pieces that need no mitmproxy: a flow as an exchange, its options.

The hooks themselves run in a real ``mitmdump`` in tests/test_mitm_real.py.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from n2net_privacy.audit.mitm_addon import N2NetPrivacyAddon, exchange_from_flow


class _Headers(dict[str, str]):
    def items(self, multi: bool = False) -> Any:  # mitmproxy's multidict signature
        return super().items()


@dataclass
class _Message:
    raw_content: bytes | None
    headers: _Headers = field(default_factory=_Headers)
    method: str = "POST"
    url: str = "https://api.n2net.com/v1/upload"
    status_code: int = 200


@dataclass
class _Flow:
    request: _Message
    response: _Message | None = None


def test_a_streamed_request_body_is_unrecorded_not_empty() -> None:
    # With stream_large_bodies mitmproxy forwards the body without keeping it.
    x = exchange_from_flow(_Flow(_Message(None)), 0)
    assert x.body == b""
    assert [place for place, _ in x.unrecorded] == ["body"]
    assert "stream_large_bodies" in x.unrecorded[0][1]


def test_a_streamed_response_body_is_unrecorded_and_a_held_one_is_read() -> None:
    x = exchange_from_flow(_Flow(_Message(b"{}"), _Message(None)), 3)
    assert (x.index, x.body, [p for p, _ in x.unrecorded]) == (3, b"{}", ["response.body"])
    held = exchange_from_flow(
        _Flow(_Message(b""), _Message(b"hi", _Headers({"content-type": "text/plain"}))), 0
    )
    assert (held.unrecorded, held.response_body, held.response_type) == ((), b"hi", "text/plain")


def test_the_addon_offers_a_loopback_option_off_by_default() -> None:
    options: dict[str, tuple[type, object]] = {}

    class Loader:
        def add_option(self, name: str, kind: type, default: object, help: str) -> None:
            options[name] = (kind, default)

    N2NetPrivacyAddon().load(Loader())
    assert options["n2net_allow_loopback_http"] == (bool, False)
