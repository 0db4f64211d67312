"""The demo is a check, not a printout: it exits 0 only when every claim held."""

from __future__ import annotations

import io
from pathlib import Path

from n2net_privacy.cli import main
from n2net_privacy.demo import run_demo


def test_demo_story_holds_and_writes_the_report(tmp_path: Path) -> None:
    out = io.StringIO()
    assert run_demo(out, contacts=400, seed=11, report_dir=tmp_path) == 0, out.getvalue()
    text = out.getvalue()
    for chapter in ("Android 14", "iOS 18", "Gravatar", "SMS and calls", "privacy report"):
        assert chapter in text
    assert "findings: 0" in text
    assert "[ok ] every byte that left is declared: 0 undeclared" in text
    assert "FAIL" not in text
    assert (tmp_path / "PrivacyInfo.xcprivacy").read_bytes().startswith(b"<?xml")
    assert '"format": "n2net.data-safety/1"' in (tmp_path / "data-safety.json").read_text()
    html = (tmp_path / "privacy-report.html").read_text()
    assert "<html" in html.lower()
    assert (tmp_path / "privacy-report.json").read_text().startswith("{")


def test_demo_subcommand_exit_code(tmp_path: Path, capsys: object) -> None:
    assert main(["demo", "--contacts", "300", "--report-dir", str(tmp_path)]) == 0
