"""The old module paths (the egress door, the OHTTP client, the uploader, testing/,
the simulated OS) and the names that left a package work for one release.

Each old path warns once, naming the new one, and hands back the very same objects.
Each case runs in a fresh interpreter so that "once" (the module body) is what is tested.
A module whose names went to several new homes lists them all, the one it names first.
"""

from __future__ import annotations

import importlib.util
import subprocess
import sys

import pytest

import n2net_privacy

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
    "n2net_privacy.permissions.prompt": "n2net_privacy.simulation.prompt",
    "n2net_privacy.permissions.user": "n2net_privacy.simulation.user",
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

SIMULATED_OS = ["Answer", "HoldOpen", "Prompt", "PromptAnswer", "PromptGate", "Responder",
                "ScriptItem", "ScriptedUser", "SelectContacts"]
KEY_STORES = ["SimulatedAndroidKeystore", "SimulatedIOSKeychain"]
#: (old package, name, new module)
MOVED_NAMES = sorted(
    [("n2net_privacy", name, module)
     for module, names in n2net_privacy._MOVED.items() for name in names]
    + [("n2net_privacy.permissions", name, "n2net_privacy.simulation") for name in SIMULATED_OS]
    + [(old, name, "n2net_privacy.simulation")
       for old in ("n2net_privacy.uploader", "n2net_privacy.uploader.keystore",
                   "n2net_privacy.uploader.store.at_rest")
       for name in KEY_STORES]
)

MODULE_PROBE = """
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

NAME_PROBE = """
import importlib, sys, warnings
old, name, new = sys.argv[1], sys.argv[2], sys.argv[3]
package = importlib.import_module(old)
with warnings.catch_warnings(record=True) as caught:
    warnings.simplefilter("always")
    exec(f"from {old} import {name} as first")  # the statement an app wrote
    second = getattr(package, name)  # asked again: no second warning
deprecations = [w for w in caught if issubclass(w.category, DeprecationWarning)]
assert len(deprecations) == 1, [str(w.message) for w in caught]
message = str(deprecations[0].message)
assert f"{old}.{name} is deprecated" in message, message
assert f"from {new} import {name}" in message, message
assert deprecations[0].filename == "<string>", deprecations[0].filename  # the asker's line
assert first is second is getattr(importlib.import_module(new), name)
assert name not in dir(package) and name not in getattr(package, "__all__", ())
print("ok")
"""


def _run(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-c", *args], capture_output=True, text=True,
                          check=False)


#: Importing Locust gevent-patches the process: only ever in a child, and only where installed.
LOCUST_MOVE = ("n2net_privacy.testing.locust", "n2net_privacy.testing.load.locust")
LOCUST_CASE = pytest.param(
    *LOCUST_MOVE,
    marks=pytest.mark.skipif(
        importlib.util.find_spec("locust") is None, reason="the locust extra is not installed"
    ),
)


@pytest.mark.parametrize(("old", "new"), [*sorted(MOVES.items()), LOCUST_CASE])
def test_an_old_module_path_warns_once_and_reexports_the_same_objects(old: str, new: str) -> None:
    done = _run(MODULE_PROBE, old, new)
    assert done.returncode == 0, done.stderr
    assert done.stdout.startswith("ok ")


@pytest.mark.parametrize(("old", "name", "new"), MOVED_NAMES)
def test_a_moved_name_warns_once_naming_its_new_path(old: str, name: str, new: str) -> None:
    done = _run(NAME_PROBE, old, name, new)
    assert done.returncode == 0, done.stderr
    assert done.stdout == "ok\n"


def test_the_new_paths_do_not_warn() -> None:
    code = "import warnings; warnings.simplefilter('error')\n" + "\n".join(
        f"import {new}" for news in MOVES.values() for new in news.split(",")
    ) + "\nfrom n2net_privacy.simulation import *\nimport n2net_privacy as n\n" + (
        "[getattr(n, name) for name in n.__all__]"
    )
    done = _run(code)
    assert done.returncode == 0, done.stderr


def test_an_unknown_name_is_still_an_attribute_error() -> None:
    done = _run("import n2net_privacy.permissions as p\n"
                "try:\n    p.NoSuchName\nexcept AttributeError as e:\n    print(e)")
    assert done.stdout.strip() == "module 'n2net_privacy.permissions' has no attribute 'NoSuchName'"
