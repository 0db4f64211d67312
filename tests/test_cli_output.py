"""``cli._output.open_output``: the one set of rules for every path a command writes.

The helper is tested directly for each kind of path, then through the real
commands in a subprocess (normalize, schema, audit, keygen, demo).
"""

from __future__ import annotations

import json
import os
import socket
import stat
import subprocess
import sys
import threading
from pathlib import Path

import pytest

from n2net_privacy.cli._output import (
    OutputError,
    OutputExistsError,
    check_output,
    check_output_dir,
    open_output,
)

pytestmark = pytest.mark.skipif(os.name != "posix", reason="POSIX paths and devices")

BOOK = "name,phone\nAnn,(201) 555-0123\nBob,+44 20 7946 0958\n"


def cli(*argv: str | Path, cwd: Path | None = None, stdin: str | None = None,
        env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "n2net_privacy", *map(str, argv)],
        capture_output=True, text=True, check=False, timeout=120, cwd=cwd, input=stdin,
        env=env,
    )


def _book(tmp_path: Path) -> Path:
    source = tmp_path / "book.csv"
    source.write_text(BOOK, encoding="utf-8")
    return source


def _names(folder: Path) -> list[str]:
    return sorted(p.name for p in folder.iterdir())


# --- the helper itself ---------------------------------------------------------------


def test_a_new_file_appears_only_on_success_with_the_umask_mode(tmp_path: Path) -> None:
    target = tmp_path / "out.txt"
    old = os.umask(0o027)
    try:
        with open_output(target) as out:
            out.write("half")
            assert _names(tmp_path) != ["out.txt"]  # only a temporary so far
        assert target.read_text() == "half"
    finally:
        os.umask(old)
    assert stat.S_IMODE(target.stat().st_mode) == 0o640


def test_an_exception_leaves_the_old_file_and_no_temporary(tmp_path: Path) -> None:
    target = tmp_path / "out.txt"
    target.write_text("old")
    with pytest.raises(KeyboardInterrupt), open_output(target) as out:
        out.write("new")
        raise KeyboardInterrupt
    assert target.read_text() == "old"
    assert _names(tmp_path) == ["out.txt"]


def test_a_replaced_file_keeps_its_mode_and_a_secret_is_0600(tmp_path: Path) -> None:
    target = tmp_path / "out.txt"
    target.write_text("old")
    target.chmod(0o640)
    with open_output(target) as out:
        out.write("new")
    assert stat.S_IMODE(target.stat().st_mode) == 0o640
    with open_output(target, secret=True, binary=True) as raw:
        raw.write(b"key")
    assert (target.read_bytes(), stat.S_IMODE(target.stat().st_mode)) == (b"key", 0o600)


def test_a_symlink_is_written_through(tmp_path: Path) -> None:
    real = tmp_path / "real.txt"
    real.write_text("old")
    link = tmp_path / "link.txt"
    link.symlink_to(real.name)
    with open_output(link) as out:
        out.write("new")
    assert link.is_symlink() and real.read_text() == "new"
    dangling = tmp_path / "dangling"
    dangling.symlink_to("created.txt")
    with open_output(dangling) as out:
        out.write("made")
    assert dangling.is_symlink() and (tmp_path / "created.txt").read_text() == "made"


@pytest.mark.parametrize("spelling", ["same", "symlink", "hardlink"])
def test_an_output_that_is_an_input_is_refused(tmp_path: Path, spelling: str) -> None:
    source = _book(tmp_path)
    output = {"same": source, "symlink": tmp_path / "l", "hardlink": tmp_path / "h"}[spelling]
    if spelling == "symlink":
        output.symlink_to(source)
    elif spelling == "hardlink":
        os.link(source, output)
    with pytest.raises(OutputError, match="refusing to overwrite an input file"):
        check_output(output, inputs=[source])
    with pytest.raises(OutputError), open_output(output, inputs=[source]) as out:
        out.write("lost")
    assert source.read_text() == BOOK


def test_dash_is_stdout_and_gets_the_output_only_on_success(
    capsys: pytest.CaptureFixture[str],
) -> None:
    with pytest.raises(RuntimeError), open_output("-") as out:
        out.write("half")
        raise RuntimeError
    assert capsys.readouterr().out == ""
    with open_output("-") as out:
        out.write("whole\n")
    assert capsys.readouterr().out == "whole\n"


def test_dev_null_is_a_stream_and_stays_a_device() -> None:
    with open_output("/dev/null") as out:
        out.write("x" * 100_000)
    assert stat.S_ISCHR(os.stat("/dev/null").st_mode)


@pytest.mark.skipif(not Path("/dev/full").exists(), reason="no /dev/full")
def test_dev_full_is_a_clean_error_and_stays_a_device() -> None:
    with pytest.raises(OutputError, match=r"cannot write /dev/full: .*\(ENOSPC\)"), \
            open_output("/dev/full") as out:
        out.write("x")
    assert stat.S_ISCHR(os.stat("/dev/full").st_mode)


def test_a_fifo_is_written_as_a_stream(tmp_path: Path) -> None:
    fifo = tmp_path / "fifo"
    os.mkfifo(fifo)
    received: list[bytes] = []
    reader = threading.Thread(target=lambda: received.append(fifo.read_bytes()))
    reader.start()
    with open_output(fifo) as out:
        out.write("through the pipe\n")
    reader.join()
    assert received == [b"through the pipe\n"]
    assert stat.S_ISFIFO(os.stat(fifo).st_mode)


def test_a_directory_and_a_socket_are_refused(tmp_path: Path) -> None:
    with pytest.raises(OutputError, match="is a directory"):
        check_output(tmp_path)
    path = tmp_path / "s"
    with socket.socket(socket.AF_UNIX) as server:
        server.bind(str(path))
        with pytest.raises(OutputError, match="is a socket"):
            check_output(path)


def test_a_missing_directory_is_refused_unless_parents_are_made(tmp_path: Path) -> None:
    target = tmp_path / "a" / "b" / "out.txt"
    with pytest.raises(OutputError, match="does not exist"):
        check_output(target)
    with open_output(target, make_parents=True) as out:
        out.write("x")
    assert target.read_text() == "x"
    blocker = tmp_path / "file"
    blocker.write_text("")
    with pytest.raises(OutputError, match=f"{blocker} is a file, not a directory"):
        check_output(blocker / "sub" / "out.txt", make_parents=True)


def test_overwrite_false_refuses_an_existing_file(tmp_path: Path) -> None:
    target = tmp_path / "key"
    target.write_bytes(b"old")
    with pytest.raises(OutputExistsError), open_output(target, binary=True, overwrite=False) as f:
        f.write(b"new")
    assert target.read_bytes() == b"old"
    fresh = tmp_path / "fresh"
    with pytest.raises(OutputExistsError), \
            open_output(fresh, binary=True, overwrite=False) as raw:
        raw.write(b"new")
        fresh.write_bytes(b"raced")  # appears while the block runs: still never replaced
    assert fresh.read_bytes() == b"raced"
    assert _names(tmp_path) == ["fresh", "key"]


@pytest.mark.parametrize(
    ("kind", "message"),
    [("file", "is a file"), ("device", "is a device"), ("fifo", "is a FIFO")],
)
def test_a_report_dir_must_be_a_directory(tmp_path: Path, kind: str, message: str) -> None:
    path = {"file": tmp_path / "f", "device": Path("/dev/null"), "fifo": tmp_path / "p"}[kind]
    if kind == "file":
        path.write_text("")
    elif kind == "fifo":
        os.mkfifo(path)
    with pytest.raises(OutputError, match=message):
        check_output_dir(path)
    check_output_dir(tmp_path / "new" / "dir")  # creatable: fine, and not created yet
    assert not (tmp_path / "new").exists()


# --- the real commands, in a subprocess ----------------------------------------------


def test_normalize_writes_through_a_symlink_and_refuses_its_input(tmp_path: Path) -> None:
    source = _book(tmp_path)
    (tmp_path / "real.csv").write_text("old")
    (tmp_path / "link.csv").symlink_to("real.csv")
    done = cli("normalize", source, "--region", "US", "-o", tmp_path / "link.csv")
    assert (done.returncode, done.stderr) == (0, "")
    assert (tmp_path / "link.csv").is_symlink()
    assert "+12015550123" in (tmp_path / "real.csv").read_text()

    done = cli("normalize", source, "--region", "US", "-o", source)
    assert done.returncode == 2
    assert done.stderr == (
        f"n2net-privacy normalize: error: {source}: refusing to overwrite an input file\n"
    )
    assert source.read_text() == BOOK


def test_normalize_to_devices_streams_and_never_replaces_them(tmp_path: Path) -> None:
    source = _book(tmp_path)
    done = cli("normalize", source, "--region", "US", "-o", "/dev/null")
    assert (done.returncode, done.stdout, done.stderr) == (0, "", "")
    done = cli("normalize", source, "--region", "US", "-o", "/dev/stdout")
    assert done.returncode == 0 and "+12015550123" in done.stdout
    if Path("/dev/full").exists():
        done = cli("normalize", source, "--region", "US", "-o", "/dev/full")
        assert done.returncode == 2
        assert done.stderr == (
            "n2net-privacy normalize: error: cannot write /dev/full: "
            "No space left on device (ENOSPC)\n"
        )
        assert stat.S_ISCHR(os.stat("/dev/full").st_mode)
    done = cli("normalize", source, "--region", "US", "-o", tmp_path)
    assert (done.returncode, done.stderr) == (
        2, f"n2net-privacy normalize: error: {tmp_path} is a directory\n"
    )


def test_stdout_on_a_full_device_is_one_line(tmp_path: Path) -> None:
    if not Path("/dev/full").exists():
        pytest.skip("no /dev/full")
    with open("/dev/full", "w") as full:
        done = subprocess.run(
            [sys.executable, "-m", "n2net_privacy", "schema"],
            stdout=full, stderr=subprocess.PIPE, text=True, check=False, timeout=60,
        )
    assert done.returncode == 2
    assert done.stderr == (
        "n2net-privacy schema: error: cannot write stdout: No space left on device (ENOSPC)\n"
    )


def test_schema_writes_a_file_with_o(tmp_path: Path) -> None:
    target = tmp_path / "schema.json"
    done = cli("schema", "-o", target)
    assert (done.returncode, done.stdout, done.stderr) == (0, "", "")
    assert set(json.loads(target.read_text())["properties"]) == {"schema", "events"}


def test_audit_json_dash_is_stdout_and_the_summary_goes_to_stderr(tmp_path: Path) -> None:
    done = cli("audit", "--example", "clean", "--json", "-", "--html", tmp_path / "r.html",
               "-q")
    assert done.returncode == 0, done.stderr
    report = json.loads(done.stdout)  # stdout is the report and nothing else
    assert report["findings"] == []
    assert "wrote stdout" in done.stderr and "PASS" in done.stderr
    assert (tmp_path / "r.html").read_text().startswith("<!")
    assert _names(tmp_path) == ["r.html"]

    done = cli("audit", "--example", "clean", "--json", "-", "--html", "-")
    assert done.returncode == 2
    assert done.stderr == (
        "n2net-privacy audit: error: stdout: the JSON and the HTML report would be the same "
        "file\n"
    )


def test_demo_report_dir_is_checked_before_the_run(tmp_path: Path) -> None:
    blocker = tmp_path / "file"
    blocker.write_text("")
    for report_dir, message in (
        (blocker, f"{blocker} is a file; a directory is needed here"),
        (Path("/dev/null"), "/dev/null is a device; a directory is needed here"),
        (blocker / "sub", f"cannot write {blocker / 'sub'}: {blocker} is a file, not a "
                          "directory"),
    ):
        done = cli("demo", "--contacts", "20", "--report-dir", report_dir)
        assert done.returncode == 2
        assert done.stdout == ""  # refused before the first line of the story
        assert done.stderr == f"n2net-privacy demo: error: {message}\n"
