"""Which gateway keys a client may encrypt to, and when it looks again (pure).

RFC 9458 §6.1: a client MUST use a key configuration that is "integrity
protected and authenticated so that it can be attributed to the Oblivious
Gateway Resource". §7: every configuration must be shared by many clients,
or the gateway can tell them apart by the key id alone. Fetching the
configuration through the relay hides the device's address from the
gateway, but the relay could then forge it, and the gateway could still
hand each fetch its own key.

The answer here is the simplest that holds against both: the app ships a
:class:`~n2net_privacy.egress.PinSet` of key-configuration pins
(:func:`~n2net_privacy.ohttp.key_config_pin`: SHA-256 over every byte the
client encrypts to). A served configuration is used only when it is pinned.
Every install of one app build holds the same pins, so every device encrypts
to one of the same few keys: consistency by construction, the "shared,
pre-configured" option of the IETF key-consistency work
(draft-ietf-privacypass-key-consistency; draft-schwartz-ohai-consistency-doublecheck
fetches through a semi-trusted proxy, as we do, for the same reason). The
pins need a backup (the gateway's next key, so a rotation needs no app
update) and an expiry; unlike TLS pins they do **not** lapse into trusting
whatever is served: an expired set stops OHTTP sends (events stay queued)
until the app ships new pins.

A served entry that is not pinned is what a gateway handing out per-device
keys, or a relay serving its own, looks like: :func:`check_key_configs`
reports it (``INCONSISTENT``) and it is never used.
"""

from __future__ import annotations

import enum
import random
from dataclasses import dataclass
from typing import TYPE_CHECKING

from n2net_privacy.errors import WireFormatError
from n2net_privacy.ohttp.keyconfig import KeyConfig, key_config_pin

if TYPE_CHECKING:
    from n2net_privacy.egress.tls import PinSet

__all__ = ["KeyCheck", "KeyVerdict", "RefreshSchedule", "check_key_configs", "pinned"]


class KeyVerdict(enum.StrEnum):
    """What a served ``application/ohttp-keys`` body amounted to."""

    #: Every usable entry is pinned.
    ACCEPTED = "accepted"
    #: Some entries are not pinned (per-device keys, or a forged list); the pinned ones are used.
    INCONSISTENT = "inconsistent"
    #: No entry is pinned: nothing served is used.
    UNPINNED = "unpinned"
    #: The body is not a key-configuration list, or the fetch failed.
    UNUSABLE = "unusable"
    #: The pin set has expired: nothing is trusted until the app ships new pins.
    PINS_EXPIRED = "pins_expired"


@dataclass(frozen=True, slots=True)
class KeyCheck:
    """The verdict on one served list, and the pinned configurations it held."""

    verdict: KeyVerdict
    accepted: tuple[KeyConfig, ...] = ()
    unpinned: int = 0

    @property
    def usable(self) -> bool:
        return bool(self.accepted)


def pinned(pins: PinSet, configs: tuple[KeyConfig, ...]) -> tuple[KeyConfig, ...]:
    """The configurations whose pin is in ``pins``, in the given order."""
    return tuple(c for c in configs if key_config_pin(c) in pins.pins)


def check_key_configs(pins: PinSet, raw: bytes, now: float) -> KeyCheck:
    """Authenticate a served ``application/ohttp-keys`` body against ``pins`` at ``now``."""
    if pins.lapsed(now):
        return KeyCheck(KeyVerdict.PINS_EXPIRED)
    try:
        configs = KeyConfig.decode_list(raw)
    except WireFormatError:
        return KeyCheck(KeyVerdict.UNUSABLE)
    accepted = pinned(pins, configs)
    unpinned = len(configs) - len(accepted)
    if not accepted:
        return KeyCheck(KeyVerdict.UNPINNED, (), unpinned)
    verdict = KeyVerdict.INCONSISTENT if unpinned else KeyVerdict.ACCEPTED
    return KeyCheck(verdict, accepted, unpinned)


class RefreshSchedule:
    """When to fetch the key configuration next: never in step with a send.

    A refresh happens a random moment within ``jitter_s`` after the client
    first needs keys, then every ``ttl_s`` (less up to a fifth, at random),
    after a failure ``retry_s`` (half to all of it, at random), and soon
    (within ``jitter_s``) after the gateway refused our key id. Sends never
    wait for a fetch and a fetch never runs because a send is about to go.

    >>> s = RefreshSchedule(ttl_s=3600, jitter_s=0, retry_s=60, rng=random.Random(1))
    >>> s.start(100.0); s.due_at
    100.0
    >>> s.fetched(100.0, ok=True); 100 + 0.8 * 3600 <= s.due_at <= 100 + 3600
    True
    """

    def __init__(
        self, *, ttl_s: float, jitter_s: float, retry_s: float, rng: random.Random
    ) -> None:
        self.ttl_s = ttl_s
        self.jitter_s = jitter_s
        self.retry_s = retry_s
        self._rng = rng
        self.due_at: float | None = None
        """Monotonic time of the next refresh; None until the client first needs keys."""

    def start(self, now: float) -> None:
        if self.due_at is None:
            self.due_at = now + self._rng.uniform(0.0, self.jitter_s)

    def fetched(self, now: float, *, ok: bool) -> None:
        if ok:
            self.due_at = now + self.ttl_s * self._rng.uniform(0.8, 1.0)
        else:
            self.due_at = now + self.retry_s * self._rng.uniform(0.5, 1.0)

    def stale(self, now: float) -> None:
        soon = now + self._rng.uniform(0.0, self.jitter_s)
        self.due_at = soon if self.due_at is None else min(self.due_at, soon)

    def wait(self, now: float) -> float | None:
        """Seconds until the next refresh (0 when due); None while not started."""
        return None if self.due_at is None else max(self.due_at - now, 0.0)
