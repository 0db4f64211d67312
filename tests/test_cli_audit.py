"""``n2net-privacy audit``: exit codes, named leaks, line-accurate errors, written reports."""

from __future__ import annotations

import json
import subprocess
import sys
from html.parser import HTMLParser
from pathlib import Path

import pytest

from n2net_privacy.audit import PrivacyReport
from n2net_privacy.cli import main
from n2net_privacy.scenario import load_scenario

ROOT = Path(__file__).resolve().parents[1]
EXAMPLES = ROOT / "examples" / "scenarios"
Capture = pytest.CaptureFixture[str]
PREFIX = "n2net-privacy audit: error: "
TINY = {
    "version": 1, "platform": {"os": "android", "api_level": 34},
    "address_book": {"synthetic": {"count": 2}}, "steps": [{"step": "list_contacts"}],
}


def audit(capsys: Capture, *args: str | Path) -> tuple[int, str, str]:
    code = main(["audit", *map(str, args)])
    out, err = capsys.readouterr()
    return code, out, err


class _Page(HTMLParser):
    """Collects what makes an HTML file depend on anything outside itself."""

    def __init__(self) -> None:
        super().__init__()
        self.tags: list[str] = []
        self.external: list[tuple[str, str, str]] = []
        self.ids: set[str] = set()
        self.finding_rows = 0

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.tags.append(tag)
        for name, value in attrs:
            if name in ("src", "href", "srcset", "action", "data") and value:
                self.external.append((tag, name, value))
            if name == "id" and value:
                self.ids.add(value)
            if tag == "tr" and name == "class" and value == "finding":
                self.finding_rows += 1


def parse_html(path: Path) -> _Page:
    page = _Page()
    page.feed(path.read_text(encoding="utf-8"))
    page.close()
    return page


def test_clean_example_exits_0_and_writes_both_reports(capsys: Capture, tmp_path: Path) -> None:
    code, out, err = audit(capsys, EXAMPLES / "clean.json", "--out", tmp_path / "reports")
    assert code == 0, out + err
    assert "findings: 0" in out
    assert "PASS" in out
    assert "[2] line 11 request_permission: contacts access limited" in out
    report = PrivacyReport.from_json(
        (tmp_path / "reports" / "clean.privacy-report.json").read_text(encoding="utf-8")
    )
    assert report.clean and report.requests and report.timeline
    page = parse_html(tmp_path / "reports" / "clean.privacy-report.html")
    assert page.external == []
    assert not {"script", "link", "img", "iframe", "object", "embed"} & set(page.tags)
    assert {"findings", "data-flows", "timeline", "requests"} <= page.ids
    assert page.finding_rows == 0


def test_leaky_example_exits_1_and_names_the_leak(capsys: Capture, tmp_path: Path) -> None:
    json_path, html_path = tmp_path / "l.json", tmp_path / "html" / "l.html"
    code, out, _ = audit(
        capsys, EXAMPLES / "leaky.json", "--json", json_path, "--html", html_path, "-q"
    )
    assert code == 1
    assert "FAIL" in out
    # Rule, request and place, in one line, with the email redacted.
    assert "GET 127.0.0.1/leak [n2net_api] pii.email at query:note: email m***@*** (base64)" in out
    assert "] request_permission:" not in out  # -q hides the steps
    book = load_scenario(EXAMPLES / "leaky.json").book
    leaked = next(c for c in book if c.id == "syn-0004")  # the leak step's contact
    assert leaked.emails[0] not in out
    report = PrivacyReport.from_json(json_path.read_text(encoding="utf-8"))
    assert {(f.rule.value, f.place) for f in report.findings} >= {("pii.email", "query:note")}
    html = html_path.read_text(encoding="utf-8")
    assert leaked.emails[0] not in html and leaked.display_name not in html
    page = parse_html(html_path)
    assert page.finding_rows == len(report.findings)
    assert page.external == []
    # Findings come first, before the flows, the timeline and the requests.
    assert html.index('id="findings"') < html.index('id="timeline"') < html.index('id="requests"')


HEAD = """{
  "version": 1,
  "platform": {"os": "ios", "ios_version": 18},
  "address_book": {"synthetic": {"count": 10, "seed": 1}},
  "steps": [
    {"step": "request_permission"},
"""
PREFIX = "n2net-privacy audit: error: "  # the one error style of every command
BAD_FILES = [
    # A trailing comma: the line of the "]" after it (Python 3.13's json names the comma's
    # line, 7, instead), so this case uses a missing comma, which both name alike.
    ("invalid JSON", HEAD + '    {"step": "flush"}\n    {"step": "flush"}\n  ]\n}\n', 8,
     "invalid JSON: "),
    ("unknown step", HEAD + '    {"step": "reboot_phone"}\n  ]\n}\n', 7,
     "steps[1]: unknown step type 'reboot_phone'"),
    ("missing field", HEAD + '    {"step": "record_call",\n     "to": "+12015550123"}\n  ]\n}\n',
     7, 'steps[1] (record_call): missing required field "duration_s"'),
    ("wrong type", HEAD + '    {"step": "server_outage",\n     "down": "yes"}\n  ]\n}\n', 8,
     "steps[1].down (server_outage): expected true or false, got a string"),
]


@pytest.mark.parametrize(("text", "line", "message"),
                         [(text, line, message) for _, text, line, message in BAD_FILES],
                         ids=[name for name, _, _, _ in BAD_FILES])
def test_bad_files_exit_2_with_the_line(
    capsys: Capture, tmp_path: Path, text: str, line: int, message: str
) -> None:
    scenario = tmp_path / "bad.json"
    scenario.write_text(text, encoding="utf-8")
    code, _, err = audit(capsys, scenario, "--out", tmp_path)
    assert code == 2
    assert err.startswith(f"{PREFIX}{scenario}:{line}: {message}"), err
    assert err.count("\n") == 1
    assert list(tmp_path.glob("*.privacy-report.*")) == []  # nothing written


def test_a_step_the_platform_refuses_exits_2_on_its_line(capsys: Capture, tmp_path: Path) -> None:
    scenario = tmp_path / "refused.json"
    scenario.write_text(HEAD + '    {"step": "request_permission"}\n  ]\n}\n', encoding="utf-8")
    code, _, err = audit(capsys, scenario, "--out", tmp_path)
    assert code == 2
    assert err.startswith(f"{PREFIX}{scenario}:6: steps[0] (request_permission): "
                          "no scripted answer")


def test_a_missing_file_exits_2(capsys: Capture, tmp_path: Path) -> None:
    code, _, err = audit(capsys, tmp_path / "nope.json")
    assert code == 2
    assert err.startswith(f"{PREFIX}{tmp_path / 'nope.json'}: cannot read the scenario file")


def test_unwritable_reports_exit_2(capsys: Capture, tmp_path: Path) -> None:
    blocker = tmp_path / "file"
    blocker.write_text("", encoding="utf-8")
    scenario = tmp_path / "tiny.json"
    scenario.write_text(json.dumps({
        "version": 1, "platform": {"os": "android", "api_level": 34},
        "address_book": {"synthetic": {"count": 2}}, "steps": [{"step": "list_contacts"}],
    }), encoding="utf-8")
    code, out, err = audit(capsys, scenario, "--out", blocker / "sub")
    assert code == 2
    assert err.startswith(f"{PREFIX}cannot write {blocker / 'sub'}"), err
    assert f"{blocker} is a file, not a directory" in err
    assert out == ""  # refused before the scenario ran


def test_reports_default_to_the_working_directory(tmp_path: Path) -> None:
    scenario = tmp_path / "in" / "tiny.json"
    scenario.parent.mkdir()
    scenario.write_text(json.dumps({
        "version": 1, "platform": {"os": "android", "api_level": 34},
        "address_book": {"synthetic": {"count": 2}}, "steps": [{"step": "list_contacts"}],
    }), encoding="utf-8")
    done = subprocess.run(
        [sys.executable, "-m", "n2net_privacy.cli", "audit", str(scenario)],
        cwd=tmp_path, capture_output=True, text=True, check=False, timeout=60,
    )
    assert done.returncode == 0, done.stderr
    assert sorted(p.name for p in tmp_path.glob("*.privacy-report.*")) == [
        "tiny.privacy-report.html", "tiny.privacy-report.json",
    ]
    assert "requests: 0" in done.stdout


def _tiny(tmp_path: Path, text: str | None = None, **changes: object) -> Path:
    scenario = tmp_path / "tiny.json"
    scenario.write_text(text if text is not None else json.dumps({**TINY, **changes}, indent=1),
                        encoding="utf-8")
    return scenario


@pytest.mark.parametrize(
    ("make", "message"),
    [
        (lambda t: json.dumps(TINY).replace('"count": 2', '"count": ' + "9" * 5000),
         "tiny.json:1: a number with more than 100 digits"),
        (lambda t: json.dumps({**TINY, "x": 1})[:-1] + ', "y": ' + "[" * 500 + "]" * 500 + "}",
         "tiny.json:1: nested deeper than 64 levels"),
        (lambda t: json.dumps({**TINY, "x": 1})[:-1] + ', "y": ' + "[" * 990 + "]" * 990 + "}",
         "tiny.json:1: nested deeper than 64 levels"),
        (lambda t: json.dumps({**TINY, "address_book": {"path": "/dev/zero"}}),
         "tiny.json:1: address_book.path: cannot load the address book: the address book is "
         "not a regular file"),
        (lambda t: json.dumps({**TINY, "address_book": {"path": str(t)}}),
         "tiny.json:1: address_book.path: cannot load the address book: the address book is "
         "not a regular file"),
        (lambda t: json.dumps({**TINY, "surprise": True}, indent=1),
         "tiny.json:17: surprise: unknown field"),
    ],
    ids=["5000-digit-int", "nested-500", "nested-990", "dev-zero-book", "directory-book",
         "unknown-key"],
)
def test_hostile_scenarios_exit_2_with_file_and_line(
    capsys: Capture, tmp_path: Path, make: object, message: str
) -> None:
    scenario = _tiny(tmp_path, make(tmp_path))  # type: ignore[operator]
    code, _, err = audit(capsys, scenario, "--out", tmp_path)
    assert code == 2
    assert err.startswith(PREFIX + str(tmp_path / message)), err
    assert "Traceback" not in err and err.count("\n") == 1


def test_an_oversized_address_book_is_refused_unread(capsys: Capture, tmp_path: Path) -> None:
    book = tmp_path / "book.json"
    with book.open("wb") as handle:  # sparse: no disk used
        handle.truncate(64 * 1024 * 1024 + 1)
    scenario = _tiny(tmp_path, address_book={"path": "book.json"})
    code, _, err = audit(capsys, scenario, "--out", tmp_path)
    assert code == 2
    assert "the address book is larger than 64 MiB" in err


@pytest.mark.parametrize("flag", ["--json", "--html"])
def test_a_report_path_equal_to_an_input_is_refused(
    capsys: Capture, tmp_path: Path, flag: str
) -> None:
    scenario = _tiny(tmp_path)
    before = scenario.read_text(encoding="utf-8")
    code, out, err = audit(capsys, scenario, flag, scenario)
    assert code == 2
    assert err == f"{PREFIX}{scenario}: refusing to overwrite an input file\n"
    assert scenario.read_text(encoding="utf-8") == before and out == ""
    book = tmp_path / "book.json"
    book.write_text('{"contacts": []}', encoding="utf-8")
    scenario = _tiny(tmp_path, address_book={"path": "book.json"})
    code, _, err = audit(capsys, scenario, flag, book)
    assert code == 2 and "refusing to overwrite an input file" in err


def test_the_schema_flag_prints_the_report_schema(capsys: Capture) -> None:
    code, out, _ = audit(capsys, "--schema")
    assert code == 0
    assert json.loads(out)["properties"]["format"]["const"] == "n2net.privacy-report/2"
