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
    "import n2net_privacy.simulation",
    "from n2net_privacy.simulation import SimulatedAndroidKeystore, ScriptedUser",
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


#: Stdlib and dependency modules that only some calls need: importing them was a good
#: part of what touching a public name cost beyond the dependencies (issue 25).
#: (``email`` is not here: httpx itself loads it, through http.cookiejar.)
LOADED_ON_USE = ("asyncio", "httpcore", "h11", "plistlib", "ctypes")
PUBLIC_PACKAGES = (
    "n2net_privacy", "n2net_privacy.audit", "n2net_privacy.consent", "n2net_privacy.contacts",
    "n2net_privacy.egress", "n2net_privacy.gravatar", "n2net_privacy.manifest",
    "n2net_privacy.ohttp", "n2net_privacy.permissions", "n2net_privacy.simulation",
    "n2net_privacy.uploader",
)
TOUCH_EVERY_NAME = f"""
import importlib
for package in {PUBLIC_PACKAGES!r}:
    module = importlib.import_module(package)
    for name in module.__all__:
        getattr(module, name)
"""


def test_touching_every_public_name_loads_only_what_definitions_need() -> None:
    code = TOUCH_EVERY_NAME + PROBE.format(statement="", network=LOADED_ON_USE)
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                          check=False)
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == ""
