"""Keep the top-level ``__all__`` honest, in the manner of httpx's test of the same name."""

from __future__ import annotations

import ast
import importlib
import subprocess
import sys
import warnings
from pathlib import Path

import pytest

import n2net_privacy

INIT = Path(n2net_privacy.__file__)
PACKAGE = INIT.parent


def _type_checking_imports() -> dict[str, str]:
    """Name -> module, as the ``if TYPE_CHECKING:`` block imports it for type checkers."""
    tree = ast.parse(INIT.read_text())
    names: dict[str, str] = {}
    for node in ast.walk(tree):
        if isinstance(node, ast.If) and getattr(node.test, "id", None) == "TYPE_CHECKING":
            for stmt in node.body:
                assert isinstance(stmt, ast.ImportFrom) and stmt.module
                names.update((alias.asname or alias.name, stmt.module) for alias in stmt.names)
    return names


def _runtime_table() -> dict[str, str]:
    return {name: module for module, names in n2net_privacy._FROM.items() for name in names}


def test_all_is_sorted_and_unique() -> None:
    assert n2net_privacy.__all__ == sorted(set(n2net_privacy.__all__))


def test_every_exported_name_resolves_to_the_defining_object() -> None:
    for name in n2net_privacy.__all__:
        value = getattr(n2net_privacy, name)
        module = importlib.import_module(_runtime_table()[name])
        assert value is getattr(module, name), name


def test_all_matches_the_names_type_checkers_see() -> None:
    assert set(n2net_privacy.__all__) == set(_type_checking_imports())


def test_the_runtime_table_loads_each_name_from_where_type_checkers_look() -> None:
    assert _runtime_table() == _type_checking_imports()


def test_the_top_level_is_the_app_api_only() -> None:
    # The simulated OS, the QA tools and the wire format have their own packages.
    import n2net_privacy.audit
    import n2net_privacy.simulation

    exported = set(n2net_privacy.__all__)
    assert not exported & set(n2net_privacy.simulation.__all__)
    assert not exported & set(n2net_privacy.audit.__all__)
    assert not exported & {"EventBatch", "WireEvent", "IngestReply", "AuditLog", "AuditEntry"}
    assert len(exported) <= 85


def test_moved_names_are_not_public_but_still_resolve() -> None:
    moved = {name for names in n2net_privacy._MOVED.values() for name in names}
    assert not moved & set(n2net_privacy.__all__)
    assert not moved & set(dir(n2net_privacy))
    # Each one resolves; tests/test_deprecated_paths.py checks its one warning, in a fresh
    # interpreter (the warning is given once per process).
    for module, names in n2net_privacy._MOVED.items():
        for name in names:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore", DeprecationWarning)
                value = getattr(n2net_privacy, name)
            assert value is getattr(importlib.import_module(module), name)


#: Errors of the QA tools, the CLI and the simulation, not of the app API: they are in the
#: one tree (n2net_privacy.errors) and importable from there, but the top level is the app's.
TOOL_ERRORS = {
    "ManifestError", "ScenarioError", "UserScriptExhaustedError",
    "AuditInputError", "BatchFailed", "CheckFailed", "CheckSkipped", "DestinationPolicyError",
    "HarError", "OutputError", "OutputExistsError", "QAVerdict", "ServerNotRunningError",
    "VCardSyntaxError",  # turned into an AddressBookError before it reaches the app
    "CorruptStateError",  # raised by state-file parsers, turned into the defaults inside the SDK
}


def test_every_public_error_is_exported() -> None:
    from n2net_privacy import errors

    assert set(errors.__all__) - TOOL_ERRORS <= set(n2net_privacy.__all__)
    assert set(errors.__all__) >= TOOL_ERRORS


# Importing Locust monkey-patches the whole process with gevent; tests/test_locust.py
# checks this module's __all__ in a child process instead.
PATCHES_THE_PROCESS = {"n2net_privacy.testing.load.locust", "n2net_privacy.testing.locust"}
# Old paths kept for one release; importing one warns (tests/test_deprecated_paths.py).
DEPRECATED_ALIASES = {
    "n2net_privacy.permissions.prompt",
    "n2net_privacy.permissions.user",
    "n2net_privacy.egress_headers",
    "n2net_privacy.egress_policy",
    "n2net_privacy.egress_tls",
    "n2net_privacy.egress_transport",
    "n2net_privacy.oblivious",
    "n2net_privacy.testing.fleet",
    "n2net_privacy.testing.gravatar_server",
    "n2net_privacy.testing.ingest_endpoint",
    "n2net_privacy.testing.ingest_server",
    "n2net_privacy.testing.ingest_store",
    "n2net_privacy.testing.leaky_client",
    "n2net_privacy.testing.ohttp_servers",
    "n2net_privacy.testing.redteam",
    "n2net_privacy.testing.tap",
    "n2net_privacy.uploader.body",
    "n2net_privacy.uploader.crashpoints",
    "n2net_privacy.uploader.drops",
    "n2net_privacy.uploader.forking",
    "n2net_privacy.uploader.keyring",
    "n2net_privacy.uploader.keystore",
    "n2net_privacy.uploader.leases",
    "n2net_privacy.uploader.linger",
    "n2net_privacy.uploader.payload",
    "n2net_privacy.uploader.poison",
    "n2net_privacy.uploader.policy",
    "n2net_privacy.uploader.queue",
    "n2net_privacy.uploader.sealing",
    "n2net_privacy.uploader.sendconfig",
    "n2net_privacy.uploader.sender",
    "n2net_privacy.uploader.storage",
    "n2net_privacy.uploader.worker",
}


def test_subpackage_all_lists_resolve() -> None:
    # Their order is ruff's RUF022 (constants, classes, functions), checked by `ruff check`.
    for path in sorted(PACKAGE.rglob("*.py")):
        if path.name == "__main__.py":
            continue
        relative = path.relative_to(PACKAGE.parent).with_suffix("")
        name = ".".join(relative.parts).removesuffix(".__init__")
        if name in PATCHES_THE_PROCESS:
            continue
        if name in DEPRECATED_ALIASES and name not in sys.modules:
            with pytest.warns(DeprecationWarning, match=name):
                module = importlib.import_module(name)
        else:
            module = importlib.import_module(name)
        exported = getattr(module, "__all__", None)
        if exported is None:
            continue
        for attr in exported:
            assert hasattr(module, attr), f"{name}.{attr}"


def test_unknown_names_raise_attribute_error() -> None:
    try:
        n2net_privacy.not_a_name  # noqa: B018
    except AttributeError as exc:
        assert "not_a_name" in str(exc)
    else:
        raise AssertionError("expected AttributeError")


def test_importing_the_package_imports_no_heavy_dependency() -> None:
    code = (
        "import sys, n2net_privacy;"
        "print(sorted(m for m in ('httpx','pydantic','phonenumbers','cryptography') "
        "if m in sys.modules))"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True
    ).stdout.strip()
    assert out == "[]"


def test_the_raw_key_file_store_is_only_in_testing() -> None:
    # It writes the AES key unwrapped next to the queue: a test aid, not a device store.
    import n2net_privacy.testing
    import n2net_privacy.uploader

    assert "FileKeyStore" not in n2net_privacy.__all__
    assert "FileKeyStore" not in n2net_privacy.uploader.__all__
    assert "FileKeyStore" in n2net_privacy.testing.__all__


def test_dir_is_exactly_all_plus_the_module_dunders() -> None:
    names = set(dir(n2net_privacy))
    dunders = {name for name in names if name.startswith("__") and name.endswith("__")}
    assert names - dunders == set(n2net_privacy.__all__) - dunders
    assert "__version__" in names  # lazy, and in __all__


def test_star_import_gives_the_same_names_dir_lists() -> None:
    namespace: dict[str, object] = {}
    exec("from n2net_privacy import *", namespace)
    public = {name for name in namespace if name != "__builtins__"}
    assert public == set(n2net_privacy.__all__)
    assert public <= set(dir(n2net_privacy))
