"""One simulated device of a fleet, driven step by step: the core of the Locust kit.

A :class:`Device` owns what a phone owns: a data directory, an encrypted
queue, a key store, its own timing. It records SMS and calls through the
real :class:`~n2net_privacy.uploader.Uploader` and sends them through the
real sender, so every batch it posts holds only its own events, cut and
sealed exactly as on a phone.

It never starts the uploader's background thread (``start=False``): the
caller drives it with :meth:`Device.tick`, which does at most one
``record_*`` and one :meth:`Sender.step <n2net_privacy.uploader.send.sender.Sender.step>`
and returns how long until something is due again. Under Locust that caller
is a gevent greenlet, and doing the work on it, not on a monkey-patched
thread, keeps every SQLite call short and in one known place (see
docs/backend.md, "Why the sender is driven, not threaded").

An idle device costs nothing: it decides when to send with the SDK
worker's own :class:`~n2net_privacy.uploader.send.decisions.Pacer`, so with nothing
queued and no retry scheduled it sleeps until its next event, restart or
outage, never on a periodic tick, and it reads its queue only when the
pacer says a batch may be due.

Nothing here imports Locust, so the pytest process can test it directly;
:mod:`n2net_privacy.testing.load.locust` wraps it in a ``DeviceUser``.
"""

from __future__ import annotations

import base64
import binascii
import json
import random
import shutil
import ssl
import tempfile
import time
import uuid
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from enum import StrEnum
from functools import cache
from pathlib import Path
from typing import Protocol
from urllib.parse import urlsplit

import phonenumbers

from n2net_privacy.atomic_write import write_atomically
from n2net_privacy.egress import AuditEntry, AuditLog, Egress, EgressPolicy, OutgoingRequest
from n2net_privacy.egress.policy import Purpose
from n2net_privacy.egress.tls import harden
from n2net_privacy.errors import ConfigurationError, EgressPolicyError
from n2net_privacy.simulation import SimulatedAndroidKeystore
from n2net_privacy.testing.synthetic import REGIONS, synthetic_number
from n2net_privacy.uploader import ServerKey, Uploader
from n2net_privacy.uploader.recorder import Endpoint, QueueLimits, UploaderEvents
from n2net_privacy.uploader.send.decisions import Pacer
from n2net_privacy.uploader.send.sender import SenderConfig, SendState, SendStatus

__all__ = [
    "Device",
    "DeviceConfig",
    "FleetMetrics",
    "Plan",
    "Scenario",
    "parse_server_keys",
]

_NEVER = float("inf")
# The longest a device sleeps when nothing at all is due (it stopped recording,
# nothing queued): a bound for the caller's sleep, not a tick.
_MAX_WAIT_S = 60.0
_DRAIN_POLL_S = 0.05
_NUMBER_POOL = 1024
_RETRIED = frozenset({SendState.RETRYING, SendState.BLOCKED, SendState.PIN_MISMATCH})
_HELD = frozenset({SendState.KEY_REJECTED, SendState.UNAUTHORIZED})


class Scenario(StrEnum):
    """What the whole fleet goes through during a run."""

    STEADY = "steady"
    """Every device records and sends at its own pace (plus its own outages and restarts)."""
    RECONNECT_STORM = "reconnect-storm"
    """Every device is offline for a while, then all come back at the same instant."""
    KEY_ROTATION = "key-rotation"
    """Mid-run every device installs new server keys, each at its own moment in a window."""


@dataclass(frozen=True, slots=True)
class Plan:
    """When the fleet-wide events of a scenario happen, in seconds since the run started."""

    scenario: Scenario = Scenario.STEADY
    outage_at: float = 60.0
    outage_s: float = 60.0
    rotate_at: float = 60.0
    rotate_window_s: float = 30.0
    rotate_keys: tuple[ServerKey, ...] = ()
    record_until: float = float("inf")
    """Devices stop recording then (and go on sending what they hold)."""

    def __post_init__(self) -> None:
        if self.scenario is Scenario.KEY_ROTATION and not self.rotate_keys:
            raise ConfigurationError("the key-rotation scenario needs the keys to rotate to")
        if min(self.outage_at, self.outage_s, self.rotate_at, self.rotate_window_s) < 0:
            raise ConfigurationError("scenario times must not be negative")

    def offline(self, elapsed: float) -> bool:
        """Whether the fleet-wide outage of a reconnect storm is on at ``elapsed``."""
        return (
            self.scenario is Scenario.RECONNECT_STORM
            and self.outage_at <= elapsed < self.outage_at + self.outage_s
        )


@dataclass(frozen=True, slots=True)
class DeviceConfig:
    """What every device of the fleet shares. Rates and periods are per device."""

    target: str
    app_key: str
    server_keys: tuple[ServerKey, ...]
    events_per_s: float = 1.0
    call_share: float = 0.3
    contacts: int = 20
    restart_every_s: float = 0.0
    """Mean seconds between app restarts (exponential); 0: never."""
    outage_every_s: float = 0.0
    """Mean seconds between this device's own outages (exponential); 0: never."""
    outage_s: float = 5.0
    drain_s: float = 10.0
    """At stop, how long the device may keep sending what it holds."""
    sender: SenderConfig = field(default_factory=SenderConfig)
    ca_file: str | None = None

    def __post_init__(self) -> None:
        if not self.server_keys:
            raise ConfigurationError("at least one server key is needed")
        if self.events_per_s <= 0 or self.contacts < 1 or not 0 <= self.call_share <= 1:
            raise ConfigurationError(
                "events_per_s must be positive, contacts at least 1, call_share 0..1"
            )
        if min(self.restart_every_s, self.outage_every_s, self.outage_s, self.drain_s) < 0:
            raise ConfigurationError("periods must not be negative")


class FleetMetrics(Protocol):
    """Where a device reports; the Locust kit writes these into Locust's statistics."""

    def batch(self, response_time_ms: float, request_bytes: int, failure: str | None) -> None:
        """One POST of a sealed batch that reached the network (or failed on it)."""

    def events(self, name: str, count: int, failure: str | None = None) -> None:
        """``count`` events went through ``name`` (recorded, delivered, retried, ...)."""


def parse_server_keys(text: str) -> tuple[ServerKey, ...]:
    """``"k1=BASE64[,k2=@k2.pub.pem]"``: key ids and public keys, current first.

    A key is the base64 of its raw public key, or ``@`` and the path of the
    PEM file that ``n2net-privacy keygen`` prints.
    """
    keys = []
    for item in filter(None, (part.strip() for part in text.split(","))):
        key_id, sep, value = item.partition("=")
        if not sep:
            raise ConfigurationError(
                "server keys are written id=base64 or id=@file.pem, separated by commas"
            )
        if value.startswith("@"):
            keys.append(_key_from_pem_file(key_id, Path(value[1:])))
            continue
        try:
            raw = base64.b64decode(value, validate=True)
        except binascii.Error as exc:
            raise ConfigurationError(f"server key {key_id!r} is not valid base64") from exc
        keys.append(ServerKey.from_raw(key_id, raw))
    return tuple(keys)


def _key_from_pem_file(key_id: str, path: Path) -> ServerKey:
    try:
        data = path.read_bytes()
    except OSError as exc:
        raise ConfigurationError(
            f"server key {key_id!r}: cannot read {path} ({type(exc).__name__})"
        ) from None
    return ServerKey.from_pem(key_id, data)


class _Link(AuditLog):
    """The device's radio: times each POST, and refuses to send while offline.

    It stands in for the egress audit log, so it keeps no entries (a long run
    would otherwise hold one per request); it turns each into a metric.
    """

    def __init__(self, metrics: FleetMetrics, monotonic: Callable[[], float]) -> None:
        super().__init__()
        self.offline = False
        self._metrics = metrics
        self._monotonic = monotonic
        self._started: dict[int, float] = {}

    def inspect(self, request: OutgoingRequest) -> None:
        if self.offline:
            # Nothing leaves, as in airplane mode: the sender backs off and retries.
            raise EgressPolicyError(
                "simulated outage: the device is offline", purpose=request.purpose.value,
                host=request.host,
            )
        self._started[request.request_id] = self._monotonic()

    def record(self, entry: AuditEntry) -> None:
        started = self._started.pop(entry.request_id, None)
        if entry.blocked or started is None:
            return
        elapsed_ms = (self._monotonic() - started) * 1000.0
        failure = None
        if entry.status is None:
            failure = f"network error {entry.error or ''}".strip()
        elif not 200 <= entry.status < 300:
            failure = f"HTTP {entry.status}"
        self._metrics.batch(elapsed_ms, entry.request_bytes, failure)


@cache
def _number_pool() -> tuple[str, ...]:
    """Synthetic numbers in international format (any device region reads them), made once.

    Validating a synthetic number costs phonenumbers about 0.1 ms: per device
    and per contact that was most of a device's creation, so every device of
    the process draws its phone book from this one pool.
    """
    rng = random.Random(0x25)
    fmt = phonenumbers.PhoneNumberFormat.INTERNATIONAL
    return tuple(
        phonenumbers.format_number(synthetic_number(rng, rng.choice(REGIONS)), fmt)
        for _ in range(_NUMBER_POOL)
    )


def _phone_book(rng: random.Random, size: int) -> list[str]:
    pool = _number_pool()
    return [rng.choice(pool) for _ in range(size)]


def _egress(config: DeviceConfig, link: _Link) -> Egress:
    parts = urlsplit(config.target)
    host = parts.hostname or ""
    # The bare host admits any port of a loopback name (and the check at construction);
    # host:port admits the target's own port elsewhere.
    entries = {host} if parts.port is None else {host, f"{host}:{parts.port}"}
    policy = EgressPolicy({Purpose.N2NET_API: frozenset(entries)},
                          test_mode=parts.scheme == "http")
    return Egress(policy, audit=link, inspectors=[link], verify=_tls_context(config.ca_file))


@cache
def _tls_context(ca_file: str | None) -> ssl.SSLContext:
    """One TLS context per process and CA file, shared by every device's egress.

    Loading a trust store costs about 30 ms of CPU: once per device, under
    gevent, that blocked the whole worker for as long at every device's
    first request. Without a CA file the devices trust the system's store.
    """
    return harden(ssl.create_default_context(cafile=ca_file))


class Device:
    """One phone: its own data directory, queue, key store, timing, outages and restarts.

    ``monotonic`` (seconds) and ``sleep`` are injected; ``started_at``
    is the run's start on that clock, which the :class:`Plan` counts from.
    """

    def __init__(
        self,
        config: DeviceConfig,
        metrics: FleetMetrics,
        *,
        plan: Plan | None = None,
        data_root: str | Path | None = None,
        started_at: float | None = None,
        monotonic: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], None] = time.sleep,
        rng: random.Random | None = None,
    ) -> None:
        self.device_id = uuid.uuid4().hex[:12]
        self.config = config
        self.plan = plan or Plan()
        self._metrics = metrics
        self._monotonic = monotonic
        self._sleep = sleep
        self._rng = rng or random.Random()
        self._book = _phone_book(self._rng, config.contacts)
        self.data_dir = Path(tempfile.mkdtemp(prefix="n2net-device-", dir=data_root))
        self._key_store = SimulatedAndroidKeystore()  # survives restarts, as on a phone
        self._link = _Link(metrics, monotonic)
        self._egress = _egress(config, self._link)
        self._keys: Sequence[ServerKey] = config.server_keys
        now = monotonic()
        self._t0 = now if started_at is None else started_at
        self.recorded_ids: list[str] = []
        self.counts = {"delivered": 0, "retried": 0, "dead_lettered": 0, "held": 0,
                       "restarts": 0, "outages": 0}
        self._rotate_at = self._t0 + self.plan.rotate_at + self._rng.uniform(
            0, self.plan.rotate_window_s
        )
        self._rotated = False
        self._next_record = now + self._gap(config.events_per_s)
        self._pacer = self._new_pacer()
        self._next_restart = now + self._gap_or_never(config.restart_every_s)
        self._outage_until: float | None = None
        self._next_outage = now + self._gap_or_never(config.outage_every_s)
        self._was_offline = False
        self.uploader = self._open()

    # -- lifecycle -------------------------------------------------------------

    def _new_pacer(self) -> Pacer:
        """The SDK worker's pacing, as at the app's start: it looks at the queue first."""
        return Pacer(self.config.sender.batch_max_events, self.config.sender.linger_s)

    def _open(self) -> Uploader:
        return Uploader(
            Endpoint(self.config.target, self.config.app_key, self._keys), self.data_dir,
            key_store=self._key_store, egress=self._egress, region="US",
            sending=self.config.sender, limits=QueueLimits(exit_flush_timeout_s=0.0),
            events=UploaderEvents(on_status=self._on_status), start=False,
        )

    def restart(self) -> None:
        """Close the app and start it again on the same data directory and key store."""
        self.uploader.close(timeout=0.0)
        self.counts["restarts"] += 1
        self._pacer = self._new_pacer()
        self.uploader = self._open()

    # -- the loop ---------------------------------------------------------------

    def tick(self) -> float:
        """Do what is due now (at most one record and one send attempt); seconds to wait.

        The wait runs to the next thing due: an event, the linger's end or a
        scheduled retry (the :class:`Pacer` says), a restart, or a change of
        the plan. Nothing queued and no retry scheduled: no send is due.
        """
        now = self._monotonic()
        self._follow_plan(now)
        if now >= self._next_restart:
            self._next_restart = now + self._gap_or_never(self.config.restart_every_s)
            self.restart()
        if now >= self._next_record:
            if now - self._t0 < self.plan.record_until:
                self._next_record += self._gap(self.config.events_per_s)
                self._record()
            else:
                self._next_record = _NEVER  # the quiet period: sending only
        if self._pacer.timeout(now) == 0.0:
            self._send(now, drain=False)
        send_at = self._pacer.wake_at()
        due = min(
            self._next_record, _NEVER if send_at is None else send_at, self._next_restart,
            self._next_plan_change(now),
        )
        return min(max(due - self._monotonic(), 0.0), _MAX_WAIT_S)

    def _next_plan_change(self, now: float) -> float:
        """When the device next goes offline or online, or installs the rotated keys."""
        due = self._next_outage if self._outage_until is None else self._outage_until
        plan = self.plan
        if plan.scenario is Scenario.RECONNECT_STORM:
            start = self._t0 + plan.outage_at
            due = min(due, next((t for t in (start, start + plan.outage_s) if t > now), _NEVER))
        elif plan.scenario is Scenario.KEY_ROTATION and not self._rotated:
            due = min(due, self._rotate_at)
        return due

    def _follow_plan(self, now: float) -> None:
        if self._outage_until is not None and now >= self._outage_until:
            self._outage_until = None
        elif self._outage_until is None and now >= self._next_outage:
            self._outage_until = now + self.config.outage_s
            self._next_outage = self._outage_until + self._gap_or_never(
                self.config.outage_every_s
            )
        offline = self._outage_until is not None or self.plan.offline(now - self._t0)
        if offline and not self._was_offline:
            self.counts["outages"] += 1
        if self._was_offline and not offline:
            # Back online: the app hears of it and tries at once, whatever its backoff.
            self._pacer.kick()
        self._link.offline = self._was_offline = offline
        if (self.plan.scenario is Scenario.KEY_ROTATION and not self._rotated
                and now >= self._rotate_at):
            self._rotated = True
            self._keys = self.plan.rotate_keys
            self.uploader.set_server_keys(self._keys)
            self._pacer.kick()

    def _record(self) -> None:
        number = self._rng.choice(self._book)
        if self._rng.random() < self.config.call_share:
            result = self.uploader.record_call(number, self._rng.randint(0, 600))
        else:
            result = self.uploader.record_sms(number)
        if result.event_id is not None:
            self.recorded_ids.append(result.event_id)
            self._metrics.events("recorded", 1)
        else:
            self._metrics.events("not recorded", 1, failure=f"record {result.outcome.value}")
        self._pacer.arrived(self._monotonic())

    def _send(self, now: float, *, drain: bool) -> float | None:
        """One turn of the sender, paced and cut as the SDK's worker does (its Pacer)."""
        at_once = self._pacer.looking() or drain
        sender = self.uploader.sender
        cut = False
        if not sender.in_flight:
            # (With a batch in flight the step resumes it: no new batch, the linger runs on.)
            stats = self.uploader.pending()
            cut = self._pacer.looked(stats.events - stats.in_flight, now, at_once=at_once)
        delay = sender.step(lease_new=cut)
        self._pacer.stepped(delay, self._monotonic())
        return delay

    def _on_status(self, status: SendStatus) -> None:
        if status.state is SendState.DELIVERED:
            self.counts["delivered"] += status.events
            self._metrics.events("delivered", status.events)
        elif status.state in _RETRIED:
            self.counts["retried"] += status.events
            self._metrics.events("retried", status.events)
        elif status.state is SendState.DEAD_LETTERED:
            self.counts["dead_lettered"] += status.events
            self._metrics.events("dead-lettered", status.events, failure=status.reason)
        elif status.state in _HELD:
            self.counts["held"] += status.events
            self._metrics.events("held", status.events)

    # -- stop --------------------------------------------------------------------

    def stop(
        self, results_dir: str | Path | None = None, *, keep_data: bool = False
    ) -> dict[str, object]:
        """Send what is left for up to ``drain_s`` (online), close, report; returns the summary.

        The summary carries event ids and counts, never a number. With
        ``results_dir`` it is also written there as ``<device_id>.json``.
        """
        self._link.offline = False
        deadline = self._monotonic() + self.config.drain_s
        while self.uploader.pending().events > 0 and self._monotonic() < deadline:
            delay = self._send(self._monotonic(), drain=True)
            if delay != 0.0:  # None: idle, only others' leases left; look again shortly
                wait = _DRAIN_POLL_S if delay is None else delay
                self._sleep(min(wait, max(deadline - self._monotonic(), 0.0)))
        self.uploader.close(timeout=0.0)
        pending = self.uploader.pending().events
        summary: dict[str, object] = {
            "device": self.device_id,
            "recorded": self.recorded_ids,
            "pending": pending,
            **self.counts,
        }
        if results_dir is not None:
            write_atomically(
                Path(results_dir) / f"{self.device_id}.json",
                json.dumps(summary).encode(),
            )
        if not keep_data:
            shutil.rmtree(self.data_dir, ignore_errors=True)
        return summary

    # -- timing -----------------------------------------------------------------

    def _gap(self, per_s: float) -> float:
        return self._rng.expovariate(per_s)

    def _gap_or_never(self, mean_s: float) -> float:
        return self._rng.expovariate(1.0 / mean_s) if mean_s > 0 else float("inf")
