"""The licence is stated once, in the files and metadata that tools read (issue #21)."""

from __future__ import annotations

import tomllib
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
PROJECT = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))


def test_the_metadata_names_the_licence_as_pep_639_asks() -> None:
    project = PROJECT["project"]
    assert project["license"] == "Apache-2.0"  # an SPDX expression, not a table
    assert project["license-files"] == ["LICENSE", "NOTICE"]
    assert not [c for c in project["classifiers"] if c.startswith("License ::")]  # PEP 639
    # hatchling writes License-Expression and License-File from 1.27 on.
    assert "hatchling>=1.27" in PROJECT["build-system"]["requires"]


def test_the_licence_files_are_the_apache_text_and_n2nets_notice() -> None:
    licence = (ROOT / "LICENSE").read_text(encoding="utf-8")
    assert licence.split()[:4] == ["Apache", "License", "Version", "2.0,"]
    assert "END OF TERMS AND CONDITIONS" in licence
    assert "Copyright 2026 N2Net" in (ROOT / "NOTICE").read_text(encoding="utf-8")


def test_the_sdist_ships_them() -> None:
    include = PROJECT["tool"]["hatch"]["build"]["targets"]["sdist"]["include"]
    assert {"LICENSE", "NOTICE"} <= set(include)
