"""What the Gravatar fetcher is given: its tuning, the Settings it obeys, the contacts.

:class:`GravatarSettings` is the slice of :class:`~n2net_privacy.settings.Settings`
the fetcher reads (a Protocol, so gravatar does not import the settings
module). :class:`HasEmails` is the slice of a contact it reads.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol, TypeAlias

from n2net_privacy.checks import require_int, require_type
from n2net_privacy.errors import InvalidArgumentError
from n2net_privacy.gravatar.backoff import BackoffPolicy
from n2net_privacy.gravatar.cache import DEFAULT_TTL, MAX_TTL
from n2net_privacy.gravatar.hashing import HashAlgorithm
from n2net_privacy.gravatar.result import MAX_IMAGE_BYTES
from n2net_privacy.gravatar.url import DEFAULT_BASE_URL, DEFAULT_SIZE, AvatarUrlBuilder, Rating

if TYPE_CHECKING:
    from n2net_privacy.consent.core import WithdrawalScope

__all__ = ["ContactLike", "GravatarConfig", "GravatarSettings", "HasEmails"]


class HasEmails(Protocol):
    """Anything with an ``emails`` sequence, such as :class:`~n2net_privacy.contacts.Contact`."""

    @property
    def emails(self) -> Sequence[str]: ...


#: A contact, a sequence of email strings, or one email string.
ContactLike: TypeAlias = HasEmails | Sequence[str] | str


class GravatarSettings(Protocol):
    """The part of :class:`~n2net_privacy.settings.Settings` the fetcher needs."""

    @property
    def gravatar_enabled(self) -> bool: ...

    @property
    def gravatar_hash_algorithm(self) -> HashAlgorithm: ...

    def on_revoke(self, hook: Callable[[Any], None]) -> Callable[[], None]:
        """Call ``hook`` when the toggle goes off, before the setter returns."""
        ...

    def withdrawal_scope(self) -> WithdrawalScope:
        """A scope that reads withdrawn once the toggle goes off after now."""
        ...


@dataclass(frozen=True, slots=True)
class GravatarConfig:
    """Tuning for :class:`~n2net_privacy.gravatar.GravatarFetcher`; safe defaults.

    ``cache_dir`` (a folder under the app's data dir) turns on the disk
    cache; without it avatars are cached in memory only. Bad values raise
    here, at start-up, not on the first avatar.
    """

    base_url: str = DEFAULT_BASE_URL
    size: int = DEFAULT_SIZE
    rating: Rating | str = Rating.G
    concurrency: int = 8
    timeout: float = 5.0
    default_ttl: float = DEFAULT_TTL
    max_ttl: float = MAX_TTL
    max_image_bytes: int = MAX_IMAGE_BYTES
    memory_entries: int = 1024
    cache_dir: Path | None = None
    backoff: BackoffPolicy = field(default_factory=BackoffPolicy)

    def __post_init__(self) -> None:
        require_type("base_url", self.base_url, str)
        require_int("concurrency", self.concurrency, 1)
        require_int("max_image_bytes", self.max_image_bytes, 1)
        require_int("memory_entries", self.memory_entries, 1)
        for name in ("timeout", "default_ttl", "max_ttl"):
            require_type(name, getattr(self, name), (int, float))
        if not self.timeout > 0:
            raise InvalidArgumentError("Gravatar timeout must be positive")
        if self.cache_dir is not None:
            require_type("cache_dir", self.cache_dir, Path)
        require_type("backoff", self.backoff, BackoffPolicy)
        # Raises GravatarError (a ValueError) for a bad size, rating or base_url:
        # https://, or http:// to a loopback test server only.
        self.url_builder()

    def url_builder(self) -> AvatarUrlBuilder:
        rating = Rating.parse(self.rating)
        return AvatarUrlBuilder(base_url=self.base_url, size=self.size, rating=rating)
