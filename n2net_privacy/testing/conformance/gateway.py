"""Conformance checks for an Oblivious HTTP gateway (RFC 9458), black box.

The kit fetches the key configuration, encapsulates Binary HTTP requests
with the SDK's own :mod:`n2net_privacy.ohttp` code, posts them to the
gateway resource through the egress door (purpose ``OHTTP_RELAY``: the kit
stands where the relay stands) and reads the answers as the SDK's
:class:`~n2net_privacy.ohttp.client.ObliviousClient` would. Checks that need a
usable key configuration are skipped, saying why, when there is none: then
``ohttp-keys-served`` is the one that fails.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from urllib.parse import urlsplit

from n2net_privacy import ohttp
from n2net_privacy.egress.policy import EgressResponse
from n2net_privacy.errors import NetworkError, WireFormatError
from n2net_privacy.ohttp.client import is_key_problem
from n2net_privacy.testing.conformance.model import (
    Check,
    CheckFailed,
    CheckSkipped,
    KitRuntime,
    Report,
)
from n2net_privacy.testing.conformance.runner import chosen, patterns, run_checks
from n2net_privacy.testing.conformance.session import ProbeClient
from n2net_privacy.uploader.send.sender import SenderConfig
from n2net_privacy.wording import plural

__all__ = ["GATEWAY_CHECKS", "GatewaySession", "GatewayTarget", "run_gateway_conformance"]

_MAX_REPLY_BYTES = 256 * 1024
_PROBLEM_JSON = "application/problem+json"


def _media_type(response: EgressResponse) -> str:
    return (response.header("content-type") or "").split(";", 1)[0].strip().lower()


@dataclass(frozen=True, slots=True)
class GatewayTarget:
    """The gateway resource (POST) and where its ``application/ohttp-keys`` are served (GET)."""

    gateway_url: str
    keys_url: str
    request_timeout_s: float = SenderConfig().request_timeout_s

    @classmethod
    def at(cls, gateway_url: str, keys_url: str | None = None) -> GatewayTarget:
        """``keys_url`` defaults to ``/ohttp-keys`` on the gateway's origin (the reference's)."""
        parts = urlsplit(gateway_url)
        return cls(gateway_url, keys_url or f"{parts.scheme}://{parts.netloc}/ohttp-keys")


class GatewaySession:
    """One run against a gateway: its client, the key configurations once fetched."""

    def __init__(self, target: GatewayTarget, client: ProbeClient, runtime: KitRuntime) -> None:
        self.target = target
        self.client = client
        self.runtime = runtime
        self.check = ""
        self._configs: tuple[ohttp.KeyConfig, ...] | None = None

    def _request(
        self, method: str, url: str, *, body: bytes | None = None, content_type: str = ""
    ) -> EgressResponse:
        headers = {"Content-Type": content_type} if content_type else None
        try:
            return self.client.request(
                method, url, headers=headers, content=body,
                timeout=self.target.request_timeout_s, max_response_bytes=_MAX_REPLY_BYTES,
            )
        except NetworkError as exc:
            raise CheckFailed(f"{method} {urlsplit(url).path or '/'}: {exc}") from None

    def fetch_keys(self) -> EgressResponse:
        return self._request("GET", self.target.keys_url)

    def configs(self) -> tuple[ohttp.KeyConfig, ...]:
        """The configurations the SDK can encapsulate to; skip the check if there are none."""
        if self._configs is None:
            response = self.fetch_keys()
            usable: list[ohttp.KeyConfig] = []
            if response.status == 200:
                try:
                    found = ohttp.KeyConfig.decode_list(response.content)
                except WireFormatError:
                    found = ()
                for config in found:
                    try:
                        ohttp.encapsulate_request(config, b"")
                    except WireFormatError:
                        continue
                    usable.append(config)
            self._configs = tuple(usable)
        if not self._configs:
            raise CheckSkipped("no usable key configuration (see ohttp-keys-served)")
        return self._configs

    def inner(self) -> bytes:
        """A harmless Binary HTTP request: ``GET /`` on the gateway's own authority."""
        authority = urlsplit(self.target.gateway_url).netloc
        return ohttp.bhttp.encode_request("GET", "https", authority, "/")

    def post(self, body: bytes, content_type: str = ohttp.REQUEST_MEDIA_TYPE) -> EgressResponse:
        return self._request("POST", self.target.gateway_url, body=body, content_type=content_type)


def _refused(response: EgressResponse, what: str) -> None:
    if not 400 <= response.status < 500:
        raise CheckFailed(f"{what} must be refused with a 4xx; got {response.status}")


def keys_served(session: GatewaySession) -> str:
    response = session.fetch_keys()
    if response.status != 200:
        raise CheckFailed(f"GET of the key configuration answered {response.status}, not 200")
    if _media_type(response) != ohttp.KEY_CONFIG_MEDIA_TYPE:
        raise CheckFailed(f"the key configuration is not served as {ohttp.KEY_CONFIG_MEDIA_TYPE}")
    try:
        found = ohttp.KeyConfig.decode_list(response.content)
    except WireFormatError as exc:
        raise CheckFailed(f"the key configuration does not decode: {exc}") from None
    configs = session.configs()
    return f"{plural(len(found), 'key configuration')}, {len(configs)} usable by the SDK"


def request_answered(session: GatewaySession) -> str:
    config = session.configs()[0]
    body, context = ohttp.encapsulate_request(config, session.inner())
    response = session.post(body)
    if response.status != 200 or _media_type(response) != ohttp.RESPONSE_MEDIA_TYPE:
        raise CheckFailed(
            f"an encapsulated request must get 200 {ohttp.RESPONSE_MEDIA_TYPE}; got"
            f" {response.status} {_media_type(response) or 'without a Content-Type'}"
        )
    try:
        inner = ohttp.bhttp.decode_response(context.open_response(response.content))
    except WireFormatError as exc:
        raise CheckFailed(f"the encapsulated response does not open: {exc}") from None
    return f"the inner response opened: status {inner.status}"


def unknown_key_id(session: GatewaySession) -> None:
    configs = session.configs()
    held = {config.key_id for config in configs}
    unused = next(key_id for key_id in range(256) if key_id not in held)
    stranger = dataclasses.replace(configs[0], key_id=unused)
    body, _ = ohttp.encapsulate_request(stranger, session.inner())
    response = session.post(body)
    if not is_key_problem(response) or _media_type(response) != _PROBLEM_JSON:
        raise CheckFailed(
            f"a request under an unknown key id got {response.status}"
            f" {_media_type(response) or 'without a Content-Type'}, not the ohttp-key problem"
            f" ({_PROBLEM_JSON}) that makes the SDK refetch the key configuration"
        )


def wrong_media_type(session: GatewaySession) -> None:
    body, _ = ohttp.encapsulate_request(session.configs()[0], session.inner())
    response = session.post(body, content_type="application/octet-stream")
    if response.status != 415:
        raise CheckFailed(
            f"an encapsulated request sent as application/octet-stream got {response.status},"
            " not 415"
        )


def malformed_request(session: GatewaySession) -> None:
    config = session.configs()[0]
    body, _ = ohttp.encapsulate_request(config, session.inner())
    _refused(session.post(body[:12]), "a truncated encapsulated request")


def tampered_request(session: GatewaySession) -> None:
    config = session.configs()[0]
    body = bytearray(ohttp.encapsulate_request(config, session.inner())[0])
    body[-1] ^= 0x01
    _refused(session.post(bytes(body)), "an encapsulated request with one bit flipped")


GATEWAY_CHECKS: tuple[Check[GatewaySession], ...] = (
    Check(
        "ohttp-keys-served",
        "The gateway's key configurations are served with 200 as application/ohttp-keys"
        " (RFC 9458 §3), decode, and offer at least one suite the SDK can use.",
        keys_served,
    ),
    Check(
        "ohttp-request-answered",
        "An encapsulated request (message/ohttp-req) is answered 200 as message/ohttp-res, and"
        " the answer opens with the request's context to a Binary HTTP response (RFC 9458 §4).",
        request_answered,
    ),
    Check(
        "ohttp-unknown-key-id",
        "A request under a key id the gateway does not hold gets the ohttp-key problem"
        " (application/problem+json, RFC 9458 §5.3), which makes the SDK refetch the key"
        " configuration instead of giving up.",
        unknown_key_id,
    ),
    Check(
        "ohttp-wrong-media-type",
        "A request whose Content-Type is not message/ohttp-req is refused with 415.",
        wrong_media_type,
    ),
    Check(
        "ohttp-malformed-request",
        "A truncated encapsulated request is refused with a 4xx, never a 200 or a 5xx.",
        malformed_request,
    ),
    Check(
        "ohttp-tampered-request",
        "An encapsulated request with one ciphertext bit flipped fails authentication and is"
        " refused with a 4xx.",
        tampered_request,
    ),
)


def run_gateway_conformance(
    target: GatewayTarget,
    client: ProbeClient,
    *,
    only: str | None = None,
    runtime: KitRuntime | None = None,
) -> Report:
    """Run the gateway checks against ``target`` through ``client`` (purpose OHTTP_RELAY)."""
    checks = chosen(GATEWAY_CHECKS, patterns(only, (c.name for c in GATEWAY_CHECKS)))
    session = GatewaySession(target, client, runtime or KitRuntime())
    return Report(target=target.gateway_url, results=run_checks(checks, session))
