"""The fleet's device (the core of the Locust kit), driven in-process with a fake clock.

No Locust here: importing it would monkey-patch this whole process with
gevent. tests/test_locust.py runs the real tool in child processes.
"""

from __future__ import annotations

import base64
import contextlib
import json
import random
from collections import Counter
from collections.abc import Iterator
from pathlib import Path

import pytest
from _support import FakeClock

from n2net_privacy.errors import ConfigurationError
from n2net_privacy.testing import IngestServer
from n2net_privacy.testing.load.fleet import Device, DeviceConfig, Plan, Scenario, parse_server_keys
from n2net_privacy.uploader import ServerKeyPair
from n2net_privacy.uploader.send.sender import SenderConfig
from n2net_privacy.uploader.wire import decode_batch
from n2net_privacy.uploader.wire.seal import open_sealed

APP_KEY = "app-key-fleet"
K1 = ServerKeyPair.generate(key_id="k1")
K2 = ServerKeyPair.generate(key_id="k2")


class Metrics:
    def __init__(self) -> None:
        self.batches: list[tuple[float, int, str | None]] = []
        self.counts: Counter[str] = Counter()
        self.failures: Counter[str] = Counter()

    def batch(self, response_time_ms: float, request_bytes: int, failure: str | None) -> None:
        self.batches.append((response_time_ms, request_bytes, failure))

    def events(self, name: str, count: int, failure: str | None = None) -> None:
        self.counts[name] += count
        if failure is not None:
            self.failures[f"{name}: {failure}"] += count


@pytest.fixture
def server() -> Iterator[IngestServer]:
    with IngestServer([K1, K2], app_key=APP_KEY) as srv:
        yield srv


def make_device(
    server: IngestServer,
    tmp_path: Path,
    clock: FakeClock,
    metrics: Metrics,
    *,
    plan: Plan | None = None,
    seed: int = 1,
    **overrides: object,
) -> Device:
    settings: dict[str, object] = {
        "target": server.url, "app_key": APP_KEY, "server_keys": (K1.public,),
        "events_per_s": 20.0, "sender": SenderConfig(batch_max_events=10, linger_s=0.5),
        "drain_s": 5.0,
    }
    settings.update(overrides)
    return Device(
        DeviceConfig(**settings),  # type: ignore[arg-type]
        metrics, plan=plan, data_root=tmp_path, started_at=clock.now, monotonic=clock,
        sleep=clock.sleep, rng=random.Random(seed),
    )


def run(device: Device, clock: FakeClock, seconds: float) -> None:
    """Tick the device as Locust would, for ``seconds`` of fake time."""
    end = clock.now + seconds
    while clock.now < end:
        clock.sleep(max(device.tick(), 0.001))


def batch_ids(server: IngestServer) -> list[set[str]]:
    """The event ids in each request the server answered 200, opened with the server keys."""
    pairs = {K1.key_id: K1, K2.key_id: K2}
    batches = []
    for request in server.requests():
        if request.status == 200:
            pair = pairs[request.headers["n2net-key-id"]]
            plaintext = open_sealed(request.body, pair.private_key)
            batches.append({str(event.id) for event in decode_batch(plaintext).events})
    return batches


def test_each_device_sends_only_its_own_events_and_loses_none(
    server: IngestServer, tmp_path: Path
) -> None:
    clock, metrics = FakeClock(1000.0), Metrics()
    devices = [make_device(server, tmp_path, clock, metrics, seed=s) for s in (1, 2)]
    end = clock.now + 3.0
    while clock.now < end:
        clock.sleep(max(min(device.tick() for device in devices), 0.001))
    summaries = [device.stop() for device in devices]

    recorded = [set(s["recorded"]) for s in summaries]  # type: ignore[call-overload]
    assert all(len(ids) > 20 for ids in recorded)
    stored = {str(event.id) for event in server.events()}
    assert stored == recorded[0] | recorded[1]
    for summary, ids in zip(summaries, recorded, strict=True):
        assert summary["delivered"] == len(ids) and summary["pending"] == 0
    for batch in batch_ids(server):
        assert len(batch) <= 10
        assert batch <= recorded[0] or batch <= recorded[1]  # never two devices in one batch
    assert metrics.counts["recorded"] == metrics.counts["delivered"] == len(stored)
    assert len(metrics.batches) == len(server.requests())
    assert all(failure is None and size > 0 for _, size, failure in metrics.batches)


def test_a_batch_waits_for_its_linger_then_goes(server: IngestServer, tmp_path: Path) -> None:
    clock, metrics = FakeClock(1000.0), Metrics()
    device = make_device(server, tmp_path, clock, metrics, events_per_s=1.0,
                         sender=SenderConfig(batch_max_events=500, linger_s=1.0))
    while metrics.counts["recorded"] == 0:
        first = clock.now  # the time of the tick that records the first event
        clock.sleep(max(device.tick(), 0.001))
    while clock.now < first + 0.99:
        clock.sleep(max(device.tick(), 0.001))
        assert server.count() == 0, "cut before linger_s"
    run(device, clock, 0.1)
    assert server.count() >= 1
    device.stop()


def test_reconnect_storm_sends_nothing_offline_and_everything_at_once_after(
    server: IngestServer, tmp_path: Path
) -> None:
    clock, metrics = FakeClock(1000.0), Metrics()
    plan = Plan(Scenario.RECONNECT_STORM, outage_at=1.0, outage_s=2.0)
    device = make_device(server, tmp_path, clock, metrics, plan=plan)
    run(device, clock, 1.2)
    requests_before = len(server.requests())
    run(device, clock, 1.7)  # to 2.9 s: offline all along
    assert len(server.requests()) == requests_before
    assert metrics.counts["retried"] > 0  # the sender kept trying and backed off
    waiting = device.uploader.pending().events
    assert waiting > 20
    run(device, clock, 0.2)  # back online at 3.0 s: the backlog goes at once
    assert len(server.requests()) > requests_before
    summary = device.stop()
    assert summary["outages"] == 1 and summary["pending"] == 0
    assert summary["delivered"] == server.count() == len(summary["recorded"])  # type: ignore[arg-type]


def test_restarts_keep_every_event(server: IngestServer, tmp_path: Path) -> None:
    clock, metrics = FakeClock(1000.0), Metrics()
    device = make_device(server, tmp_path, clock, metrics, restart_every_s=0.3)
    data_dir = device.data_dir
    run(device, clock, 3.0)
    summary = device.stop()
    assert int(summary["restarts"]) >= 3  # type: ignore[call-overload]
    assert {str(e.id) for e in server.events()} == set(summary["recorded"])  # type: ignore[call-overload]
    assert summary["delivered"] == server.count()
    assert not data_dir.exists()


def test_key_rotation_moves_every_later_batch_to_the_new_key(
    server: IngestServer, tmp_path: Path
) -> None:
    clock, metrics = FakeClock(1000.0), Metrics()
    plan = Plan(Scenario.KEY_ROTATION, rotate_at=1.5, rotate_window_s=0.0,
                rotate_keys=(K2.public,))
    device = make_device(server, tmp_path, clock, metrics, plan=plan)
    run(device, clock, 3.0)
    summary = device.stop()
    key_ids = [r.headers["n2net-key-id"] for r in server.requests()]
    switch = key_ids.index("k2")
    assert switch > 0 and set(key_ids[:switch]) == {"k1"} and set(key_ids[switch:]) == {"k2"}
    assert summary["delivered"] == server.count() == len(summary["recorded"])  # type: ignore[arg-type]


def test_failures_show_as_failed_batches_retries_and_dead_letters(
    server: IngestServer, tmp_path: Path
) -> None:
    clock, metrics = FakeClock(1000.0), Metrics()
    device = make_device(server, tmp_path, clock, metrics)
    server.fail_next(1, status=503)
    run(device, clock, 1.0)
    server.fail_next(1, status=422)
    run(device, clock, 1.0)
    summary = device.stop()
    failures = Counter(f for _, _, f in metrics.batches if f is not None)
    assert failures == {"HTTP 503": 1, "HTTP 422": 1}
    assert metrics.counts["retried"] > 0
    dead = int(summary["dead_lettered"])  # type: ignore[call-overload]
    assert dead > 0 and metrics.failures == {"dead-lettered: http 422 unprocessable content": dead}
    assert int(summary["delivered"]) + dead == len(summary["recorded"])  # type: ignore[arg-type, call-overload]
    assert server.count() == summary["delivered"]


def test_the_summary_carries_ids_and_counts_never_a_number(
    server: IngestServer, tmp_path: Path
) -> None:
    clock, metrics = FakeClock(1000.0), Metrics()
    device = make_device(server, tmp_path, clock, metrics)
    run(device, clock, 1.0)
    device.stop(tmp_path / "results")
    (written,) = (tmp_path / "results").glob("*.json")
    text = written.read_text()
    assert json.loads(text)["device"] == device.device_id
    stored = {e.number for e in server.events()}
    assert stored and "+" not in text
    assert not any(number.lstrip("+") in text for number in stored)


def test_server_keys_are_read_from_ids_and_base64() -> None:
    text = ",".join(f"{p.key_id}={base64.b64encode(p.public_bytes).decode()}" for p in (K1, K2))
    keys = parse_server_keys(text)
    assert [k.key_id for k in keys] == ["k1", "k2"]
    assert keys[0] == K1.public
    for bad in ("k1", "k1=not base64!", "k1=" + base64.b64encode(b"short").decode()):
        with pytest.raises(ConfigurationError):
            parse_server_keys(bad)


def test_server_keys_are_read_from_the_pem_files_keygen_prints(tmp_path: Path) -> None:
    from n2net_privacy.cli import main

    pem = tmp_path / "k9.pub.pem"
    with pem.open("w") as out, contextlib.redirect_stdout(out):
        assert main(["keygen", "--kem", "x25519", "--key-id", "k9",
                     "--out", str(tmp_path / "k9.key")]) == 0
    server_pair = ServerKeyPair.from_private_raw("k9", (tmp_path / "k9.key").read_bytes())
    k1 = base64.b64encode(K1.public_bytes).decode()
    keys = parse_server_keys(f"k9=@{pem},k1={k1}")
    assert keys == (server_pair.public, K1.public)
    with pytest.raises(ConfigurationError, match="cannot read"):
        parse_server_keys(f"k9=@{tmp_path / 'missing.pem'}")
    with pytest.raises(ConfigurationError):
        parse_server_keys(f"k9=@{tmp_path / 'k9.key'}")  # the private file is not a PEM


def test_a_plan_or_config_that_cannot_run_is_refused_at_once(
    server: IngestServer,
) -> None:
    with pytest.raises(ConfigurationError, match="rotate to"):
        Plan(Scenario.KEY_ROTATION)
    with pytest.raises(ConfigurationError):
        DeviceConfig(server.url, APP_KEY, ())
    with pytest.raises(ConfigurationError):
        DeviceConfig(server.url, APP_KEY, (K1.public,), events_per_s=0)


class CountingDevice(Device):
    """A device that counts its ticks and its reads of the queue."""

    ticks = 0
    reads = 0

    def tick(self) -> float:
        self.ticks += 1
        return super().tick()

    def _send(self, now: float, *, drain: bool) -> float | None:
        self.reads += 1
        return super()._send(now, drain=drain)


def test_an_idle_device_sleeps_until_its_next_event(
    server: IngestServer, tmp_path: Path
) -> None:
    # 0.1 events/s for 600 s of fake time: about 60 events, each a one-event batch
    # after its 1 s linger. Waking only when something is due, the device ticks a
    # few times per event (record, cut and send, see the queue empty), not every
    # half second (1,200 ticks) as it did.
    clock, metrics = FakeClock(1000.0), Metrics()
    device = CountingDevice(
        DeviceConfig(server.url, APP_KEY, (K1.public,), events_per_s=0.1),
        metrics, data_root=tmp_path, started_at=clock.now, monotonic=clock, sleep=clock.sleep,
        rng=random.Random(7),
    )
    waits = []
    end = clock.now + 600.0
    while clock.now < end:
        waits.append(device.tick())
        clock.sleep(waits[-1])
    summary = device.stop()
    events = len(summary["recorded"])  # type: ignore[arg-type]
    assert 30 < events < 100
    assert summary["delivered"] == events == server.count()
    assert device.ticks <= 3 * events + 2
    assert device.reads <= 2 * events + 2
    assert max(waits) > 5.0  # it slept through the gaps between events


def test_with_nothing_due_at_all_a_device_waits_the_longest_bound(
    server: IngestServer, tmp_path: Path
) -> None:
    # Recording over, queue empty: no event, retry, restart or outage is due.
    clock, metrics = FakeClock(1000.0), Metrics()
    device = make_device(server, tmp_path, clock, metrics, plan=Plan(record_until=0.0))
    # The first tick looks at the queue, as an app's start does; the next, at the
    # first event's time, finds recording over.
    clock.sleep(device.tick())
    assert [device.tick(), device.tick()] == [60.0, 60.0]
    assert device.uploader.pending().events == 0 and metrics.counts["recorded"] == 0
    device.stop()


def test_a_device_wakes_at_the_storm_edges_without_polling(
    server: IngestServer, tmp_path: Path
) -> None:
    # Recording at one event per 1,000 s, the device still wakes when the storm
    # starts and when it ends, and counts the outage.
    clock, metrics = FakeClock(1000.0), Metrics()
    plan = Plan(Scenario.RECONNECT_STORM, outage_at=10.0, outage_s=20.0)
    device = CountingDevice(
        DeviceConfig(server.url, APP_KEY, (K1.public,), events_per_s=0.001),
        metrics, plan=plan, data_root=tmp_path, started_at=clock.now, monotonic=clock,
        sleep=clock.sleep, rng=random.Random(3),
    )
    start = clock.now
    wakes = []
    while clock.now < start + 40.0:
        clock.sleep(device.tick())
        wakes.append(round(clock.now - start, 6))
    assert 10.0 in wakes and 30.0 in wakes
    assert device.counts["outages"] == 1
    assert device.ticks <= 6
    device.stop()
