"""The old module paths (the egress door, the OHTTP client, testing/) still work for one release.

Each old path warns once, naming the new one, and hands back the very same objects.
Each case runs in a fresh interpreter so that "once" (the module body) is what is tested.
"""

from __future__ import annotations

import importlib.util
import subprocess
import sys

import pytest

MOVES = {
    "n2net_privacy.egress_policy": "n2net_privacy.egress.policy",
    "n2net_privacy.egress_headers": "n2net_privacy.egress.headers",
    "n2net_privacy.egress_tls": "n2net_privacy.egress.tls",
    "n2net_privacy.egress_transport": "n2net_privacy.egress.transport",
    "n2net_privacy.oblivious": "n2net_privacy.ohttp.client",
    "n2net_privacy.testing.gravatar_server": "n2net_privacy.testing.servers.gravatar",
    "n2net_privacy.testing.ingest_server": "n2net_privacy.testing.servers.ingest",
    "n2net_privacy.testing.ingest_endpoint": "n2net_privacy.testing.servers.ingest_endpoint",
    "n2net_privacy.testing.ingest_store": "n2net_privacy.testing.servers.ingest_store",
    "n2net_privacy.testing.tap": "n2net_privacy.testing.servers.tap",
    "n2net_privacy.testing.ohttp_servers": "n2net_privacy.testing.servers.ohttp",
    "n2net_privacy.testing.fleet": "n2net_privacy.testing.load.fleet",
    "n2net_privacy.testing.leaky_client": "n2net_privacy.audit.corpus.leaky_client",
    "n2net_privacy.testing.redteam": "n2net_privacy.audit.corpus.redteam",
}

PROBE = """
import importlib, sys, warnings
old, new = sys.argv[1], sys.argv[2]
with warnings.catch_warnings(record=True) as caught:
    warnings.simplefilter("always")
    shim = __import__(old, fromlist=["*"])  # an import statement's own call
    __import__(old, fromlist=["*"])  # a second import: the module is cached, no second warning
deprecations = [w for w in caught if issubclass(w.category, DeprecationWarning)]
assert len(deprecations) == 1, [str(w.message) for w in caught]
assert new in str(deprecations[0].message), deprecations[0].message
assert deprecations[0].filename == "<string>", deprecations[0].filename  # the importer's line
target = importlib.import_module(new)
assert shim.__all__, old
for name in shim.__all__:
    assert getattr(shim, name) is getattr(target, name), name
print("ok", len(shim.__all__))
"""


#: Importing Locust gevent-patches the process: only ever in a child, and only where installed.
LOCUST_MOVE = ("n2net_privacy.testing.locust", "n2net_privacy.testing.load.locust")
LOCUST_CASE = pytest.param(
    *LOCUST_MOVE,
    marks=pytest.mark.skipif(
        importlib.util.find_spec("locust") is None, reason="the locust extra is not installed"
    ),
)


@pytest.mark.parametrize(("old", "new"), [*sorted(MOVES.items()), LOCUST_CASE])
def test_an_old_path_warns_once_and_reexports_the_same_objects(old: str, new: str) -> None:
    done = subprocess.run(
        [sys.executable, "-c", PROBE, old, new], capture_output=True, text=True, check=False
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.startswith("ok ")


def test_the_new_paths_do_not_warn() -> None:
    code = "import warnings; warnings.simplefilter('error')\n" + "\n".join(
        f"import {new}" for new in MOVES.values()
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=False)
    assert done.returncode == 0, done.stderr
