"""``n2net-privacy keygen``: a private key file the server loads, a public PEM the app takes."""

from __future__ import annotations

import io
import os
import re
import stat
import subprocess
import sys
from pathlib import Path

import pytest

from n2net_privacy import atomic_write
from n2net_privacy.cli import keygen, main
from n2net_privacy.egress import Egress, EgressPolicy, Purpose
from n2net_privacy.simulation import SimulatedAndroidKeystore
from n2net_privacy.testing import IngestServer
from n2net_privacy.uploader import Endpoint, ServerKey, ServerKeyPair, Uploader

APP_KEY = "app-key-1"


def _keygen(*argv: str) -> tuple[int, str, str]:
    out, err = io.StringIO(), io.StringIO()
    parsed = keygen_args(list(argv))
    code = keygen.run(
        kem=parsed["kem"], key_id=parsed["key_id"], out=parsed["out"],
        force=parsed["force"], stdout=out, stderr=err,
    )
    return code, out.getvalue(), err.getvalue()


def keygen_args(argv: list[str]) -> dict[str, object]:
    from n2net_privacy.cli import build_parser

    args = build_parser().parse_args(["keygen", *argv])
    return {"kem": args.kem, "key_id": args.key_id, "out": args.out, "force": args.force}


def _mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


@pytest.mark.parametrize(("kem", "private_len"), [("x25519", 32), ("mlkem768-x25519", 96)])
def test_keygen_round_trip_delivers_an_event(tmp_path: Path, kem: str, private_len: int) -> None:
    """keygen -> the server loads the private file -> the app takes the printed PEM -> delivered."""
    key_file = tmp_path / "k2026.key"
    code, pem, err = _keygen("--kem", kem, "--key-id", "k2026", "--out", str(key_file))
    assert code == 0
    assert str(key_file) in err and "0600" in err
    assert _mode(key_file) == 0o600
    private = key_file.read_bytes()
    assert len(private) == private_len

    server_pair = ServerKeyPair.from_private_raw("k2026", private)
    app_key = ServerKey.from_pem("k2026", pem.encode("ascii"))
    assert app_key.kind == server_pair.kind
    assert server_pair.public_pem().decode("ascii") == pem  # stdout is exactly the PEM

    loopback = EgressPolicy({Purpose.N2NET_API: frozenset({"127.0.0.1"})}, test_mode=True)
    with IngestServer(server_pair, app_key=APP_KEY) as server:
        uploader = Uploader(
            Endpoint(server.url, APP_KEY, app_key), tmp_path / "device",
            key_store=SimulatedAndroidKeystore(), egress=Egress(loopback), region="US",
        )
        try:
            uploader.record_sms("+12025550143")
            assert uploader.flush(timeout=10.0)
        finally:
            uploader.close(timeout=2.0)
        assert server.count() == 1
        assert {r.headers["n2net-key-id"] for r in server.requests()} == {"k2026"}
        assert {r.status for r in server.requests()} == {200}


def test_default_out_is_key_id_dot_key_in_the_current_directory(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.chdir(tmp_path)
    assert main(["keygen", "--kem", "x25519", "--key-id", "k1"]) == 0
    out = capsys.readouterr().out
    assert out.startswith("-----BEGIN PUBLIC KEY-----\n")
    assert out.count("BEGIN PUBLIC KEY") == 1
    assert _mode(tmp_path / "k1.key") == 0o600


def test_the_file_is_owner_only_whatever_the_umask(tmp_path: Path) -> None:
    old = os.umask(0)
    try:
        code, _, _ = _keygen("--kem", "x25519", "--key-id", "k1", "--out", str(tmp_path / "a"))
    finally:
        os.umask(old)
    assert code == 0
    assert _mode(tmp_path / "a") == 0o600


def test_an_existing_file_is_kept_without_force(tmp_path: Path) -> None:
    target = tmp_path / "k1.key"
    target.write_bytes(b"the old key")
    code, out, err = _keygen("--kem", "x25519", "--key-id", "k1", "--out", str(target))
    assert code == 2
    assert out == ""
    assert err == (
        f"n2net-privacy keygen: error: {target} already exists; pass --force to replace it\n"
    )
    assert target.read_bytes() == b"the old key"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["k1.key"]  # no temporary left


def test_force_replaces_the_file(tmp_path: Path) -> None:
    target = tmp_path / "k1.key"
    target.write_bytes(b"the old key")
    target.chmod(0o644)
    code, pem, _ = _keygen("--kem", "x25519", "--key-id", "k1", "--out", str(target), "--force")
    assert code == 0
    assert ServerKeyPair.from_private_raw("k1", target.read_bytes()).public_pem().decode() == pem
    assert _mode(target) == 0o600
    assert sorted(p.name for p in tmp_path.iterdir()) == ["k1.key"]


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["--kem", "x25519", "--key-id", "bad id"],
         "n2net-privacy keygen: error: --key-id: key_id must be 1-64 characters of [A-Za-z0-9._-]"),
        (["--kem", "x25519", "--key-id", "k" * 65],
         "n2net-privacy keygen: error: --key-id: key_id must be 1-64 characters"),
        (["--kem", "x25519", "--key-id", "k1", "--out", "{tmp}/missing/k1.key"],
         "n2net-privacy keygen: error: cannot write {tmp}/missing/k1.key: the directory "
         "{tmp}/missing does not exist"),
        (["--kem", "x25519", "--key-id", "k1", "--out", "{tmp}"],
         "n2net-privacy keygen: error: {tmp} is a directory"),
    ],
)
def test_bad_input_is_one_line_exit_2_and_writes_nothing(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], argv: list[str], message: str
) -> None:
    argv = [arg.replace("{tmp}", str(tmp_path)) for arg in argv]
    before = sorted(tmp_path.rglob("*"))
    assert main(["keygen", *argv]) == 2
    out, err = capsys.readouterr()
    assert out == ""
    assert len(err.splitlines()) == 1
    assert err.startswith(message.replace("{tmp}", str(tmp_path))), err
    assert sorted(tmp_path.rglob("*")) == before


@pytest.mark.skipif(os.geteuid() == 0, reason="root writes into a read-only directory")
def test_an_unwritable_directory_is_a_clear_error(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    locked = tmp_path / "locked"
    locked.mkdir(mode=0o500)
    try:
        assert main(["keygen", "--kem", "x25519", "--key-id", "k1",
                     "--out", str(locked / "k1.key")]) == 2
    finally:
        locked.chmod(0o700)
    err = capsys.readouterr().err
    assert err == f"n2net-privacy keygen: error: cannot write {locked / 'k1.key'}: EACCES\n"
    assert list(locked.iterdir()) == []


def test_an_unknown_kem_is_a_usage_error(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as stop:
        main(["keygen", "--kem", "rsa", "--key-id", "k1"])
    assert stop.value.code == 2
    assert "n2net-privacy keygen: error: argument --kem: invalid choice" in capsys.readouterr().err


def test_a_failed_write_leaves_neither_the_key_nor_a_temporary(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    written: list[Path] = []
    real_replace = atomic_write.os.replace

    def full_disk(src: str, dst: str) -> None:  # the last step of the atomic write fails
        written.append(Path(src))
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(atomic_write.os, "replace", full_disk)
    code, out, err = _keygen("--key-id", "k1", "--out", str(tmp_path / "k"), "--force")
    monkeypatch.setattr(atomic_write.os, "replace", real_replace)
    assert code == 2
    assert out == ""
    assert err.endswith(": No space left on device (ENOSPC)\n")
    assert written and list(tmp_path.iterdir()) == []


def test_the_installed_command_works(tmp_path: Path) -> None:
    done = subprocess.run(
        [sys.executable, "-m", "n2net_privacy.cli", "keygen", "--kem", "mlkem768-x25519",
         "--key-id", "pq1", "--out", str(tmp_path / "pq1.key")],
        capture_output=True, text=True, check=False, timeout=60,
    )
    assert done.returncode == 0, done.stderr
    key = ServerKey.from_pem("pq1", done.stdout.encode("ascii"))
    assert key.kind == "mlkem768x25519"
    assert done.stdout.count("BEGIN PUBLIC KEY") == 2  # ML-KEM-768 then X25519


def test_permission_denied_is_a_clear_error(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The same as the read-only directory above, for runs as root (which ignores modes)."""

    def denied(**_: object) -> tuple[int, str]:
        raise PermissionError(13, "Permission denied")

    monkeypatch.setattr(atomic_write.tempfile, "mkstemp", denied)
    code, _, err = _keygen("--kem", "x25519", "--key-id", "k1", "--out", str(tmp_path / "k"))
    assert code == 2
    assert err == (
        f"n2net-privacy keygen: error: cannot write {tmp_path / 'k'}: "
        "Permission denied (EACCES)\n"
    )
    assert list(tmp_path.iterdir()) == []


def test_without_hard_links_the_file_is_still_exclusive_and_owner_only(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    def no_links(src: object, dst: object) -> None:
        raise OSError(1, "Operation not permitted")

    monkeypatch.setattr(atomic_write.os, "link", no_links)
    target = tmp_path / "k1.key"
    code, pem, _ = _keygen("--kem", "x25519", "--key-id", "k1", "--out", str(target))
    assert code == 0
    assert ServerKeyPair.from_private_raw("k1", target.read_bytes()).public_pem().decode() == pem
    assert _mode(target) == 0o600
    assert sorted(p.name for p in tmp_path.iterdir()) == ["k1.key"]


def test_write_private_key_raises_the_sdk_error_type(tmp_path: Path) -> None:
    from n2net_privacy.errors import ConfigurationError

    target = tmp_path / "k"
    keygen.write_private_key(target, b"\x01" * 32)
    assert target.read_bytes() == b"\x01" * 32
    with pytest.raises(ConfigurationError, match="already exists"):
        keygen.write_private_key(target, b"\x02" * 32)
    keygen.write_private_key(target, b"\x02" * 32, force=True)
    assert target.read_bytes() == b"\x02" * 32


def test_keygen_needs_no_flag_and_names_the_key_it_made(tmp_path: Path) -> None:
    """`n2net-privacy keygen` alone: x25519, a generated key id, ./ID.key, PEM on stdout."""
    done = subprocess.run(
        [sys.executable, "-m", "n2net_privacy", "keygen"],
        capture_output=True, text=True, check=False, timeout=60, cwd=tmp_path,
    )
    assert done.returncode == 0, done.stderr
    (key_file,) = tmp_path.iterdir()
    key_id = key_file.name.removesuffix(".key")
    assert re.fullmatch(r"k\d{8}-[0-9a-f]{6}", key_id)
    assert f"wrote the x25519 private key {key_id!r} to {key_id}.key (mode 0600)" in done.stderr
    pair = ServerKeyPair.from_private_raw(key_id, key_file.read_bytes())
    assert pair.public_pem().decode() == done.stdout
    assert _mode(key_file) == 0o600


def test_generated_key_ids_are_dated_and_valid() -> None:
    key_id = keygen.generated_key_id(now=lambda: 1_796_515_200.0, token=lambda n: "ab" * n)
    assert key_id == "k20261206-ababab"
    ServerKeyPair.generate("x25519", key_id=key_id)  # a valid id for the wire


@pytest.mark.parametrize("stdout", ["-", "/dev/stdout", "/dev/fd/1", "/proc/self/fd/1"])
def test_the_private_key_never_goes_to_stdout(stdout: str) -> None:
    code, out, err = _keygen("--key-id", "k1", "--out", stdout)
    assert (code, out) == (2, "")
    assert err == (
        f"n2net-privacy keygen: error: --out {stdout} is refused: stdout holds the public key; "
        "name a file\n"
    )
