"""``n2net-privacy schema`` prints the generated JSON Schema of wire contract v1."""

from __future__ import annotations

import io
import json
import subprocess
import sys

import pytest

from n2net_privacy.cli import main
from n2net_privacy.cli.schema import run
from n2net_privacy.uploader.wire import json_schema


def test_schema_command_prints_the_generated_schema(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["schema"]) == 0
    out, err = capsys.readouterr()
    assert json.loads(out) == json_schema()
    assert err == ""


def test_output_is_pretty_and_stable() -> None:
    first, second = io.StringIO(), io.StringIO()
    assert run(stdout=first) == 0
    run(stdout=second)
    text = first.getvalue()
    assert text == second.getvalue()
    assert text.startswith('{\n  "$defs"')
    assert text.endswith("}\n")
    assert '"const": "n2net.events/1"' in text


def test_the_module_entry_point_works() -> None:
    done = subprocess.run(
        [sys.executable, "-m", "n2net_privacy.cli", "schema"],
        capture_output=True, text=True, check=False, timeout=60,
    )
    assert done.returncode == 0
    assert set(json.loads(done.stdout)["properties"]) == {"schema", "events"}
