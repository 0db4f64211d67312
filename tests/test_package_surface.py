"""What a user meets first: help(), --version, the wire schema's strictness."""

from __future__ import annotations

import importlib
import json
import pydoc
import subprocess
import sys
from pathlib import Path

import jsonschema
import pytest

import n2net_privacy
from n2net_privacy.errors import WireFormatError
from n2net_privacy.uploader.wire import decode_batch, json_schema


def test_help_on_the_package_is_a_page_not_a_book() -> None:
    # Before: 13,110 lines, every pydantic model's inherited API. Names used
    # before help() must not bring it back.
    _ = n2net_privacy.Contact, n2net_privacy.N2NetPrivacy, n2net_privacy.Settings
    text = pydoc.plaintext.document(n2net_privacy)
    assert len(text.splitlines()) < 120
    assert "docs/" in text
    assert "model_validate" not in text


def test_the_docstring_is_short_and_points_to_the_docs() -> None:
    doc = n2net_privacy.__doc__ or ""
    assert len(doc.splitlines()) <= 45  # one screen: the overview, not a manual
    assert "README" in doc and "docs/" in doc


def test_the_docstring_says_what_the_sdk_is_and_where_to_start() -> None:
    doc = n2net_privacy.__doc__ or ""
    assert doc.splitlines()[0].startswith("The privacy policy of N2Net Mobile")
    assert "four promises" in doc
    for number in "1234":
        assert f"\n{number}. " in doc
    for audience in ("App developers", "Tests and demos", "Backend developers", "QA"):
        assert f"- {audience}:" in doc
    # Every entry point it names is a public name (a renamed class would leave it stale).
    named = {word.strip("().,;/") for word in doc.split()}
    entry_points = {
        "N2NetPrivacy", "ContactsGateway", "PermissionService", "Uploader", "to_e164",
        "normalize", "Settings", "GravatarFetcher", "gravatar_hash", "Egress",
        "ServerKeyPair", "N2NetPrivacyError",
    }
    assert entry_points <= named
    assert entry_points <= set(n2net_privacy.__all__)
    # The other audiences are pointed to their packages, and the names it gives are there.
    elsewhere = {
        "n2net_privacy.simulation": {"ScriptedUser", "Answer", "SimulatedAndroidKeystore"},
        "n2net_privacy.audit": {"EgressAuditor", "report_for", "PrivacyReport"},
        "n2net_privacy.uploader": {"EventBatch", "WireEvent", "IngestReply"},
        "n2net_privacy.testing": set(),
    }
    for package, names in elsewhere.items():
        assert package in named
        assert names <= named
        assert names <= set(importlib.import_module(package).__all__)
    for guide in ("facade", "contacts", "permissions", "phone", "gravatar", "uploader",
                  "egress", "ohttp", "scenarios"):
        assert (Path(__file__).resolve().parent.parent / "docs" / f"{guide}.md").is_file()


def test_help_is_the_overview_then_the_package_index() -> None:
    text = pydoc.render_doc(n2net_privacy, renderer=pydoc.plaintext)
    assert "NAME\n    n2net_privacy - The privacy policy of N2Net Mobile" in text
    assert len(text.splitlines()) < 120
    assert "four promises" in text
    assert "class N2NetPrivacy" not in text  # help(n2net_privacy.N2NetPrivacy) has it
    assert "__getattr__" not in text and "__dir__" not in text


def test_dir_lists_every_public_name_and_no_internal_one() -> None:
    names = dir(n2net_privacy)
    assert names == sorted(names)
    assert set(n2net_privacy.__all__) <= set(names)
    assert {"__name__", "__doc__", "__all__", "__version__", "__path__"} <= set(names)
    internals = {name for name in names if name.startswith("_") and not name.endswith("__")}
    assert internals == set()
    assert "importlib" not in names and "TYPE_CHECKING" not in names


def test_dir_does_not_import_the_heavy_modules() -> None:
    code = (
        "import sys, n2net_privacy; names = dir(n2net_privacy);"
        "assert 'N2NetPrivacy' in names;"
        "print(sorted(m for m in ('httpx','pydantic','phonenumbers','cryptography') "
        "if m in sys.modules))"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True, timeout=60
    ).stdout.strip()
    assert out == "[]"


@pytest.mark.parametrize(
    ("prefix", "expected"),
    [
        ("to_", {"n2net_privacy.to_e164("}),
        ("N2N", {"n2net_privacy.N2NetPrivacy(", "n2net_privacy.N2NetPrivacyError("}),
        ("Invalid", {"n2net_privacy.InvalidArgumentError(",
                     "n2net_privacy.InvalidArgumentTypeError(",
                     "n2net_privacy.InvalidTransitionError(", "n2net_privacy.InvalidUrlError("}),
        ("Uploader", {"n2net_privacy.Uploader(", "n2net_privacy.UploaderConfig(",
                      "n2net_privacy.UploaderError("}),
    ],
)
def test_tab_completion_offers_the_public_names(prefix: str, expected: set[str]) -> None:
    import rlcompleter

    completer = rlcompleter.Completer({"n2net_privacy": n2net_privacy})
    offered = set()
    for state in range(50):
        match = completer.complete(f"n2net_privacy.{prefix}", state)
        if match is None:
            break
        offered.add(match)
    assert offered == expected


def test_names_still_resolve_lazily_and_are_the_same_objects() -> None:
    from n2net_privacy.contacts.model import Contact

    assert n2net_privacy.Contact is Contact
    with pytest.raises(AttributeError):
        _ = n2net_privacy.NoSuchName  # type: ignore[attr-defined]


def test_python_m_shows_the_version() -> None:
    done = subprocess.run(
        [sys.executable, "-m", "n2net_privacy.cli", "--version"],
        capture_output=True, text=True, check=False, timeout=60,
    )
    assert done.returncode == 0
    assert done.stdout.strip() == f"n2net-privacy {n2net_privacy.__version__}"


CALL = {"id": "1c8a9d0f-3e5b-4d2c-8f4a-6b7c8d9e0f1a", "type": "call",
        "number": "+12025550143", "at": "2026-11-29T03:04:05Z"}


@pytest.mark.parametrize(
    ("duration", "ok"),
    [(42, True), (0, True), (-1, False), (2**31, False), ("42", False), (True, False),
     (4.5, False)],
)
def test_schema_and_decoder_agree_on_duration(duration: object, ok: bool) -> None:
    document = {"schema": "n2net.events/1", "events": [{**CALL, "duration_s": duration}]}
    schema_ok = jsonschema.Draft202012Validator(json_schema()).is_valid(document)
    try:
        decode_batch(json.dumps(document).encode())
        decoder_ok = True
    except WireFormatError:
        decoder_ok = False
    assert (schema_ok, decoder_ok) == (ok, ok)


def test_the_one_thing_json_schema_cannot_say_is_said_in_words() -> None:
    # 42.0 is the number 42 to JSON Schema; the decoder wants the literal 42.
    event = json_schema()["$defs"]["WireEvent"]
    assert event["properties"]["duration_s"]["type"] == "integer"
    assert "never 42.0" in event["$comment"]
    with pytest.raises(WireFormatError, match="duration_s"):
        decode_batch(json.dumps({"schema": "n2net.events/1",
                                 "events": [{**CALL, "duration_s": 42.0}]}).encode())


def test_pyproject_metadata_is_well_formed() -> None:
    import tomllib
    from pathlib import Path

    project = tomllib.loads(
        (Path(__file__).resolve().parent.parent / "pyproject.toml").read_text()
    )["project"]
    assert len(project["dependencies"]) == 4  # the four runtime dependencies, nothing more
    assert project["urls"] and all(isinstance(url, str) for url in project["urls"].values())
    assert "Programming Language :: Python :: 3.11" in project["classifiers"]


def test_the_example_scenarios_are_found_and_ship_in_the_wheel() -> None:
    import tomllib
    from pathlib import Path

    from n2net_privacy.errors import ConfigurationError
    from n2net_privacy.examples import EXAMPLE_SCENARIOS, scenario_path

    root = Path(__file__).resolve().parent.parent
    for name in EXAMPLE_SCENARIOS:
        shipped = root / "examples" / "scenarios" / f"{name}.json"
        assert scenario_path(name).read_bytes() == shipped.read_bytes()
    with pytest.raises(ConfigurationError, match="expected one of: clean, leaky"):
        scenario_path("../secrets")
    hatch = tomllib.loads((root / "pyproject.toml").read_text())["tool"]["hatch"]
    wheel = hatch["build"]["targets"]["wheel"]
    assert wheel["force-include"] == {"examples/scenarios": "n2net_privacy/_examples/scenarios"}


def test_audit_runs_a_shipped_example(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    from n2net_privacy.cli import main

    assert main(["audit", "--example", "leaky", "--out", str(tmp_path), "-q"]) == 1
    assert "FAIL: 2 findings" in capsys.readouterr().out
    assert (tmp_path / "leaky.privacy-report.html").is_file()
