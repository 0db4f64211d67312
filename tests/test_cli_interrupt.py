"""Ctrl-C, a closed pipe and ``python -m n2net_privacy``, on the real command in a subprocess.

Each interrupt is sent at a moment the test has observed, never after a
guessed sleep: once the demo has printed its first line, or once normalize
has read so much of its stdin (the pipe's back-pressure says so) that it is
in the middle of writing its output.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from pathlib import Path

import pytest

from n2net_privacy import __version__

pytestmark = pytest.mark.skipif(os.name != "posix", reason="POSIX signals and pipes")

COMMAND = [sys.executable, "-m", "n2net_privacy"]
# ``python -m n2net_privacy`` with SIGINT's default disposition first: a test run
# started in the background of a non-interactive shell hands its children SIGINT
# ignored, and the CLI (rightly, as Python does) then leaves it ignored.
INTERRUPTIBLE = [
    sys.executable, "-c",
    "import runpy, signal; signal.signal(signal.SIGINT, signal.default_int_handler); "
    "runpy.run_module('n2net_privacy', run_name='__main__', alter_sys=True)",
]
ROW = b"Ann,(201) 555-0123,a note that makes the row longer than the number alone\n"


def _start(*argv: str | Path, stdin: int | None = None) -> subprocess.Popen[bytes]:
    return subprocess.Popen(
        [*INTERRUPTIBLE, *map(str, argv)],
        stdin=stdin, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
        env={**os.environ, "PYTHONUNBUFFERED": "1"},
    )


def test_ctrl_c_during_the_demo_exits_130_with_one_line(tmp_path: Path) -> None:
    report_dir = tmp_path / "report"
    child = _start("demo", "--contacts", "2000", "--report-dir", report_dir)
    assert child.stdout is not None and child.stderr is not None
    first = child.stdout.readline()
    assert first.startswith(b"N2Net Mobile privacy demo:"), first
    child.send_signal(signal.SIGINT)
    out, err = child.communicate(timeout=120)
    assert child.returncode == 130, err
    assert err == b"n2net-privacy demo: interrupted\n"
    assert b"Traceback" not in out
    assert b"claims held" not in out  # it really stopped mid-story
    assert not report_dir.exists() or list(report_dir.iterdir()) == []


def test_ctrl_c_mid_write_leaves_the_old_output_and_no_temporary(tmp_path: Path) -> None:
    target = tmp_path / "out.csv"
    target.write_text("the previous run\n")
    child = _start("normalize", "-", "--region", "US", "-o", target, stdin=subprocess.PIPE)
    assert child.stdin is not None
    # write() returns only once the pipe has room for all of it: the child has
    # then read (and written to its temporary file) all but the last 64 KiB.
    child.stdin.write(b"name,phone,note\n" + ROW * 40_000)
    child.stdin.flush()
    temporaries = [p.name for p in tmp_path.iterdir() if p.name != "out.csv"]
    assert len(temporaries) == 1 and temporaries[0].startswith(".out.csv.")  # mid-write
    child.send_signal(signal.SIGINT)
    out, err = child.communicate(timeout=120)
    assert child.returncode == 130
    assert (out, err) == (b"", b"n2net-privacy normalize: interrupted\n")
    assert target.read_text() == "the previous run\n"
    assert [p.name for p in tmp_path.iterdir()] == ["out.csv"]


def test_a_reader_that_stops_early_ends_the_run_quietly() -> None:
    child = _start("demo", "--contacts", "20")
    assert child.stdout is not None and child.stderr is not None
    first = child.stdout.readline()
    assert first.startswith(b"N2Net Mobile privacy demo:")
    child.stdout.close()  # as `| head -1` does: every later write meets a closed pipe
    err = child.stderr.read()
    child.wait(timeout=120)
    child.stderr.close()
    assert err == b""
    assert child.returncode == 141  # 128 + SIGPIPE, what `yes | head -1` reports for yes


def test_a_shell_pipeline_into_head_prints_one_line_and_no_error(tmp_path: Path) -> None:
    command = " ".join([*COMMAND, "demo", "--contacts", "20", "--report-dir", str(tmp_path)])
    done = subprocess.run(
        ["bash", "-c", f"{command} | head -1"],
        capture_output=True, text=True, check=False, timeout=120,
    )
    assert done.returncode == 0
    assert done.stdout.startswith("N2Net Mobile privacy demo: 20 synthetic contacts")
    assert done.stdout.count("\n") == 1
    assert done.stderr == ""


def test_python_dash_m_n2net_privacy_is_the_cli(tmp_path: Path) -> None:
    done = subprocess.run(
        [*COMMAND, "--version"], capture_output=True, text=True, check=False, timeout=60,
    )
    assert (done.returncode, done.stdout) == (0, f"n2net-privacy {__version__}\n")
    done = subprocess.run(
        [*COMMAND, "keygen"], capture_output=True, text=True, check=False, timeout=60,
        cwd=tmp_path,
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.startswith("-----BEGIN PUBLIC KEY-----")
    done = subprocess.run(
        [*COMMAND], capture_output=True, text=True, check=False, timeout=60,
    )
    assert done.returncode == 2 and "usage: n2net-privacy" in done.stderr
