"""JSON state files: one rule for missing, corrupt and unreadable files, used by Settings and
the learned permission state."""

from __future__ import annotations

import errno
import json
import logging
from pathlib import Path

import pytest

from n2net_privacy.consent import Origin
from n2net_privacy.errors import StorageError
from n2net_privacy.permissions import JsonLearnedStatusStore
from n2net_privacy.settings import Settings
from n2net_privacy.state_file import CorruptStateError, StateFile

SECRET = "ann.lee@example.com"


def parse(raw: bytes) -> dict[str, object]:
    document = json.loads(raw.decode("utf-8"))
    if not isinstance(document, dict):
        raise CorruptStateError("not an object")
    return document


def refuse(path: Path) -> bytes:
    raise PermissionError(errno.EACCES, "denied", str(path))


def test_a_missing_file_is_the_defaults(tmp_path: Path) -> None:
    for origin in Origin:
        state = StateFile(tmp_path / "none.json", what="test", origin=origin)
        assert state.load(parse, lambda: {"default": True}) == {"default": True}


@pytest.mark.parametrize("content", [b"{not json", b"[]", b"\xff\xfe", f'["{SECRET}"'.encode()])
@pytest.mark.parametrize("origin", list(Origin))
def test_a_corrupt_file_is_the_defaults_and_the_log_quotes_nothing(
    tmp_path: Path, content: bytes, origin: Origin, caplog: pytest.LogCaptureFixture
) -> None:
    path = tmp_path / "state.json"
    path.write_bytes(content)
    state = StateFile(path, what="test", origin=origin)
    with caplog.at_level(logging.WARNING, logger="n2net_privacy"):
        assert state.load(parse, dict) == {}
    assert "test file is corrupt" in caplog.text
    assert SECRET not in caplog.text


def test_an_unreadable_file_raises_where_the_sdk_holds_the_consent(tmp_path: Path) -> None:
    state = StateFile(tmp_path / "s.json", what="settings", origin=Origin.USER, read_file=refuse)
    with pytest.raises(StorageError, match="cannot read settings file") as raised:
        state.load(parse, dict)
    assert raised.value.errno == errno.EACCES


def test_an_unreadable_file_is_ignored_where_the_platform_holds_it(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    state = StateFile(tmp_path / "p.json", what="memo", origin=Origin.PLATFORM, read_file=refuse)
    with caplog.at_level(logging.WARNING, logger="n2net_privacy"):
        assert state.load(parse, dict) == {}
    assert "ignoring unreadable memo file: EACCES" in caplog.text


def test_a_failed_save_is_a_storage_error(tmp_path: Path) -> None:
    def full(_fd: int) -> None:
        raise OSError(errno.ENOSPC, "full")

    state = StateFile(tmp_path / "s.json", what="test", origin=Origin.USER, fsync=full)
    with pytest.raises(StorageError, match=r"cannot save test to .* \(ENOSPC\)"):
        state.save(b"{}")
    assert not (tmp_path / "s.json").exists()


def test_settings_and_the_permission_store_follow_the_one_rule(tmp_path: Path) -> None:
    (tmp_path / "settings.json").write_text("{broken")
    (tmp_path / "permissions.json").write_text("{broken")
    assert Settings(tmp_path / "settings.json").gravatar_enabled is False
    assert JsonLearnedStatusStore(tmp_path / "permissions.json").load() == {}
    with pytest.raises(StorageError):
        Settings(tmp_path / "settings.json", read_file=refuse)
    assert JsonLearnedStatusStore(tmp_path / "permissions.json", read_file=refuse).load() == {}
