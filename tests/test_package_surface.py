"""What a user meets first: help(), --version, the wire schema's strictness."""

from __future__ import annotations

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
    assert len(doc.splitlines()) <= 15
    assert "README" in doc and "docs/" in doc


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
