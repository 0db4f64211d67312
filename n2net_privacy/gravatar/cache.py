"""The avatar cache: an LRU in memory, optionally backed by files on disk, with a TTL.

Freshness comes from the reply (:func:`cache_lifetime`, pure): ``Cache-Control``
``max-age`` first, then ``Expires``, else one hour. A 404 is cached as "none"
for the same lifetime, so a contact without an avatar costs one request per
TTL, not one per screen. :meth:`AvatarCache.purge` empties both layers; the
fetcher calls it the moment the Gravatar toggle goes off.
"""

from __future__ import annotations

import contextlib
import json
import os
import re
import threading
from collections import OrderedDict
from collections.abc import Mapping
from dataclasses import dataclass
from email.utils import parsedate_to_datetime
from pathlib import Path

from n2net_privacy.atomic_write import Fsync, write_atomically
from n2net_privacy.errors import InvalidArgumentError
from n2net_privacy.gravatar.result import Avatar, AvatarResult, NoAvatar, NoAvatarReason
from n2net_privacy.redact import get_logger

__all__ = [
    "DEFAULT_TTL",
    "MAX_TTL",
    "AvatarCache",
    "CacheEntry",
    "DiskCache",
    "MemoryCache",
    "cache_lifetime",
]

DEFAULT_TTL = 3600.0
MAX_TTL = 7 * 24 * 3600.0
_MAGIC = b"N2AV1\n"
_SUFFIX = ".avatar"
_KEY = re.compile(r"[0-9a-z][0-9a-z.\-]{0,127}")
_log = get_logger(__name__)


def _http_date(value: str) -> float | None:
    try:
        when = parsedate_to_datetime(value)
    except (TypeError, ValueError, IndexError, OverflowError):
        return None
    return when.timestamp() if when.tzinfo is not None else None


def _max_age(cache_control: str) -> float | None:
    """max-age in seconds, 0 for no-store/no-cache or a malformed max-age, else None."""
    max_age: float | None = None
    for directive in cache_control.lower().split(","):
        name, _, value = directive.strip().partition("=")
        name = name.strip()
        if name in ("no-store", "no-cache"):
            return 0.0
        if name == "max-age" and max_age is None:
            value = value.strip().strip('"')
            # RFC 9111 4.2.1: invalid freshness information means stale.
            max_age = float(int(value)) if value.isascii() and value.isdigit() else 0.0
    return max_age


def cache_lifetime(
    headers: Mapping[str, str],
    now: float,
    *,
    default: float = DEFAULT_TTL,
    max_ttl: float = MAX_TTL,
) -> float:
    """Seconds a reply may be reused for (0 = do not store). Header names lower-case.

    >>> cache_lifetime({"cache-control": "max-age=300"}, now=0.0)
    300.0
    >>> cache_lifetime({}, now=0.0)
    3600.0
    """
    lifetime: float | None = None
    cache_control = headers.get("cache-control")
    if cache_control is not None:
        lifetime = _max_age(cache_control)
    if lifetime is None and "expires" in headers:
        expires = _http_date(headers["expires"])
        date = _http_date(headers["date"]) if "date" in headers else None
        lifetime = 0.0 if expires is None else expires - (date if date is not None else now)
    if lifetime is None:
        return min(default, max_ttl)
    age = headers.get("age", "").strip()
    if age.isascii() and age.isdigit():
        lifetime -= int(age)
    return min(max(lifetime, 0.0), max_ttl)


@dataclass(frozen=True, slots=True)
class CacheEntry:
    """A cached answer for one key: an avatar, or a cacheable "no avatar"."""

    result: AvatarResult
    expires_at: float

    def fresh(self, now: float) -> bool:
        return now < self.expires_at

    @property
    def weight(self) -> int:
        return len(self.result.content) if isinstance(self.result, Avatar) else 0


class MemoryCache:
    """A thread-safe LRU bounded by entry count and by total image bytes."""

    def __init__(self, max_entries: int = 1024, max_bytes: int = 32 * 1024 * 1024) -> None:
        self.max_entries = max_entries
        self.max_bytes = max_bytes
        self._lock = threading.Lock()
        self._entries: OrderedDict[str, CacheEntry] = OrderedDict()
        self._bytes = 0

    def get(self, key: str, now: float) -> CacheEntry | None:
        with self._lock:
            entry = self._entries.get(key)
            if entry is None:
                return None
            if not entry.fresh(now):
                self._drop(key)
                return None
            self._entries.move_to_end(key)
            return entry

    def put(self, key: str, entry: CacheEntry) -> None:
        with self._lock:
            if key in self._entries:
                self._drop(key)
            self._entries[key] = entry
            self._bytes += entry.weight
            while self._entries and (
                len(self._entries) > self.max_entries or self._bytes > self.max_bytes
            ):
                self._drop(next(iter(self._entries)))

    def clear(self) -> None:
        with self._lock:
            self._entries.clear()
            self._bytes = 0

    def __len__(self) -> int:
        with self._lock:
            return len(self._entries)

    def _drop(self, key: str) -> None:
        self._bytes -= self._entries.pop(key).weight


class DiskCache:
    """One file per key under ``directory`` (the app's data dir), written atomically.

    A file is a magic line, a JSON header line, then the image bytes. It
    holds the hash and the image, never an email. A file that cannot be read
    is a miss and is removed. Files are written with the SDK's one atomic
    write (:func:`~n2net_privacy.atomic_write.write_atomically`); ``fsync``
    is injectable for tests.
    """

    def __init__(self, directory: str | os.PathLike[str], *, fsync: Fsync = os.fsync) -> None:
        self.directory = Path(directory)
        self._fsync = fsync

    def _path(self, key: str) -> Path:
        if not _KEY.fullmatch(key):
            raise InvalidArgumentError("cache keys are lower-case hex, digits, '.' and '-'")
        return self.directory / f"{key}{_SUFFIX}"

    def get(self, key: str, now: float) -> CacheEntry | None:
        path = self._path(key)
        try:
            raw = path.read_bytes()
        except FileNotFoundError:
            return None
        except OSError:
            _log.warning("avatar cache file unreadable; treated as a miss")
            return None
        entry = _decode(raw)
        if entry is None or not entry.fresh(now):
            with contextlib.suppress(OSError):
                path.unlink()
            return None
        return entry

    def put(self, key: str, entry: CacheEntry) -> None:
        path = self._path(key)
        try:
            self.directory.mkdir(mode=0o700, parents=True, exist_ok=True)
            write_atomically(path, _encode(entry), fsync=self._fsync, make_parents=False)
        except OSError:
            # A full or read-only disk costs a refetch later, never the app.
            _log.warning("avatar cache write failed; keeping the avatar in memory only")

    def forget(self, key: str) -> None:
        """Remove this key's file if there is one; a failure is logged, never raised."""
        try:
            self._path(key).unlink(missing_ok=True)
        except OSError as exc:
            _log.warning("avatar cache file could not be removed: %s", type(exc).__name__)

    def clear(self) -> None:
        try:
            names = list(self.directory.iterdir())
        except FileNotFoundError:
            return
        failure: OSError | None = None
        for path in names:
            if path.name.endswith((_SUFFIX, ".tmp")):
                try:
                    path.unlink()
                except FileNotFoundError:
                    pass
                except OSError as exc:  # try the rest before reporting
                    failure = failure or exc
        if failure is not None:
            raise failure

    def __len__(self) -> int:
        try:
            return sum(1 for p in self.directory.iterdir() if p.name.endswith(_SUFFIX))
        except FileNotFoundError:
            return 0


def _encode(entry: CacheEntry) -> bytes:
    result = entry.result
    header: dict[str, object] = {"expires_at": entry.expires_at}
    if isinstance(result, Avatar):
        header |= {"hash": result.hash, "content_type": result.content_type}
        body = result.content
    else:
        header["reason"] = result.reason.value
        body = b""
    return _MAGIC + json.dumps(header).encode("ascii") + b"\n" + body


def _decode(raw: bytes) -> CacheEntry | None:
    if not raw.startswith(_MAGIC):
        return None
    line, sep, body = raw[len(_MAGIC):].partition(b"\n")
    try:
        header = json.loads(line) if sep else None
        if not isinstance(header, dict):
            return None
        expires_at = float(header["expires_at"])
        if "reason" in header:
            reason = NoAvatarReason(header["reason"])
            if not reason.cacheable:
                return None
            return CacheEntry(NoAvatar(reason), expires_at)
        avatar = Avatar(str(header["hash"]), body, str(header["content_type"]))
        return CacheEntry(avatar, expires_at)
    except (ValueError, KeyError, TypeError):
        return None


class AvatarCache:
    """Memory in front of an optional disk layer; entries found on disk are promoted.

    :meth:`get`, :meth:`put` and :meth:`purge` work on both layers at once.
    The fetcher uses the layers one by one instead, so that it can hold its
    lock for the memory steps only and never make a lookup wait for a disk:
    :meth:`recall` and :meth:`remember` (memory), :meth:`read_disk`,
    :meth:`write_disk`, :meth:`forget_disk` and :meth:`clear_disk` (disk).
    """

    def __init__(self, memory: MemoryCache | None = None, disk: DiskCache | None = None) -> None:
        self.memory = memory if memory is not None else MemoryCache()
        self.disk = disk

    def get(self, key: str, now: float) -> CacheEntry | None:
        entry = self.recall(key, now)
        if entry is None:
            entry = self.read_disk(key, now)
            if entry is not None:
                self.remember(key, entry)
        return entry

    def put(self, key: str, entry: CacheEntry) -> None:
        self.remember(key, entry)
        self.write_disk(key, entry)

    def purge(self) -> None:
        """Forget everything, in memory and on disk."""
        self.memory.clear()
        self.clear_disk()

    # -- one layer at a time ----------------------------------------------

    def recall(self, key: str, now: float) -> CacheEntry | None:
        """The fresh entry in memory, if any. Never touches the disk."""
        return self.memory.get(key, now)

    def remember(self, key: str, entry: CacheEntry) -> None:
        """Keep ``entry`` in memory only."""
        self.memory.put(key, entry)

    def read_disk(self, key: str, now: float) -> CacheEntry | None:
        """The fresh entry on disk, if any, without promoting it to memory."""
        return self.disk.get(key, now) if self.disk is not None else None

    def write_disk(self, key: str, entry: CacheEntry) -> None:
        if self.disk is not None:
            self.disk.put(key, entry)

    def forget_disk(self, key: str) -> None:
        """Remove one key's file (a write that lost a race with a purge). Never raises."""
        if self.disk is not None:
            self.disk.forget(key)

    def clear_disk(self) -> None:
        """Remove every file; raises the first OSError after trying them all."""
        if self.disk is not None:
            self.disk.clear()

    def is_empty(self) -> bool:
        """True when neither layer holds anything."""
        return len(self.memory) == 0 and (self.disk is None or len(self.disk) == 0)
