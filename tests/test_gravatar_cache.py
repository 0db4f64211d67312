"""The avatar cache: freshness rules (pure), the LRU, the disk layer, the purge."""

from __future__ import annotations

from datetime import UTC, datetime
from email.utils import format_datetime
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from n2net_privacy.errors import InvalidArgumentError
from n2net_privacy.gravatar import (
    Avatar,
    AvatarCache,
    CacheEntry,
    DiskCache,
    MemoryCache,
    NoAvatar,
    NoAvatarReason,
    cache_lifetime,
)
from n2net_privacy.gravatar.cache import MAX_TTL
from n2net_privacy.testing import make_png

NOW = 1_700_000_000.0
H1, H2, H3 = "1" * 32, "2" * 32, "3" * 64


def _date(ts: float) -> str:
    return format_datetime(datetime.fromtimestamp(ts, UTC), usegmt=True)


def _avatar(email_hash: str = H1, size: int = 0) -> Avatar:
    png = make_png()
    return Avatar(hash=email_hash, content=png + b"\x00" * size, content_type="image/png")


@pytest.mark.parametrize(
    ("headers", "expected"),
    [
        ({}, 3600.0),
        ({"cache-control": "max-age=300"}, 300.0),
        ({"cache-control": "public, max-age=300"}, 300.0),
        ({"cache-control": 'max-age="60"'}, 60.0),
        ({"cache-control": "max-age=300, max-age=10"}, 300.0),  # first occurrence
        ({"cache-control": "private, max-age=0"}, 0.0),
        ({"cache-control": "no-store"}, 0.0),
        ({"cache-control": "max-age=300, no-cache"}, 0.0),
        ({"cache-control": "max-age=soon"}, 0.0),  # invalid freshness = stale
        ({"cache-control": "public"}, 3600.0),  # no lifetime given
        ({"cache-control": "max-age=999999999"}, MAX_TTL),
        ({"cache-control": "max-age=300", "age": "100"}, 200.0),
        ({"cache-control": "max-age=300", "age": "900"}, 0.0),
        ({"cache-control": "max-age=300", "expires": _date(NOW + 10)}, 300.0),  # max-age wins
        ({"expires": _date(NOW + 120)}, 120.0),
        ({"expires": _date(NOW - 120)}, 0.0),
        ({"expires": "0"}, 0.0),  # invalid Expires = already expired
        ({"expires": _date(NOW + 120), "date": _date(NOW - 1000)}, 1120.0),  # server clock
        ({"expires": _date(NOW + 120), "date": "garbage"}, 120.0),
    ],
)
def test_cache_lifetime_table(headers: dict[str, str], expected: float) -> None:
    assert cache_lifetime(headers, NOW) == expected


def test_cache_lifetime_default_is_configurable() -> None:
    assert cache_lifetime({}, NOW, default=60) == 60
    assert cache_lifetime({"cache-control": "max-age=100"}, NOW, max_ttl=50) == 50


@given(st.dictionaries(st.sampled_from(["cache-control", "expires", "date", "age"]), st.text()))
def test_cache_lifetime_never_raises_and_stays_in_bounds(headers: dict[str, str]) -> None:
    assert 0.0 <= cache_lifetime(headers, NOW) <= MAX_TTL


def test_memory_hit_and_ttl_expiry() -> None:
    cache = MemoryCache()
    cache.put("k", CacheEntry(_avatar(), NOW + 10))
    hit = cache.get("k", NOW + 9.9)
    assert hit is not None and hit.result == _avatar()
    assert cache.get("k", NOW + 10) is None
    assert len(cache) == 0  # expired entries are dropped, not kept around


def test_memory_lru_evicts_the_least_recently_used() -> None:
    cache = MemoryCache(max_entries=2)
    cache.put("a", CacheEntry(NoAvatar(NoAvatarReason.NOT_FOUND), NOW + 60))
    cache.put("b", CacheEntry(NoAvatar(NoAvatarReason.NOT_FOUND), NOW + 60))
    assert cache.get("a", NOW) is not None  # a is now the most recent
    cache.put("c", CacheEntry(NoAvatar(NoAvatarReason.NOT_FOUND), NOW + 60))
    assert cache.get("b", NOW) is None
    assert cache.get("a", NOW) is not None and cache.get("c", NOW) is not None


def test_memory_is_bounded_by_bytes_too() -> None:
    big = len(make_png()) + 1000
    cache = MemoryCache(max_entries=100, max_bytes=2 * big)
    for key in "abc":
        cache.put(key, CacheEntry(_avatar(size=1000), NOW + 60))
    assert len(cache) == 2 and cache.get("a", NOW) is None
    cache.put("c", CacheEntry(_avatar(size=1000), NOW + 60))  # replacing does not double count
    assert len(cache) == 2


def test_disk_round_trip_and_file_name_carries_only_the_key(tmp_path: Path) -> None:
    disk = DiskCache(tmp_path / "gravatar")
    avatar = _avatar(H3)
    disk.put(f"{H3}.80.g", CacheEntry(avatar, NOW + 60))
    disk.put(f"{H2}.80.g", CacheEntry(NoAvatar(NoAvatarReason.NOT_FOUND), NOW + 60))
    assert sorted(p.name for p in (tmp_path / "gravatar").iterdir()) == [
        f"{H2}.80.g.avatar", f"{H3}.80.g.avatar",
    ]
    again = DiskCache(tmp_path / "gravatar")  # a new process
    assert again.get(f"{H3}.80.g", NOW) == CacheEntry(avatar, NOW + 60)
    assert again.get(f"{H2}.80.g", NOW) == CacheEntry(NoAvatar(NoAvatarReason.NOT_FOUND), NOW + 60)


def test_disk_expired_or_corrupt_files_are_misses_and_removed(tmp_path: Path) -> None:
    disk = DiskCache(tmp_path)
    disk.put("old", CacheEntry(_avatar(), NOW + 1))
    assert disk.get("old", NOW + 2) is None
    assert not (tmp_path / "old.avatar").exists()
    for name, raw in [
        ("junk", b"not ours"),
        ("badjson", b"N2AV1\n{nope\n"),
        ("nolines", b"N2AV1\n"),
        ("badreason", b'N2AV1\n{"expires_at": 1e12, "reason": "network"}\n'),
        ("nolist", b"N2AV1\n[1, 2]\n"),
    ]:
        (tmp_path / f"{name}.avatar").write_bytes(raw)
        assert disk.get(name, NOW) is None
        assert not (tmp_path / f"{name}.avatar").exists()


def test_disk_rejects_keys_that_could_escape_the_directory(tmp_path: Path) -> None:
    with pytest.raises(InvalidArgumentError):
        DiskCache(tmp_path).put("../evil", CacheEntry(_avatar(), NOW + 1))


def test_disk_write_failure_is_swallowed(tmp_path: Path) -> None:
    blocker = tmp_path / "file"
    blocker.write_text("x")
    disk = DiskCache(blocker / "sub")  # cannot create a directory under a file
    disk.put("k", CacheEntry(_avatar(), NOW + 60))
    assert disk.get("k", NOW) is None


def test_two_layer_cache_promotes_from_disk_and_purges_both(tmp_path: Path) -> None:
    first = AvatarCache(MemoryCache(), DiskCache(tmp_path))
    first.put("k", CacheEntry(_avatar(), NOW + 60))
    second = AvatarCache(MemoryCache(), DiskCache(tmp_path))  # fresh memory, same disk
    assert len(second.memory) == 0
    assert second.get("k", NOW) is not None
    assert len(second.memory) == 1
    (tmp_path / ".k.tmp").write_bytes(b"half-written")
    (tmp_path / "unrelated.txt").write_text("keep me")
    second.purge()
    assert second.is_empty()
    assert second.get("k", NOW) is None
    assert [p.name for p in tmp_path.iterdir()] == ["unrelated.txt"]


def test_memory_only_cache_is_empty_after_purge() -> None:
    cache = AvatarCache()
    cache.put("k", CacheEntry(_avatar(), NOW + 60))
    assert not cache.is_empty()
    cache.purge()
    assert cache.is_empty()


def test_purge_of_a_directory_never_created_is_fine(tmp_path: Path) -> None:
    cache = AvatarCache(disk=DiskCache(tmp_path / "never"))
    cache.purge()
    assert cache.is_empty()
