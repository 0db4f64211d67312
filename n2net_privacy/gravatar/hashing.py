"""The Gravatar hash of an email address: the only thing about an email that leaves.

Pure functions, no I/O. Gravatar identifies a profile by the hex digest of
the trimmed, lower-cased, UTF-8 encoded address. MD5 is the default because
that is what the privacy policy promises; SHA-256 is what Gravatar's current
docs prefer. Neither is anonymous: see ``docs/gravatar.md``.

>>> gravatar_hash("MyEmailAddress@example.com ")
'0bc83cb571cd1c50ba6f3e8a78ef1346'
"""

from __future__ import annotations

import hashlib
from enum import StrEnum

from n2net_privacy.checks import quoted
from n2net_privacy.errors import GravatarError

__all__ = [
    "HashAlgorithm",
    "gravatar_hash",
    "is_gravatar_hash",
    "looks_like_email",
    "normalize_email",
]

_HEX = frozenset("0123456789abcdef")


class HashAlgorithm(StrEnum):
    """The digests Gravatar accepts as a profile id."""

    MD5 = "md5"
    SHA256 = "sha256"

    @property
    def hex_length(self) -> int:
        return 32 if self is HashAlgorithm.MD5 else 64


def _algorithm(value: HashAlgorithm | str) -> HashAlgorithm:
    try:
        return HashAlgorithm(str(value).lower())
    except ValueError:
        allowed = ", ".join(a.value for a in HashAlgorithm)
        raise GravatarError(
            f"unknown hash algorithm {quoted(value)}; allowed: {allowed}"
        ) from None


def normalize_email(email: str) -> str:
    """Trim surrounding whitespace and lower-case, as Gravatar requires."""
    return email.strip().lower()


def looks_like_email(candidate: object) -> bool:
    """True for a string worth hashing: ``local@domain``, both parts non-empty.

    Deliberately loose (no RFC 5322 parser): its job is to skip blanks, phone
    numbers and notes that ended up in an email field, so that they never
    cost a request.
    """
    if not isinstance(candidate, str):
        return False
    text = candidate.strip()
    local, at, domain = text.rpartition("@")
    return bool(at and local and domain) and not any(ch.isspace() for ch in text)


def gravatar_hash(email: str, algorithm: HashAlgorithm | str = "md5") -> str:
    """Return the lower-case hex digest Gravatar uses for ``email``.

    ``algorithm`` is ``"md5"`` (the default, as the policy promises) or
    ``"sha256"``; anything else raises :class:`GravatarError`.
    """
    if not isinstance(email, str):
        raise GravatarError(f"email must be a str, not {type(email).__name__}")
    digest = hashlib.md5 if _algorithm(algorithm) is HashAlgorithm.MD5 else hashlib.sha256
    # Gravatar's id is an MD5 by definition; it protects nothing, so say so.
    return digest(normalize_email(email).encode("utf-8"), usedforsecurity=False).hexdigest()


def is_gravatar_hash(value: str) -> bool:
    """True for a lower-case hex string of MD5 or SHA-256 length."""
    return len(value) in (32, 64) and set(value) <= _HEX
