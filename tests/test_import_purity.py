"""Pure names load no network stack, even through a package ``__init__`` (principle 8).

Each import runs in a fresh interpreter: in this process httpx is long loaded.
"""

from __future__ import annotations

import subprocess
import sys

import pytest

NETWORK = ("httpx", "httpcore", "h11")

PURE_IMPORTS = [
    "from n2net_privacy import to_e164",
    "from n2net_privacy import gravatar_hash",
    "from n2net_privacy import Settings",
    "from n2net_privacy import ServerKeyPair",
    "from n2net_privacy.egress import Purpose, PinSet, EgressPolicy, USER_AGENT",
    "import n2net_privacy.ohttp",
    "import n2net_privacy.egress.policy",
    "import n2net_privacy.egress.headers",
    "import n2net_privacy.egress.tls",
    "import n2net_privacy.gravatar.hashing",
    "import n2net_privacy.gravatar.lookup",
    "import n2net_privacy.settings",
    "import n2net_privacy.phone",
    "import n2net_privacy.consent",
    "import n2net_privacy.contacts",
    "import n2net_privacy.permissions",
    "import n2net_privacy.runtime",
    "import n2net_privacy.uploader.send",
    "import n2net_privacy.uploader.send.decisions",
    "import n2net_privacy.uploader.wire",
    "import n2net_privacy.uploader.wire.models",
    "import n2net_privacy.uploader.wire.seal",
    "import n2net_privacy.uploader.wire.payload",
    "import n2net_privacy.uploader.store",
    "import n2net_privacy.uploader.store.at_rest",
    "import n2net_privacy.uploader.store.queue",
    "import n2net_privacy.uploader._process",
    "from n2net_privacy.uploader import ServerKeyPair, classify",
]

PROBE = """
import sys
{statement}
print(",".join(name for name in {network!r} if name in sys.modules))
"""


def _loaded_by(statement: str) -> str:
    done = subprocess.run(
        [sys.executable, "-c", PROBE.format(statement=statement, network=NETWORK)],
        capture_output=True, text=True, check=False,
    )
    assert done.returncode == 0, done.stderr
    return done.stdout.strip()


@pytest.mark.parametrize("statement", PURE_IMPORTS)
def test_a_pure_import_loads_no_network_stack(statement: str) -> None:
    assert _loaded_by(statement) == "", statement


@pytest.mark.parametrize("statement", [
    "from n2net_privacy.egress import Egress",
    "from n2net_privacy.gravatar import GravatarFetcher",
    "from n2net_privacy.uploader import Uploader",
])
def test_the_probe_sees_a_client_load_httpx(statement: str) -> None:
    # The lazy names still resolve, and the probe is not blind.
    assert "httpx" in _loaded_by(statement).split(",")
