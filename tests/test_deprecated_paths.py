"""The old module paths (the egress door, the OHTTP client, the uploader) work for one release.

Each old path warns once, naming the new one, and hands back the very same objects.
Each case runs in a fresh interpreter so that "once" (the module body) is what is tested.
A module whose names went to several new homes lists them all, the one it names first.
"""

from __future__ import annotations

import subprocess
import sys

import pytest

MOVES = {
    "n2net_privacy.egress_policy": "n2net_privacy.egress.policy",
    "n2net_privacy.egress_headers": "n2net_privacy.egress.headers",
    "n2net_privacy.egress_tls": "n2net_privacy.egress.tls",
    "n2net_privacy.egress_transport": "n2net_privacy.egress.transport",
    "n2net_privacy.oblivious": "n2net_privacy.ohttp.client",
    "n2net_privacy.uploader.body": (
        "n2net_privacy.uploader.wire.payload,"
        "n2net_privacy.uploader.send.sender,"
        "n2net_privacy.uploader.wire.models"
    ),
    "n2net_privacy.uploader.crashpoints": "n2net_privacy.uploader,n2net_privacy.uploader._process",
    "n2net_privacy.uploader.drops": "n2net_privacy.uploader.store.drops",
    "n2net_privacy.uploader.forking": "n2net_privacy.uploader._process",
    "n2net_privacy.uploader.keyring": "n2net_privacy.uploader.wire.seal",
    "n2net_privacy.uploader.keystore": "n2net_privacy.uploader.store.at_rest",
    "n2net_privacy.uploader.leases": (
        "n2net_privacy.uploader.store.queue,"
        "n2net_privacy.uploader.store.at_rest"
    ),
    "n2net_privacy.uploader.linger": "n2net_privacy.uploader.send.decisions",
    "n2net_privacy.uploader.payload": "n2net_privacy.uploader.wire.payload",
    "n2net_privacy.uploader.poison": "n2net_privacy.uploader.send.decisions",
    "n2net_privacy.uploader.policy": "n2net_privacy.uploader.send.decisions",
    "n2net_privacy.uploader.queue": "n2net_privacy.uploader.store.queue",
    "n2net_privacy.uploader.sealing": "n2net_privacy.uploader.wire.seal",
    "n2net_privacy.uploader.sendconfig": "n2net_privacy.uploader.send.sender",
    "n2net_privacy.uploader.sender": "n2net_privacy.uploader.send.sender",
    "n2net_privacy.uploader.storage": "n2net_privacy.uploader.store.file",
    "n2net_privacy.uploader.worker": "n2net_privacy.uploader.send.worker",
}

PROBE = """
import importlib, sys, warnings
old, news = sys.argv[1], sys.argv[2].split(",")
new = news[0]
with warnings.catch_warnings(record=True) as caught:
    warnings.simplefilter("always")
    shim = __import__(old, fromlist=["*"])  # an import statement's own call
    __import__(old, fromlist=["*"])  # a second import: the module is cached, no second warning
deprecations = [w for w in caught if issubclass(w.category, DeprecationWarning)]
assert len(deprecations) == 1, [str(w.message) for w in caught]
assert new in str(deprecations[0].message), deprecations[0].message
assert deprecations[0].filename == "<string>", deprecations[0].filename  # the importer's line
targets = [importlib.import_module(module) for module in news]
assert shim.__all__, old
for name in shim.__all__:
    assert any(getattr(shim, name) is getattr(t, name, None) for t in targets), name
print("ok", len(shim.__all__))
"""


@pytest.mark.parametrize(("old", "new"), sorted(MOVES.items()))
def test_an_old_path_warns_once_and_reexports_the_same_objects(old: str, new: str) -> None:
    done = subprocess.run(
        [sys.executable, "-c", PROBE, old, new], capture_output=True, text=True, check=False
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.startswith("ok ")


def test_the_new_paths_do_not_warn() -> None:
    code = "import warnings; warnings.simplefilter('error')\n" + "\n".join(
        f"import {new}" for news in MOVES.values() for new in news.split(",")
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=False)
    assert done.returncode == 0, done.stderr
