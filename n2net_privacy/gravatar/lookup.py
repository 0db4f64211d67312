"""One avatar lookup, sans I/O: a generator of actions that the fetcher drives.

:func:`lookup_steps` yields :class:`Sleep` and :class:`Send` actions and is
sent back ``None`` (after a sleep), an :class:`EgressResponse` or the
:class:`NetworkError` the send raised. It returns the result and how long
it may be cached. The blocking and the asyncio fetchers drive the same
generator, so the back-off, consent and classification rules are written
once, and tests can step through them without a socket (the h11 lesson).
"""

from __future__ import annotations

from collections.abc import Callable, Generator, Sequence
from dataclasses import dataclass
from typing import TypeAlias

from n2net_privacy.egress.policy import EgressResponse
from n2net_privacy.errors import InvalidArgumentTypeError, NetworkError, NetworkTimeout
from n2net_privacy.gravatar.backoff import REFUSAL_STATUSES, HostBackoff, parse_retry_after
from n2net_privacy.gravatar.cache import cache_lifetime
from n2net_privacy.gravatar.config import ContactLike, GravatarConfig
from n2net_privacy.gravatar.hashing import HashAlgorithm, gravatar_hash, looks_like_email
from n2net_privacy.gravatar.result import AvatarResult, NoAvatar, NoAvatarReason, classify_reply
from n2net_privacy.gravatar.url import AvatarUrlBuilder
from n2net_privacy.redact import get_logger

__all__ = [
    "Action",
    "Outcome",
    "Reply",
    "Send",
    "Sleep",
    "Steps",
    "check_contact_like",
    "hashes_for",
    "lookup_steps",
    "summarize",
]

_log = get_logger(__name__)


@dataclass(frozen=True, slots=True)
class Sleep:
    """Wait this long (the host is closed), then send ``None`` back."""

    seconds: float


@dataclass(frozen=True, slots=True)
class Send:
    """GET this URL through the egress client and send back the reply or error."""

    url: str


Action: TypeAlias = Sleep | Send
Reply: TypeAlias = EgressResponse | NetworkError | None
#: The result and how long it may be cached (0 = not at all).
Outcome: TypeAlias = tuple[AvatarResult, float]
Steps: TypeAlias = Generator[Action, Reply, Outcome]


def check_contact_like(name: str, value: object) -> None:
    """Raise :class:`InvalidArgumentTypeError` unless ``value`` is a :data:`ContactLike`."""
    if isinstance(value, str | Sequence) or isinstance(getattr(value, "emails", None), Sequence):
        return
    raise InvalidArgumentTypeError(
        f"{name} must be a Contact (anything with .emails), a list of emails or one email str, "
        f"not {type(value).__name__}"
    )


def hashes_for(contact: ContactLike, algorithm: HashAlgorithm) -> list[str]:
    """The distinct hashes of a contact's usable emails, in the contact's order."""
    if isinstance(contact, str):
        emails: Sequence[str] = (contact,)
    elif isinstance(contact, Sequence):
        emails = contact
    else:
        emails = contact.emails
    hashes: list[str] = []
    for email in emails:
        if looks_like_email(email):
            email_hash = gravatar_hash(email, algorithm)
            if email_hash not in hashes:
                hashes.append(email_hash)
    return hashes


def summarize(reasons: Sequence[NoAvatarReason]) -> NoAvatar:
    """One reason for a contact none of whose emails has an avatar.

    A transient failure beats "not found": it says the avatar might exist.
    """
    for reason in reasons:
        if reason is not NoAvatarReason.NOT_FOUND:
            return NoAvatar(reason)
    if not reasons:
        return NoAvatar(NoAvatarReason.INVALID_EMAIL)
    return NoAvatar(NoAvatarReason.NOT_FOUND)


def lookup_steps(
    email_hash: str,
    *,
    urls: AvatarUrlBuilder,
    config: GravatarConfig,
    backoff: HostBackoff,
    now_s: Callable[[], float],
    may_send: Callable[[], bool],
) -> Steps:
    """Look up one hash: wait out a closed host, send, classify, back off on 429/503.

    ``may_send`` is asked immediately before every :class:`Send` (the driver
    must not await in between), so a revoked consent stops the next request.
    ``now_s`` reads the wall time as Unix seconds (the fetcher's clock).
    """
    url = urls.url(email_hash)
    host = urls.host
    policy = backoff.policy
    sleeps = attempts = 0
    while True:
        wait = backoff.wait_for(host, now_s())
        if wait > 0:
            if wait > policy.max_wait or sleeps >= policy.max_attempts:
                return NoAvatar(NoAvatarReason.RATE_LIMITED), 0.0
            sleeps += 1
            yield Sleep(wait)
            continue
        if not may_send():
            return NoAvatar(NoAvatarReason.DISABLED), 0.0
        attempts += 1
        reply = yield Send(url)
        if not isinstance(reply, EgressResponse):
            timed_out = isinstance(reply, NetworkTimeout)
            return NoAvatar(NoAvatarReason.TIMEOUT if timed_out else NoAvatarReason.NETWORK), 0.0
        now = now_s()
        if reply.status in REFUSAL_STATUSES:
            retry_after = parse_retry_after(reply.header("retry-after"), now)
            closed = backoff.refused(host, retry_after, now)
            _log.info("gravatar host refused (%d); backing off %.1fs", reply.status, closed)
            if attempts >= policy.max_attempts:
                return NoAvatar(NoAvatarReason.RATE_LIMITED), 0.0
            continue
        backoff.answered(host)
        result = classify_reply(
            email_hash, reply.status, reply.headers, reply.content,
            max_bytes=config.max_image_bytes,
        )
        if isinstance(result, NoAvatar) and not result.reason.cacheable:
            ttl = 0.0
        else:
            ttl = cache_lifetime(
                reply.headers, now, default=config.default_ttl, max_ttl=config.max_ttl
            )
        return result, ttl
