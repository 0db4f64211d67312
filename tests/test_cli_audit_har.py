"""``n2net-privacy audit-har``: exit codes, reports, and nothing raw on any output."""

from __future__ import annotations

import io
import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from n2net_privacy.cli import main
from n2net_privacy.cli.audit_har import run

NAME = "Grace Hopper"
EMAIL = "grace.hopper@example.net"
BOOK = {
    "contacts": [
        {
            "id": "g",
            "display_name": NAME,
            "phones": [{"number": "+1 202 555 0143"}],
            "emails": [EMAIL],
        }
    ]
}
RAW = [NAME, EMAIL, "2025550143", "grace.hopper"]


def entry(
    url: str, *, text: str | None = None, headers: list[dict[str, str]] | None = None
) -> dict[str, Any]:
    request: dict[str, Any] = {
        "method": "POST" if text else "GET",
        "url": url,
        "headers": headers or [],
    }
    if text:
        request["postData"] = {"mimeType": "application/json", "text": text}
    return {
        "startedDateTime": "2026-11-30T10:00:00Z",
        "request": request,
        "response": {"status": 200},
    }


def write(tmp: Path, *entries: dict[str, Any]) -> tuple[Path, Path]:
    capture = tmp / "capture.har"
    capture.write_text(json.dumps({"log": {"version": "1.2", "entries": list(entries)}}))
    book = tmp / "book.json"
    book.write_text(json.dumps(BOOK))
    return capture, book


def audit(tmp: Path, capture: Path, book: Path, *extra: str) -> tuple[int, str, str]:
    out, err = io.StringIO(), io.StringIO()
    code = run(
        capture,
        contacts=book,
        policy=Path(extra[0]) if extra else None,
        json_path=tmp / "r.json",
        html_path=tmp / "r.html",
        stdout=out,
        stderr=err,
    )
    return code, out.getvalue(), err.getvalue()


def test_a_clean_capture_exits_0_with_both_reports(tmp_path: Path) -> None:
    capture, book = write(
        tmp_path,
        entry("https://api.n2net.com/v1/ping"),
        entry("https://gravatar.com/avatar/" + "a" * 32),
    )
    code, out, err = audit(tmp_path, capture, book)
    assert (code, err) == (0, "")
    assert "capture: " in out and "(2 entries, 1 contact)" in out and "PASS" in out
    report = json.loads((tmp_path / "r.json").read_text())
    assert report["findings"] == [] and len(report["requests"]) == 2
    assert (tmp_path / "r.html").read_text().startswith("<!")


def test_leaks_and_undeclared_hosts_exit_1_and_nothing_raw_is_written(tmp_path: Path) -> None:
    capture, book = write(
        tmp_path,
        entry("https://api.n2net.com/v1/note", text=json.dumps({"n": EMAIL})),
        entry("https://tracker.example/p", headers=[{"name": "x-who", "value": NAME}]),
    )
    code, out, err = audit(tmp_path, capture, book)
    assert code == 1 and err == ""
    rules = {f["rule"] for f in json.loads((tmp_path / "r.json").read_text())["findings"]}
    assert rules == {"pii.email", "pii.name", "destination.undeclared"}
    for text in (out, (tmp_path / "r.json").read_text(), (tmp_path / "r.html").read_text()):
        for raw in RAW:
            assert raw.lower() not in text.lower()


@pytest.mark.parametrize(
    ("setup", "message"),
    [
        (lambda t, c, b: c.write_text('{"log": {"entries": ['), "truncated"),
        (lambda t, c, b: c.write_text('{"not": "a har"}'), "no log.entries"),
        (lambda t, c, b: b.write_text('{"contacts": [{"id": 1}]}'), "book.json"),
        (lambda t, c, b: b.unlink(), "cannot read the address book"),
        (lambda t, c, b: c.unlink(), "cannot read the capture"),
    ],
)
def test_bad_input_exits_2_with_one_line_and_no_traceback(
    tmp_path: Path, setup: Any, message: str
) -> None:
    capture, book = write(tmp_path, entry("https://api.n2net.com/x"))
    setup(tmp_path, capture, book)
    code, out, err = audit(tmp_path, capture, book)
    assert code == 2
    assert err.startswith("n2net-privacy audit-har: error: ") and err.count("\n") == 1, err
    assert message in err
    assert "Traceback" not in err + out


def test_a_bad_policy_and_a_report_over_an_input_are_refused_before_reading(tmp_path: Path) -> None:
    capture, book = write(tmp_path, entry("https://api.n2net.com/x"))
    policy = tmp_path / "policy.json"
    policy.write_text('{"destinations": [{"host": "a"}]}')
    code, _, err = audit(tmp_path, capture, book, str(policy))
    assert code == 2 and '"purpose" must be' in err
    out, err_io = io.StringIO(), io.StringIO()
    code = run(
        capture,
        contacts=book,
        policy=None,
        json_path=capture,
        html_path=tmp_path / "r.html",
        stdout=out,
        stderr=err_io,
    )
    assert code == 2 and "refusing to overwrite an input" in err_io.getvalue()
    assert json.loads(capture.read_text())["log"]["entries"]  # the input is intact


def test_gravatar_off_turns_a_gravatar_hash_into_a_finding(tmp_path: Path) -> None:
    import hashlib

    digest = hashlib.md5(EMAIL.encode()).hexdigest()
    capture, book = write(tmp_path, entry(f"https://gravatar.com/avatar/{digest}"))
    base = [
        "audit-har",
        str(capture),
        "--contacts",
        str(book),
        "--json",
        str(tmp_path / "j.json"),
        "--html",
        str(tmp_path / "h.html"),
        "-q",
    ]
    assert main(base) == 0
    assert main([*base, "--gravatar", "off"]) == 1


def test_mitm_addon_path_names_the_addon_file(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["mitm-addon-path"]) == 0
    path = Path(capsys.readouterr().out.strip())
    assert path.name == "mitm_addon.py" and path.is_file()
    assert "class N2NetPrivacyAddon" in path.read_text()


def test_an_unknown_region_is_refused_as_normalize_refuses_it(tmp_path: Path) -> None:
    capture, book = write(tmp_path, entry("https://api.n2net.com/x"))
    done = subprocess.run(
        [sys.executable, "-m", "n2net_privacy", "audit-har", str(capture), "--contacts",
         str(book), "--region", "XX", "--out", str(tmp_path / "reports")],
        capture_output=True, text=True, check=False, timeout=60,
    )
    normalized = subprocess.run(
        [sys.executable, "-m", "n2net_privacy", "normalize", str(book), "--region", "XX"],
        capture_output=True, text=True, check=False, timeout=60,
    )
    assert done.returncode == normalized.returncode == 2
    assert done.stdout == ""
    assert done.stderr == normalized.stderr.replace(" normalize:", " audit-har:")
    assert done.stderr == (
        "n2net-privacy audit-har: error: unknown region 'XX': expected an ISO 3166-1 alpha-2 "
        "code such as 'US'\n"
    )
    assert not (tmp_path / "reports").exists()
