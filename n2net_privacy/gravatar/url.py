"""Build Gravatar avatar URLs from a hash. Pure, no I/O.

The URL carries the hash and exactly three parameters: ``s`` (size),
``d=404`` (so a missing avatar is a 404, not a generated picture) and ``r``
(rating). Only a well-formed hex hash is accepted, so an email address cannot
reach a URL in any form, even by mistake.

>>> avatar_url("0bc83cb571cd1c50ba6f3e8a78ef1346", size=64)
'https://gravatar.com/avatar/0bc83cb571cd1c50ba6f3e8a78ef1346?s=64&d=404&r=g'
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum
from urllib.parse import urlsplit

from n2net_privacy.checks import quoted, require_type
from n2net_privacy.egress.policy import is_loopback
from n2net_privacy.errors import GravatarError
from n2net_privacy.gravatar.hashing import is_gravatar_hash

__all__ = [
    "DEFAULT_BASE_URL",
    "DEFAULT_SIZE",
    "MAX_SIZE",
    "MIN_SIZE",
    "AvatarUrlBuilder",
    "Rating",
    "avatar_url",
]

DEFAULT_BASE_URL = "https://gravatar.com/avatar/"
DEFAULT_SIZE = 80
MIN_SIZE = 1
MAX_SIZE = 2048


class Rating(StrEnum):
    """Gravatar's audience ratings; an avatar above the rating is treated as absent."""

    G = "g"
    PG = "pg"
    R = "r"
    X = "x"

    @classmethod
    def parse(cls, value: Rating | str) -> Rating:
        """The rating for ``value`` (any case); :class:`GravatarError` if unknown."""
        try:
            return cls(str(value).lower())
        except ValueError:
            allowed = ", ".join(r.value for r in cls)
            raise GravatarError(f"unknown rating {quoted(value)}; allowed: {allowed}") from None


def _base_url(value: str) -> str:
    require_type("base_url", value, str)
    parts = urlsplit(value)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise GravatarError(
            "base_url must be an http(s) URL with a host: https:// is required (http:// only "
            "to a loopback test server), such as 'https://www.gravatar.com/avatar/'"
        )
    if parts.scheme == "http" and not is_loopback(parts.hostname):
        raise GravatarError(
            f"base_url: http:// to {parts.hostname!r} refused: avatars are fetched only over "
            f"https:// (use https://{parts.hostname}); http:// is for a loopback test server"
        )
    if parts.query or parts.fragment or parts.username or parts.password:
        raise GravatarError("base_url must not carry a query, fragment or credentials")
    return value if value.endswith("/") else value + "/"


@dataclass(frozen=True, slots=True)
class AvatarUrlBuilder:
    """A validated base URL, size and rating; :meth:`url` adds a hash.

    Validation happens once, here, so a misconfigured app fails at start-up
    with a :class:`GravatarError` instead of on the first avatar.
    """

    base_url: str = DEFAULT_BASE_URL
    size: int = DEFAULT_SIZE
    rating: Rating = Rating.G

    def __post_init__(self) -> None:
        if isinstance(self.size, bool) or not isinstance(self.size, int):
            raise GravatarError(f"size must be an int, not {type(self.size).__name__}")
        if not MIN_SIZE <= self.size <= MAX_SIZE:
            raise GravatarError(f"size must be in {MIN_SIZE}..{MAX_SIZE}, got {self.size}")
        object.__setattr__(self, "rating", Rating.parse(self.rating))
        object.__setattr__(self, "base_url", _base_url(self.base_url))

    @property
    def host(self) -> str:
        """The host requests go to (the unit of back-off)."""
        return (urlsplit(self.base_url).hostname or "").lower()

    def url(self, email_hash: str) -> str:
        """The avatar URL for ``email_hash`` (lower-case hex, MD5 or SHA-256 length)."""
        if not isinstance(email_hash, str) or not is_gravatar_hash(email_hash):
            # The value is not echoed: it might be the very email we must not leak.
            raise GravatarError("expected a lower-case hex MD5 or SHA-256 hash")
        return f"{self.base_url}{email_hash}?s={self.size}&d=404&r={self.rating.value}"


def avatar_url(
    email_hash: str,
    *,
    size: int = DEFAULT_SIZE,
    rating: Rating | str = Rating.G,
    base_url: str = DEFAULT_BASE_URL,
) -> str:
    """Build one avatar URL; raises :class:`GravatarError` for bad arguments."""
    builder = AvatarUrlBuilder(base_url=base_url, size=size, rating=Rating.parse(rating))
    return builder.url(email_hash)
