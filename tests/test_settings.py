"""The Settings store: deny by default, persisted atomically, observable, thread-safe."""

from __future__ import annotations

import errno
import itertools
import json
import os
import threading
from pathlib import Path

import pytest

from n2net_privacy.errors import ConfigurationError, StorageError
from n2net_privacy.gravatar import HashAlgorithm
from n2net_privacy.settings import SettingKey, Settings, SettingsChange

K = SettingKey


def test_defaults_are_off_and_md5_and_nothing_is_written_in_memory(tmp_path: Path) -> None:
    settings = Settings()
    assert settings.gravatar_enabled is False
    assert settings.gravatar_hash_algorithm is HashAlgorithm.MD5
    settings.gravatar_enabled = True
    assert settings.path is None
    assert Settings().gravatar_enabled is False  # nothing persisted anywhere
    assert Settings(tmp_path / "absent.json").gravatar_enabled is False


def test_values_survive_a_restart_and_the_file_is_plain_json(tmp_path: Path) -> None:
    path = tmp_path / "app" / "settings.json"
    settings = Settings(path)
    settings.gravatar_enabled = True
    settings.gravatar_hash_algorithm = "SHA256"
    assert json.loads(path.read_text()) == {
        "version": 1, "gravatar_enabled": True, "gravatar_hash_algorithm": "sha256",
    }
    assert [p.name for p in path.parent.iterdir()] == ["settings.json"]  # no temp left
    reopened = Settings(path)
    assert reopened.gravatar_enabled is True
    assert reopened.gravatar_hash_algorithm is HashAlgorithm.SHA256


@pytest.mark.parametrize(
    "content",
    [
        "",
        "{",
        "[]",
        '{"gravatar_enabled": "yes"}',
        '{"gravatar_enabled": true, "tracking": true}',
        '{"gravatar_enabled": true, "gravatar_hash_algorithm": "sha1"}',
    ],
)
def test_a_malformed_file_means_everything_off(tmp_path: Path, content: str) -> None:
    path = tmp_path / "settings.json"
    path.write_text(content)
    assert Settings(path).gravatar_enabled is False


def test_an_unreadable_path_is_a_storage_error_not_configuration(tmp_path: Path) -> None:
    with pytest.raises(StorageError) as raised:
        Settings(tmp_path)  # a directory
    assert not isinstance(raised.value, ConfigurationError)


# Each step: (key, value to set) -> events the listener must see.
STEPS: list[tuple[SettingKey, object, list[tuple[SettingKey, object, object]]]] = [
    (K.GRAVATAR_ENABLED, False, []),  # unchanged: nobody is told
    (K.GRAVATAR_ENABLED, True, [(K.GRAVATAR_ENABLED, False, True)]),
    (K.GRAVATAR_ENABLED, True, []),
    (K.GRAVATAR_HASH_ALGORITHM, "md5", []),
    (K.GRAVATAR_HASH_ALGORITHM, "sha256",
     [(K.GRAVATAR_HASH_ALGORITHM, HashAlgorithm.MD5, HashAlgorithm.SHA256)]),
    (K.GRAVATAR_ENABLED, False, [(K.GRAVATAR_ENABLED, True, False)]),
]


def test_listeners_see_each_real_change_once() -> None:
    settings = Settings()
    seen: list[tuple[SettingKey, object, object]] = []
    settings.subscribe(lambda change: seen.append((change.key, change.old, change.new)))
    for key, value, expected in STEPS:
        seen.clear()
        setattr(settings, key.value, value)
        assert seen == expected, (key, value)


def test_listener_sees_the_new_value_already_applied() -> None:
    settings = Settings()
    observed: list[bool] = []
    settings.subscribe(lambda _change: observed.append(settings.gravatar_enabled))
    settings.gravatar_enabled = True
    settings.gravatar_enabled = False
    assert observed == [True, False]


def test_unsubscribe_stops_notifications_and_is_idempotent() -> None:
    settings = Settings()
    seen: list[SettingsChange] = []
    unsubscribe = settings.subscribe(seen.append)
    settings.gravatar_enabled = True
    unsubscribe()
    unsubscribe()
    settings.gravatar_enabled = False
    assert len(seen) == 1


def test_a_failing_listener_does_not_stop_the_others(caplog: pytest.LogCaptureFixture) -> None:
    settings = Settings()
    purged: list[bool] = []

    def broken(_change: SettingsChange) -> None:
        raise RuntimeError("ui bug")

    settings.subscribe(broken)
    settings.subscribe(lambda _change: purged.append(True))
    settings.gravatar_enabled = True  # an app bug in one listener never reaches the setter
    assert purged == [True]
    assert settings.gravatar_enabled is True
    assert "listener raised RuntimeError" in caplog.text


def test_a_listener_may_change_settings_itself() -> None:
    settings = Settings()

    def sha_when_enabled(change: SettingsChange) -> None:
        if change.key is K.GRAVATAR_ENABLED and change.new:
            settings.gravatar_hash_algorithm = HashAlgorithm.SHA256

    settings.subscribe(sha_when_enabled)
    settings.gravatar_enabled = True
    assert settings.gravatar_hash_algorithm is HashAlgorithm.SHA256


def test_bad_values_are_rejected() -> None:
    settings = Settings()
    with pytest.raises(TypeError):
        settings.gravatar_enabled = "yes"  # type: ignore[assignment]
    with pytest.raises(ConfigurationError):
        settings.gravatar_hash_algorithm = "sha1"
    assert settings.values == Settings().values


def _break_directory(path: Path) -> None:
    for child in path.parent.iterdir():
        child.unlink()
    path.parent.rmdir()
    path.parent.write_text("now a file, so nothing can be saved under it")


def test_consent_counts_only_once_saved(tmp_path: Path) -> None:
    path = tmp_path / "cfg" / "settings.json"
    settings = Settings(path)
    path.parent.write_text("a file where the settings folder should be")
    seen: list[SettingsChange] = []
    settings.subscribe(seen.append)
    with pytest.raises(StorageError, match="cannot save") as raised:
        settings.gravatar_enabled = True
    assert not isinstance(raised.value, ConfigurationError)  # the disk, not the setup
    assert settings.gravatar_enabled is False
    assert seen == []


def test_revocation_applies_even_when_it_cannot_be_saved(tmp_path: Path) -> None:
    path = tmp_path / "cfg" / "settings.json"
    reported: list[StorageError] = []
    settings = Settings(path, on_storage_error=reported.append)
    settings.gravatar_enabled = True
    _break_directory(path)
    seen: list[SettingsChange] = []
    settings.subscribe(seen.append)
    settings.gravatar_enabled = False  # never raises: the revocation holds regardless
    assert settings.gravatar_enabled is False
    assert seen == [SettingsChange(K.GRAVATAR_ENABLED, True, False)]
    assert len(reported) == 1 and reported[0].path == str(path)


def test_a_switch_off_that_cannot_be_saved_survives_a_restart(tmp_path: Path) -> None:
    """A full disk cannot write the new file, but removing the old one needs no space."""
    path = tmp_path / "settings.json"
    full = {"on": False}

    def fsync(fd: int) -> None:
        if full["on"]:
            raise OSError(errno.ENOSPC, "No space left on device")
        os.fsync(fd)

    reported: list[StorageError] = []
    settings = Settings(path, on_storage_error=reported.append, fsync=fsync)
    settings.gravatar_enabled = True
    assert Settings(path).gravatar_enabled is True
    full["on"] = True
    settings.gravatar_enabled = False  # never raises
    assert len(reported) == 1 and "removed the file" in str(reported[0])
    assert Settings(path).gravatar_enabled is False  # the app restarts: still off


def test_concurrent_writers_leave_memory_file_and_events_consistent(tmp_path: Path) -> None:
    path = tmp_path / "settings.json"
    settings = Settings(path)
    events: list[SettingsChange] = []
    lock = threading.Lock()

    def record(change: SettingsChange) -> None:
        with lock:
            events.append(change)

    settings.subscribe(record)

    def flip(start: bool) -> None:
        for i in range(50):
            settings.gravatar_enabled = (i % 2 == 0) == start

    threads = [threading.Thread(target=flip, args=(n % 2 == 0,)) for n in range(6)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    on_disk = json.loads(path.read_text())["gravatar_enabled"]
    assert on_disk == settings.gravatar_enabled
    # Events form one unbroken chain of real changes.
    assert all(e.old != e.new for e in events)
    assert all(a.new == b.old for a, b in itertools.pairwise(events))
    assert events[-1].new == settings.gravatar_enabled
    assert [p.name for p in tmp_path.iterdir()] == ["settings.json"]


class HeldDisk:
    """An fsync that, once armed, waits for ``release`` (a slow disk, deterministically)."""

    def __init__(self) -> None:
        self.armed = False
        self.holding = threading.Event()
        self.release = threading.Event()

    def fsync(self, fd: int) -> None:
        if self.armed:
            self.holding.set()
            assert self.release.wait(10)
        os.fsync(fd)


def test_a_revocation_does_not_wait_for_a_slow_save(tmp_path: Path) -> None:
    disk = HeldDisk()
    settings = Settings(tmp_path / "settings.json", fsync=disk.fsync)
    settings.gravatar_enabled = True
    disk.armed = True
    revoked = threading.Event()
    settings.on_revoke(lambda _change: revoked.set())
    changing = threading.Thread(
        target=setattr, args=(settings, "gravatar_hash_algorithm", "sha256")
    )
    changing.start()
    assert disk.holding.wait(10)  # the algorithm change is being saved, slowly
    revoking = threading.Thread(target=setattr, args=(settings, "gravatar_enabled", False))
    revoking.start()
    assert revoked.wait(10)  # published and purged while the disk is still busy
    assert settings.gravatar_enabled is False
    disk.release.set()
    changing.join(10)
    revoking.join(10)
    # Both changes count: the later revocation, and the algorithm change decided again on top.
    assert settings.gravatar_enabled is False
    assert settings.gravatar_hash_algorithm is HashAlgorithm.SHA256
    assert json.loads((tmp_path / "settings.json").read_text()) == {
        "version": 1, "gravatar_enabled": False, "gravatar_hash_algorithm": "sha256",
    }


def test_a_grant_still_being_saved_loses_to_a_later_revocation(tmp_path: Path) -> None:
    disk = HeldDisk()
    settings = Settings(tmp_path / "settings.json", fsync=disk.fsync)
    seen: list[SettingsChange] = []
    settings.subscribe(seen.append)
    disk.armed = True
    granting = threading.Thread(target=setattr, args=(settings, "gravatar_enabled", True))
    granting.start()
    assert disk.holding.wait(10)
    assert settings.gravatar_enabled is False  # not saved yet, so not in force
    settings.gravatar_enabled = False  # the user changes their mind: returns at once
    disk.release.set()
    granting.join(10)
    assert settings.gravatar_enabled is False  # the later call wins; the grant never counted
    assert seen == []
    assert json.loads((tmp_path / "settings.json").read_text())["gravatar_enabled"] is False
