"""``n2net-privacy normalize``: streaming CSV in, E.164 columns out, atomic output."""

from __future__ import annotations

import csv
import io
import os
import stat
import tracemalloc
from pathlib import Path
from types import ModuleType

import pytest

from n2net_privacy.cli import main
from n2net_privacy.cli.normalize import run
from n2net_privacy.phone import load_phone_metadata

ADDRESS_BOOK = (
    "name,phone,note\r\n"
    'Ann,(201) 555-0123,"likes commas, and\r\nline breaks"\r\n'
    "Bob,911,\r\n"
    "Cy,+44 20 7946 0958 ext 9,\r\n"
    "Dee,n/a,\r\n"
    "Eve,1-800-FLOWERS,\r\n"
)


def _write(path: Path, text: str) -> Path:
    path.write_text(text, encoding="utf-8", newline="")
    return path


def _rows(text: str) -> list[list[str]]:
    return list(csv.reader(io.StringIO(text, newline="")))


def _read(path: Path) -> str:
    with path.open(encoding="utf-8", newline="") as handle:
        return handle.read()


class _Terminal(io.StringIO):
    def isatty(self) -> bool:
        return True


def test_adds_e164_type_and_reason_columns(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    source = _write(tmp_path / "book.csv", ADDRESS_BOOK)
    out = tmp_path / "out.csv"
    assert main(["normalize", str(source), "--region", "US", "-o", str(out)]) == 0
    assert _rows(_read(out)) == [
        ["name", "phone", "note", "e164", "type", "reason", "extension"],
        ["Ann", "(201) 555-0123", "likes commas, and\r\nline breaks", "+12015550123",
         "fixed_line_or_mobile", "", ""],
        ["Bob", "911", "", "", "", "emergency", ""],
        ["Cy", "+44 20 7946 0958 ext 9", "", "+442079460958", "fixed_line", "", "9"],
        ["Dee", "n/a", "", "", "", "not_a_number", ""],
        ["Eve", "1-800-FLOWERS", "", "+18003569377", "toll_free", "", ""],
    ]  # fmt: skip
    assert capsys.readouterr() == ("", "")  # stderr is not a terminal: no progress bar


def test_without_output_rows_go_to_stdout(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    source = _write(tmp_path / "book.csv", "tel\n030 123456\n+1 201 555 0123\n")
    assert main(["normalize", str(source), "--region", "de", "--column", "tel"]) == 0
    captured = capsys.readouterr()
    assert _rows(captured.out) == [
        ["tel", "e164", "type", "reason", "extension"],
        ["030 123456", "+4930123456", "fixed_line", "", ""],
        ["+1 201 555 0123", "+12015550123", "fixed_line_or_mobile", "", ""],
    ]
    assert captured.err == ""


def test_without_region_national_numbers_are_refused(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    source = _write(tmp_path / "book.csv", "phone\n(201) 555-0123\n+12015550123\n")
    assert main(["normalize", str(source)]) == 0
    assert [row[-2] for row in _rows(capsys.readouterr().out)] == [
        "reason",
        "invalid_country_code",
        "",
    ]


def test_rerun_on_its_own_output_overwrites_the_added_columns(tmp_path: Path) -> None:
    source = _write(tmp_path / "book.csv", ADDRESS_BOOK)
    first, second = tmp_path / "first.csv", tmp_path / "second.csv"
    assert main(["normalize", str(source), "--region", "US", "-o", str(first)]) == 0
    assert main(["normalize", str(first), "--region", "US", "-o", str(second)]) == 0
    assert second.read_bytes() == first.read_bytes()


def test_byte_order_mark_and_blank_lines_are_tolerated(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    source = tmp_path / "excel.csv"
    source.write_bytes("\ufeffphone\r\n+49 30 123456\r\n\r\n".encode())
    assert main(["normalize", str(source)]) == 0
    assert _rows(capsys.readouterr().out)[1] == [
        "+49 30 123456", "+4930123456", "fixed_line", "", ""
    ]


@pytest.mark.skipif(os.name != "posix", reason="POSIX permission bits")
@pytest.mark.parametrize("umask", [0o022, 0o077])
def test_a_new_output_gets_the_umask_mode(tmp_path: Path, umask: int) -> None:
    source = _write(tmp_path / "book.csv", ADDRESS_BOOK)
    out = tmp_path / "out.csv"
    old = os.umask(umask)
    try:
        assert main(["normalize", str(source), "--region", "US", "-o", str(out)]) == 0
    finally:
        os.umask(old)
    assert stat.S_IMODE(out.stat().st_mode) == 0o666 & ~umask


@pytest.mark.parametrize(
    ("content", "args", "message"),
    [
        (None, [], "cannot read"),
        ("", [], "empty"),
        ("name,tel\nAnn,+12015550123\n", [], "no column 'phone'"),
        ("name,phone\nAnn,+12015550123\n", ["--column", "Phone"], "no column 'Phone'"),
        ("name,phone\nAnn,+12015550123\nBob,+12015550124,extra\n", [], "line 3: 3 fields"),
        ('name,phone\nAnn,"+12015550123\n', [], "malformed CSV"),
        ('name,phone\nAnn,"+1201"5550123\n', [], "malformed CSV"),
        (b"name,phone\nAnn,+1201555\xff0123\n", [], "not UTF-8"),
        ("name,phone\nAnn,+12015550123\n", ["--region", "XX"], "unknown region 'XX'"),
    ],
)
def test_bad_input_is_one_line_exit_2_and_no_output(
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    content: str | bytes | None,
    args: list[str],
    message: str,
) -> None:
    source = tmp_path / "book.csv"
    if isinstance(content, bytes):
        source.write_bytes(content)
    elif content is not None:
        _write(source, content)
    out = tmp_path / "out.csv"
    out.write_text("previous run\n", encoding="utf-8")
    before = sorted(tmp_path.iterdir())

    assert main(["normalize", str(source), "-o", str(out), *args]) == 2

    err = capsys.readouterr().err
    assert err.count("\n") == 1 and message in err
    assert "2015550123" not in err and "5550124" not in err  # no number in the message
    assert out.read_text(encoding="utf-8") == "previous run\n"  # untouched
    assert sorted(tmp_path.iterdir()) == before  # no temporary file left behind


def test_input_that_is_a_directory_is_unreadable(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["normalize", str(tmp_path)]) == 2
    assert "cannot read" in capsys.readouterr().err


def test_unwritable_destination_is_exit_2(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    source = _write(tmp_path / "book.csv", ADDRESS_BOOK)
    out = tmp_path / "missing-dir" / "out.csv"
    assert main(["normalize", str(source), "-o", str(out)]) == 2
    assert "cannot write" in capsys.readouterr().err
    assert not out.parent.exists()


def _run(source: Path, stderr: io.StringIO, **kwargs: object) -> int:
    return run(
        source,
        region="US",
        column="phone",
        output=None,
        stdout=io.StringIO(),
        stderr=stderr,
        **kwargs,  # type: ignore[arg-type]
    )


def test_progress_bar_only_on_a_terminal(tmp_path: Path) -> None:
    source = _write(tmp_path / "book.csv", ADDRESS_BOOK)
    terminal, pipe = _Terminal(), io.StringIO()
    assert _run(source, terminal) == 0
    assert "rows" in terminal.getvalue()  # tqdm drew its bar
    assert _run(source, pipe) == 0
    assert pipe.getvalue() == ""


def test_refused_input_on_a_terminal_is_one_line_without_a_bar(tmp_path: Path) -> None:
    source = _write(tmp_path / "book.csv", "name,tel\nAnn,+12015550123\n")
    terminal = _Terminal()
    assert _run(source, terminal) == 2
    assert terminal.getvalue().count("\n") == 1
    assert "no column 'phone'" in terminal.getvalue()


def test_without_tqdm_the_run_goes_on_silently(tmp_path: Path) -> None:
    def no_tqdm(name: str) -> ModuleType:
        raise ModuleNotFoundError(f"No module named {name!r}", name=name)

    source = _write(tmp_path / "book.csv", ADDRESS_BOOK)
    terminal = _Terminal()
    assert _run(source, terminal, import_module=no_tqdm) == 0
    assert terminal.getvalue() == ""


def test_large_file_streams_in_bounded_memory(tmp_path: Path) -> None:
    """50,000 rows, as contacts are: many rows, far fewer distinct numbers."""
    rows = 50_000
    source = tmp_path / "big.csv"
    with source.open("w", encoding="utf-8", newline="") as handle:
        handle.write("id,phone\n")
        for index in range(rows):
            handle.write(f"{index},+1 201 555 {index % 500:04d}\n")
    out = tmp_path / "out.csv"
    load_phone_metadata()  # a one-off cost, not per row: keep it out of the measurement

    tracemalloc.start()
    try:
        code = main(["normalize", str(source), "-o", str(out)])
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()

    assert code == 0
    with out.open(encoding="utf-8", newline="") as handle:
        assert sum(1 for _ in handle) == rows + 1
    # Holding the rows would take well over 10 MB; streaming holds one row and the cache.
    assert peak < 2_000_000, f"peak {peak / 1e6:.1f} MB"


# -- delimiters, stdin/stdout, nothing on stdout before success, help --------


def test_a_semicolon_file_is_sniffed_and_keeps_its_delimiter(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    source = _write(tmp_path / "excel-de.csv", "Name;phone\nAnn;030 123456\nBob;+1 201 555 0123\n")
    assert main(["normalize", str(source), "--region", "DE"]) == 0
    out = capsys.readouterr().out
    assert out.splitlines()[0] == "Name;phone;e164;type;reason;extension"
    assert out.splitlines()[1] == "Ann;030 123456;+4930123456;fixed_line;;"


def test_an_explicit_delimiter_wins_over_sniffing(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    source = _write(tmp_path / "tabs.csv", "phone\tnote\n+4930123456\ta;b\n")
    assert main(["normalize", str(source), "--delimiter", "tab"]) == 0
    row = capsys.readouterr().out.splitlines()[1]
    assert row == "+4930123456\ta;b\t+4930123456\tfixed_line\t\t"


def test_a_missing_column_lists_the_columns_found(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    source = _write(tmp_path / "book.csv", "Name,Mobile\nAnn,+12015550123\n")
    assert main(["normalize", str(source)]) == 2
    err = capsys.readouterr().err
    assert err == (
        "n2net-privacy normalize: error: no column 'phone' in the header; columns found: "
        "'Name', 'Mobile' (use --column, or --delimiter if the columns are run together)\n"
    )


def test_a_header_that_is_really_data_is_not_echoed(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    source = _write(tmp_path / "book.csv", "Ann,+12015550123\nBob,+12015550124\n")
    assert main(["normalize", str(source)]) == 2
    err = capsys.readouterr().err
    assert "looks like data" in err
    assert "Ann" not in err and "5550123" not in err


def test_dash_reads_stdin_and_writes_stdout() -> None:
    stdout, stderr = io.StringIO(), io.StringIO()
    stdin = io.StringIO("phone\n+44 20 7946 0958\n")
    code = run(Path("-"), region=None, column="phone", output=Path("-"),
               stdin=stdin, stdout=stdout, stderr=stderr)
    assert code == 0, stderr.getvalue()
    row = _rows(stdout.getvalue())[1]
    assert row == ["+44 20 7946 0958", "+442079460958", "fixed_line", "", ""]


def test_nothing_reaches_stdout_when_a_later_row_is_bad(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    good = "".join(f"+1 201 555 {i:04d}\n" for i in range(3000))
    source = _write(tmp_path / "book.csv", "phone\n" + good + "a,b\n")
    assert main(["normalize", str(source)]) == 2
    captured = capsys.readouterr()
    assert captured.out == ""  # not even the header
    assert "line 3002: 2 fields where the header has 1" in captured.err


def test_help_shows_defaults_and_exit_codes(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as stop:
        main(["normalize", "--help"])
    assert stop.value.code == 0
    text = capsys.readouterr().out
    assert "(default: phone)" in text
    assert "sniffed" in text
    assert "exit codes:" in text and "2    bad input" in text and "130  interrupted" in text
