"""The demo is a check, not a printout: it exits 0 only when every claim held."""

from __future__ import annotations

import io
import subprocess
import sys
from pathlib import Path

import pytest

from n2net_privacy.cli import main
from n2net_privacy.cli._output import OutputError
from n2net_privacy.contacts import Contact
from n2net_privacy.demo import MAX_CONTACTS, MIN_CONTACTS, _missing_material, run_demo
from n2net_privacy.demo.gravatar import GravatarPlan
from n2net_privacy.errors import InvalidArgumentError
from n2net_privacy.testing.synthetic import synthetic_address_book


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


def _demo(*argv: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "n2net_privacy", "demo", *argv],
        capture_output=True, text=True, check=False, timeout=600,
    )


@pytest.mark.parametrize("contacts", [MIN_CONTACTS, MIN_CONTACTS + 1, 50])
def test_every_claim_holds_at_the_small_end_of_the_range(tmp_path: Path, contacts: int) -> None:
    """50 contacts once held 48/52: the Gravatar switch-off and the outage had no material."""
    done = _demo("--contacts", str(contacts), "--report-dir", str(tmp_path))
    assert done.returncode == 0, done.stdout[-2000:] + done.stderr
    assert "FAIL" not in done.stdout
    claims = done.stdout.rsplit("\n\n", 1)[-1]
    held, total = claims.split(" ", 1)[0].split("/")
    assert held == total and int(total) > 40, claims
    assert sorted(p.name for p in tmp_path.iterdir()) == [
        "PrivacyInfo.xcprivacy", "data-safety.json", "privacy-report.html", "privacy-report.json",
    ]


@pytest.mark.slow
def test_every_claim_holds_at_the_largest_size(tmp_path: Path) -> None:
    done = _demo("--contacts", str(MAX_CONTACTS), "--report-dir", str(tmp_path))
    assert done.returncode == 0, done.stdout[-2000:] + done.stderr
    assert "FAIL" not in done.stdout


@pytest.mark.parametrize("contacts", [str(MIN_CONTACTS - 1), str(MAX_CONTACTS + 1), "0", "-5",
                                      "many"])
def test_a_size_out_of_range_is_refused_before_anything_runs(contacts: str) -> None:
    done = _demo("--contacts", contacts)
    assert done.returncode == 2
    assert done.stdout == ""
    assert done.stderr.splitlines()[-1].startswith(
        "n2net-privacy demo: error: argument --contacts: must be "
    )
    assert "Traceback" not in done.stderr


def test_run_demo_checks_its_arguments_before_anything_runs(tmp_path: Path) -> None:
    out = io.StringIO()
    for bad in (MIN_CONTACTS - 1, MAX_CONTACTS + 1):
        with pytest.raises(InvalidArgumentError, match=f"between {MIN_CONTACTS}"):
            run_demo(out, contacts=bad)
    blocker = tmp_path / "file"
    blocker.write_text("")
    with pytest.raises(OutputError, match="is a file"):
        run_demo(out, contacts=MIN_CONTACTS, report_dir=blocker)
    assert out.getvalue() == ""


def test_every_small_book_has_the_material_each_chapter_needs() -> None:
    """The chapters draw emails and numbers from the book: even the smallest has enough."""
    for contacts in (MIN_CONTACTS, MIN_CONTACTS + 1, 30, 50):
        for seed in range(200):
            book = synthetic_address_book(contacts, seed=seed)
            assert _missing_material(book, seed) is None, (contacts, seed)
            plan = GravatarPlan.for_book(book)
            assert 1 <= plan.switch_after <= len(plan.needed)


def test_a_book_without_material_is_refused_with_the_reason() -> None:
    book = [Contact(id=f"c{n}", display_name="x") for n in range(MIN_CONTACTS)]
    missing = _missing_material(book, 1)
    assert missing is not None and "international form" in missing
