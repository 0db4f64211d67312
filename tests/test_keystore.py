"""The at-rest key stores: simulated Android Keystore, iOS Keychain, and the key file."""

from __future__ import annotations

import os
import pickle
import stat
import threading
from pathlib import Path

import pytest

from n2net_privacy.errors import KeyStoreError
from n2net_privacy.simulation import SimulatedAndroidKeystore, SimulatedIOSKeychain
from n2net_privacy.testing.file_keystore import FileKeyStore
from n2net_privacy.uploader.store.at_rest import AtRestKey, KeyStore

AAD = b"row-1"


def _roundtrip(a: AtRestKey, b: AtRestKey) -> bool:
    try:
        return b.open(a.seal(b"payload", AAD), AAD) == b"payload"
    except KeyStoreError:
        return False


# -- AtRestKey ---------------------------------------------------------------


def test_seal_open_roundtrip_and_random_nonce() -> None:
    key = AtRestKey(os.urandom(32))
    first, second = key.seal(b"same", AAD), key.seal(b"same", AAD)
    assert first != second  # fresh 96-bit nonce each time
    assert first[:12] != second[:12]
    assert key.open(first, AAD) == b"same"
    assert len(first) == 12 + len(b"same") + 16


@pytest.mark.parametrize(
    "mutate",
    [
        lambda blob: blob[:-1] + bytes([blob[-1] ^ 1]),  # tag flipped
        lambda blob: blob[:5],  # truncated
        lambda blob: bytes([blob[0] ^ 1]) + blob[1:],  # nonce flipped
    ],
)
def test_tampered_blob_fails_authentication(mutate: object) -> None:
    key = AtRestKey(os.urandom(32))
    blob = key.seal(b"payload", AAD)
    with pytest.raises(KeyStoreError):
        key.open(mutate(blob), AAD)  # type: ignore[operator]


def test_aad_binds_blob_to_its_row() -> None:
    key = AtRestKey(os.urandom(32))
    with pytest.raises(KeyStoreError, match="authentication"):
        key.open(key.seal(b"payload", b"row-1"), b"row-2")


def test_key_is_not_exportable() -> None:
    key = AtRestKey(os.urandom(32))
    assert "non-exportable" in repr(key)
    assert not hasattr(key, "__dict__")
    with pytest.raises(KeyStoreError):
        pickle.dumps(key)


def test_key_must_be_aes_256() -> None:
    with pytest.raises(KeyStoreError):
        AtRestKey(os.urandom(16))


@pytest.mark.parametrize("alias", ["", "../escape", "a/b", ".hidden", "x" * 65, "sp ace"])
@pytest.mark.parametrize("store_kind", ["android", "ios", "file"])
def test_bad_alias_is_refused(alias: str, store_kind: str, tmp_path: Path) -> None:
    stores: dict[str, KeyStore] = {
        "android": SimulatedAndroidKeystore(),
        "ios": SimulatedIOSKeychain(),
        "file": FileKeyStore(tmp_path),
    }
    with pytest.raises(KeyStoreError, match="alias"):
        stores[store_kind].at_rest_key(alias)
    assert list(tmp_path.iterdir()) == []


def test_every_store_satisfies_the_protocol(tmp_path: Path) -> None:
    for store in (SimulatedAndroidKeystore(), SimulatedIOSKeychain(), FileKeyStore(tmp_path)):
        assert isinstance(store, KeyStore)


# -- simulated Android Keystore ----------------------------------------------


def test_android_same_alias_same_key_other_alias_other_key() -> None:
    store = SimulatedAndroidKeystore()
    assert _roundtrip(store.at_rest_key("q"), store.at_rest_key("q"))
    assert not _roundtrip(store.at_rest_key("q"), store.at_rest_key("other"))
    assert "q" in store


def test_android_invalidated_key_cannot_open_old_rows() -> None:
    store = SimulatedAndroidKeystore()
    old = store.at_rest_key("q")
    blob = old.seal(b"payload", AAD)
    store.invalidate("q")
    assert "q" not in store
    with pytest.raises(KeyStoreError):
        store.at_rest_key("q").open(blob, AAD)


# -- simulated iOS Keychain --------------------------------------------------


def test_ios_keychain_locked_until_first_unlock() -> None:
    keychain = SimulatedIOSKeychain(first_unlock_done=False)
    with pytest.raises(KeyStoreError, match="locked"):
        keychain.at_rest_key("q")
    keychain.unlock()
    assert _roundtrip(keychain.at_rest_key("q"), keychain.at_rest_key("q"))


def test_ios_items_are_this_device_only() -> None:
    keychain = SimulatedIOSKeychain()
    blob = keychain.at_rest_key("q").seal(b"payload", AAD)
    restored = keychain.restore_to_new_device()
    assert "q" not in restored
    with pytest.raises(KeyStoreError):
        restored.at_rest_key("q").open(blob, AAD)


# -- FileKeyStore ------------------------------------------------------------


def test_file_store_creates_0600_file_in_0700_dir(tmp_path: Path) -> None:
    old_umask = os.umask(0)  # even a permissive umask must not widen the mode
    try:
        store = FileKeyStore(tmp_path / "keys")
        store.at_rest_key("q")
    finally:
        os.umask(old_umask)
    path = store.path_for("q")
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert stat.S_IMODE(path.parent.stat().st_mode) == 0o700
    assert [p.name for p in path.parent.iterdir()] == ["q.key"]  # no temp file left


def test_file_store_key_survives_a_new_instance(tmp_path: Path) -> None:
    blob = FileKeyStore(tmp_path).at_rest_key("q").seal(b"payload", AAD)
    assert FileKeyStore(tmp_path).at_rest_key("q").open(blob, AAD) == b"payload"


@pytest.mark.parametrize(
    ("corrupt", "message"),
    [
        (lambda data: data[:-1], "wrong size"),
        (lambda data: b"XXXX" + data[4:], "header"),
        (lambda data: data[:10] + bytes([data[10] ^ 1]) + data[11:], "checksum"),
        (lambda data: b"", "wrong size"),
    ],
)
def test_file_store_refuses_corrupt_key(tmp_path: Path, corrupt: object, message: str) -> None:
    store = FileKeyStore(tmp_path)
    store.at_rest_key("q")
    path = store.path_for("q")
    path.write_bytes(corrupt(path.read_bytes()))  # type: ignore[operator]
    with pytest.raises(KeyStoreError, match=message):
        store.at_rest_key("q")
    assert path.exists()  # never silently replaced: that would orphan every sealed row


def test_file_store_refuses_a_key_readable_by_others(tmp_path: Path) -> None:
    store = FileKeyStore(tmp_path)
    store.at_rest_key("q")
    store.path_for("q").chmod(0o644)
    with pytest.raises(KeyStoreError, match="0600"):
        store.at_rest_key("q")


def test_file_store_refuses_a_symlinked_key(tmp_path: Path) -> None:
    real = FileKeyStore(tmp_path / "real")
    real.at_rest_key("q")
    (tmp_path / "linked").mkdir()
    (tmp_path / "linked" / "q.key").symlink_to(real.path_for("q"))
    with pytest.raises(KeyStoreError):
        FileKeyStore(tmp_path / "linked").at_rest_key("q")


def test_file_store_concurrent_creation_agrees_on_one_key(tmp_path: Path) -> None:
    store = FileKeyStore(tmp_path)
    keys: list[AtRestKey] = []
    barrier = threading.Barrier(8)

    def create() -> None:
        barrier.wait()
        keys.append(FileKeyStore(tmp_path).at_rest_key("q"))

    threads = [threading.Thread(target=create) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    final = store.at_rest_key("q")
    assert len(keys) == 8
    assert all(_roundtrip(key, final) for key in keys)
    assert [p.name for p in tmp_path.iterdir()] == ["q.key"]


def test_file_store_unusable_directory_is_a_keystore_error(tmp_path: Path) -> None:
    (tmp_path / "not-a-dir").write_bytes(b"")
    with pytest.raises(KeyStoreError, match="directory"):
        FileKeyStore(tmp_path / "not-a-dir" / "keys").at_rest_key("q")
