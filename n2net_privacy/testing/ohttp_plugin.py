"""pytest fixture for the three-party Oblivious HTTP setup.

Registered through the ``pytest11`` entry point next to the main plugin, so
any test that installs the SDK (with the ``ohttp`` extra) can ask for it.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from contextlib import ExitStack
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import pytest

from n2net_privacy.egress.tls import PinSet
from n2net_privacy.testing.servers.gravatar import GravatarStandIn
from n2net_privacy.testing.servers.ingest import IngestServer
from n2net_privacy.testing.servers.ohttp import OhttpGatewayServer, OhttpRelay
from n2net_privacy.uploader.wire import ServerKeyPair

if TYPE_CHECKING:
    from cryptography.hazmat.primitives.asymmetric import x25519

    from n2net_privacy.ohttp.client import ObliviousConfig

__all__ = ["OhttpStack", "ohttp_stack"]

INGEST_AUTHORITY = "api.n2net.com"
GRAVATAR_AUTHORITY = "gravatar.com"
#: Far enough ahead for any test run; a test of expiry builds its own PinSet.
PINS_EXPIRE = dt.date(2099, 1, 1)


@dataclass(frozen=True, slots=True)
class OhttpStack:
    """Device -> relay (127.0.0.2 upstream) -> gateway (127.0.0.3 upstream) -> targets.

    ``key_pins`` pins the gateway's key (id 1) and a backup (id 2, whose
    private key is ``backup_key``: a test rotates by serving it).
    """

    relay: OhttpRelay
    gateway: OhttpGatewayServer
    ingest: IngestServer
    gravatar: GravatarStandIn
    ingest_key: ServerKeyPair
    app_key: str
    key_pins: PinSet
    backup_key: x25519.X25519PrivateKey

    def oblivious(self, **overrides: Any) -> ObliviousConfig:
        """The device's configuration: keys through the relay, pinned, fetched at once."""
        from n2net_privacy.ohttp.client import ObliviousConfig

        options: dict[str, Any] = {
            "relay_url": self.relay.url,
            "key_config_url": self.relay.keys_url,
            "key_pins": self.key_pins,
            "key_refresh_jitter_s": 0.0,
        }
        options.update(overrides)
        return ObliviousConfig(**options)


@pytest.fixture
def ohttp_stack() -> Iterator[OhttpStack]:
    """A loopback relay, gateway, reference ingest and Gravatar stand-in, wired together.

    The gateway routes authority ``api.n2net.com`` to the ingest and
    ``gravatar.com`` to the stand-in. Each hop connects from its own
    loopback address, so ``ingest.requests()[i].client_host`` and
    ``gravatar.requests()[i].client_host`` show who each party saw.
    """
    pytest.importorskip("pyhpke", reason="the 'ohttp' extra (pyhpke) is not installed")
    from cryptography.hazmat.primitives.asymmetric import x25519

    from n2net_privacy import ohttp

    key = ServerKeyPair.generate("x25519", key_id="ingest-1")
    app_key = "ohttp-app-key"
    current = ohttp.Gateway([(1, x25519.X25519PrivateKey.generate())])
    backup_key = x25519.X25519PrivateKey.generate()
    backup = ohttp.Gateway([(2, backup_key)])
    pins = PinSet(
        {ohttp.key_config_pin(c) for c in current.key_configs() + backup.key_configs()},
        expires=PINS_EXPIRE,
    )
    with ExitStack() as stack:
        ingest = stack.enter_context(IngestServer(key, app_key=app_key))
        gravatar = stack.enter_context(GravatarStandIn())
        gateway = stack.enter_context(
            OhttpGatewayServer(
                current,
                {
                    INGEST_AUTHORITY: ingest.url,
                    GRAVATAR_AUTHORITY: f"http://127.0.0.1:{gravatar.port}",
                },
            )
        )
        relay = stack.enter_context(OhttpRelay(gateway.gateway_url))
        yield OhttpStack(relay, gateway, ingest, gravatar, key, app_key, pins, backup_key)
