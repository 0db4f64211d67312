"""What a fetch returns: an :class:`Avatar` or a :class:`NoAvatar` with its reason.

Results are values, never exceptions: the app renders initials for any
:class:`NoAvatar`. :func:`classify_reply` is the pure decision of what a
server reply means; the fetcher does the I/O around it.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from enum import StrEnum

__all__ = [
    "IMAGE_TYPES",
    "MAX_IMAGE_BYTES",
    "Avatar",
    "AvatarResult",
    "NoAvatar",
    "NoAvatarReason",
    "classify_reply",
    "image_type_of",
]

MAX_IMAGE_BYTES = 1024 * 1024
IMAGE_TYPES = frozenset({"image/jpeg", "image/png", "image/gif", "image/webp"})

# The first bytes each accepted type must start with: a reply labelled
# image/png that is really an HTML error page is not an avatar.
_MAGIC: dict[str, tuple[bytes, ...]] = {
    "image/jpeg": (b"\xff\xd8\xff",),
    "image/png": (b"\x89PNG\r\n\x1a\n",),
    "image/gif": (b"GIF87a", b"GIF89a"),
}


class NoAvatarReason(StrEnum):
    """Why there is no avatar. Only server answers about the hash are cached."""

    DISABLED = "disabled"
    INVALID_EMAIL = "invalid_email"
    NOT_FOUND = "not_found"
    BAD_IMAGE = "bad_image"
    NETWORK = "network"
    TIMEOUT = "timeout"
    RATE_LIMITED = "rate_limited"
    CANCELLED = "cancelled"

    @property
    def cacheable(self) -> bool:
        """True when the reason is the server's answer for this hash, not a mishap."""
        return self in (NoAvatarReason.NOT_FOUND, NoAvatarReason.BAD_IMAGE)


@dataclass(frozen=True, slots=True)
class Avatar:
    """An avatar image: the hash it was fetched by, its bytes and media type."""

    hash: str
    content: bytes = field(repr=False)
    content_type: str

    @property
    def found(self) -> bool:
        return True

    @property
    def size(self) -> int:
        """The image size in bytes."""
        return len(self.content)


@dataclass(frozen=True, slots=True)
class NoAvatar:
    """No avatar to show; the app shows initials. ``reason`` says why."""

    reason: NoAvatarReason

    @property
    def found(self) -> bool:
        return False


AvatarResult = Avatar | NoAvatar


def image_type_of(content_type: str | None, content: bytes) -> str | None:
    """The accepted media type of a reply, or None when it is not a usable image."""
    if not content_type:
        return None
    media = content_type.split(";", 1)[0].strip().lower()
    if media not in IMAGE_TYPES:
        return None
    if media == "image/webp":
        ok = content[:4] == b"RIFF" and content[8:12] == b"WEBP"
    else:
        ok = content.startswith(_MAGIC[media])
    return media if ok else None


def classify_reply(
    email_hash: str,
    status: int,
    headers: Mapping[str, str],
    content: bytes,
    *,
    max_bytes: int = MAX_IMAGE_BYTES,
) -> AvatarResult:
    """Decide what a (non-refusal) reply means for ``email_hash``.

    ``status`` 0 is the egress client's "reply over the byte cap". Header
    names are lower-case. 429/503 are handled by the back-off before this.
    """
    if status == 404:
        return NoAvatar(NoAvatarReason.NOT_FOUND)
    if status == 0:
        return NoAvatar(NoAvatarReason.BAD_IMAGE)
    if status != 200:
        return NoAvatar(NoAvatarReason.NETWORK)
    media = image_type_of(headers.get("content-type"), content)
    if media is None or not 0 < len(content) <= max_bytes:
        return NoAvatar(NoAvatarReason.BAD_IMAGE)
    return Avatar(hash=email_hash, content=content, content_type=media)
