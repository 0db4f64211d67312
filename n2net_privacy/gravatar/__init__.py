"""Gravatar avatars: only when enabled in Settings, only the hash leaves.

:func:`gravatar_hash` and :func:`avatar_url` are pure; :class:`GravatarFetcher`
does the fetching (through the egress chokepoint) and the caching, and
returns an :class:`Avatar` or a :class:`NoAvatar`, never an exception, for
network trouble, a disabled toggle or a bad image. :class:`GravatarFetcher`
loads on first use (it brings the HTTP client); the rest here is pure.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from n2net_privacy._lazy import lazy_names
from n2net_privacy.gravatar.backoff import BackoffPolicy, parse_retry_after
from n2net_privacy.gravatar.cache import (
    AvatarCache,
    CacheEntry,
    DiskCache,
    MemoryCache,
    cache_lifetime,
)
from n2net_privacy.gravatar.config import (
    ContactLike,
    GravatarConfig,
    GravatarSettings,
    HasEmails,
)
from n2net_privacy.gravatar.hashing import (
    HashAlgorithm,
    gravatar_hash,
    is_gravatar_hash,
    looks_like_email,
    normalize_email,
)
from n2net_privacy.gravatar.result import (
    IMAGE_TYPES,
    MAX_IMAGE_BYTES,
    Avatar,
    AvatarResult,
    NoAvatar,
    NoAvatarReason,
    classify_reply,
)
from n2net_privacy.gravatar.url import DEFAULT_BASE_URL, AvatarUrlBuilder, Rating, avatar_url

if TYPE_CHECKING:
    from n2net_privacy.gravatar.fetcher import GravatarFetcher

__all__ = [
    "DEFAULT_BASE_URL",
    "IMAGE_TYPES",
    "MAX_IMAGE_BYTES",
    "Avatar",
    "AvatarCache",
    "AvatarResult",
    "AvatarUrlBuilder",
    "BackoffPolicy",
    "CacheEntry",
    "ContactLike",
    "DiskCache",
    "GravatarConfig",
    "GravatarFetcher",
    "GravatarSettings",
    "HasEmails",
    "HashAlgorithm",
    "MemoryCache",
    "NoAvatar",
    "NoAvatarReason",
    "Rating",
    "avatar_url",
    "cache_lifetime",
    "classify_reply",
    "gravatar_hash",
    "is_gravatar_hash",
    "looks_like_email",
    "normalize_email",
    "parse_retry_after",
]

__getattr__, __dir__ = lazy_names(
    __name__, globals(), {"GravatarFetcher": "n2net_privacy.gravatar.fetcher"}
)
