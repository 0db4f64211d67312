"""This SDK against Segment's and PostHog's Python clients: same sink, same events, same clock.

The peers (``segment-analytics-python``, ``posthog``) come from the ``bench``
extra (``make bench`` installs it); the SDK never depends on them.

The rules (benchmarks/README.md) and how this module keeps them:

- **Same start and end for every client.** The figure runs from the client's
  first record (``time.monotonic()`` in the client's process) to the moment
  the sink acknowledged the request carrying the last event (``time.monotonic()``
  in the sink's process; one system-wide clock on Linux). The sink counts the
  events it received, so a run that lost an event says so.
- **Constructors, imports and shutdowns** are timed separately for every
  client and printed beside the figure, never inside it.
- **CPU per event** is the client process's ``time.process_time()`` (all its
  threads) from the first record until the client's own flush returned. Each
  client runs in a fresh process of its own per round, so that process holds
  only that client; the sink's CPU is in neither.
- **Interleaved**: the client order rotates every round, and the machine's
  load is printed before each. Each client's figures are the median of
  ``ROUNDS`` rounds; each goal's ratio is taken within a round (the clients
  ran back to back) and its median over the rounds reported.

Settings (the same batch size for all; no client idles while events wait):

- this SDK: its defaults (500 events a batch; ``flush()`` cuts the linger short);
- Segment: ``upload_size=500``; ``upload_interval=0.01`` s, because its
  ``flush()`` only joins the queue and its consumer waits out
  ``upload_interval`` (default 0.5 s) before sending a partial batch;
- PostHog: ``flush_at=500``; ``flush_interval=0.01`` s (its ``flush()`` also
  asks for a partial batch at once; the short interval keeps the two peers alike).

Compression stays at each library's default (none for both peers). The peers
keep events in memory and send plaintext; this SDK commits every event
durably, encrypted at rest, before ``record_sms`` returns, and seals every batch.

Workloads: *phone* (500 distinct numbers) and *fleet* (20,000, cycling, as a
backend team's device-fleet simulation does).
"""

from __future__ import annotations

import multiprocessing
import statistics
import tempfile
import time
from collections.abc import Callable
from multiprocessing.connection import Connection
from pathlib import Path
from typing import Any, Literal

from benchmarks._goals import Goal, machine_load, print_goals
from benchmarks._sink import Sink

ROUNDS = 5  # at least 3 (the rules); 5 because the machine is shared
WORKLOADS = {"phone": (500, 20_000), "fleet": (20_000, 30_000)}  # distinct numbers, events
CLIENTS = ("n2net", "segment", "posthog")
PEER_BATCH = 500
PEER_INTERVAL_S = 0.01

Result = dict[str, Any]
# Issue 25's goals on a ratio of ours to a peer's: (figure, peer) -> (target, op, name).
GOALS: dict[tuple[str, str], tuple[float, Literal["<=", ">="], str]] = {
    ("cpu_us_per_event", "segment"): (0.6, "<=", "CPU per event"),
    ("rate", "segment"): (1.0, ">=", "end-to-end"),
    ("rate", "posthog"): (1.8, ">=", "end-to-end"),
}


def _numbers(distinct: int, events: int) -> list[str]:
    pool = [f"+1201{5550000 + i:07d}" if i < 10_000 else f"+1215{5550000 + i:07d}"
            for i in range(distinct)]
    return [pool[i % distinct] for i in range(events)]  # cycling: the LRU worst case


# -- each client, in a fresh process of its own -------------------------------------
#
# A client is three callables: build (the constructor), record one event, and
# deliver (block until the client says all is sent); plus shutdown.


class _Client:
    record: Callable[[str], object]

    def deliver(self) -> None:
        raise NotImplementedError

    def shutdown(self) -> None:
        raise NotImplementedError


class _SDK(_Client):
    def __init__(self, url: str, events: int, private_raw: bytes, root: Path) -> None:
        from n2net_privacy.egress import Egress, EgressPolicy, Purpose
        from n2net_privacy.testing.file_keystore import FileKeyStore
        from n2net_privacy.uploader import Endpoint, ServerKeyPair, Uploader

        keys = ServerKeyPair.from_private_raw("bench", private_raw)
        egress = Egress(EgressPolicy(
            allowed_hosts={Purpose.N2NET_API: frozenset({"127.0.0.1"})}, test_mode=True
        ))
        self._uploader = Uploader(
            Endpoint(url, "bench-app-key", keys.public), root,
            key_store=FileKeyStore(root / "keys"), egress=egress, region="US",
        )
        self.record = self._uploader.record_sms

    def deliver(self) -> None:
        if not self._uploader.flush(300):
            raise RuntimeError("the SDK did not drain")

    def shutdown(self) -> None:
        self._uploader.close(5)


class _Segment(_Client):
    def __init__(self, url: str, events: int, private_raw: bytes, root: Path) -> None:
        from segment.analytics import Client

        self._client = Client(
            "bench-write-key", host=url, max_queue_size=events + 1, sync_mode=False,
            upload_size=PEER_BATCH, upload_interval=PEER_INTERVAL_S,
        )
        track = self._client.track
        self.record = lambda number: track("device-1", "sms", {"number": number})

    def deliver(self) -> None:
        self._client.flush()

    def shutdown(self) -> None:
        self._client.shutdown()


class _PostHog(_Client):
    def __init__(self, url: str, events: int, private_raw: bytes, root: Path) -> None:
        from posthog import Posthog

        self._client = Posthog(
            "bench-api-key", host=url, max_queue_size=events + 1, sync_mode=False,
            flush_at=PEER_BATCH, flush_interval=PEER_INTERVAL_S, disable_geoip=True,
        )
        capture = self._client.capture
        self.record = lambda number: capture(
            "sms", distinct_id="device-1", properties={"number": number}
        )

    def deliver(self) -> None:
        self._client.flush()

    def shutdown(self) -> None:
        self._client.shutdown()


_BUILDERS: dict[str, type[_Client]] = {"n2net": _SDK, "segment": _Segment, "posthog": _PostHog}
# What each client's constructor needs loaded, names resolved (lazy ones load
# on first access): imported before the constructor's timing starts.
_IMPORTS = {
    "n2net": [("n2net_privacy.uploader", ("Uploader", "ServerKeyPair")),
              ("n2net_privacy.egress", ("Egress",)),
              ("n2net_privacy.testing.file_keystore", ("FileKeyStore",))],
    "segment": [("segment.analytics", ("Client",))],
    "posthog": [("posthog", ("Posthog",))],
}


def _run_client(
    conn: Connection, name: str, url: str, distinct: int, events: int, private_raw: bytes,
    root: str,
) -> None:
    """The child: import, build, record every event, deliver, shut down; each timed apart."""
    import importlib

    numbers = _numbers(distinct, events)
    result: Result = {}
    cpu, wall = time.process_time(), time.perf_counter()
    for module, names in _IMPORTS[name]:
        loaded = importlib.import_module(module)
        for attribute in names:
            getattr(loaded, attribute)
    result["import_s"] = time.perf_counter() - wall
    cpu, wall = time.process_time(), time.perf_counter()
    client = _BUILDERS[name](url, events, private_raw, Path(root))
    result["ctor_s"] = time.perf_counter() - wall
    result["ctor_cpu_s"] = time.process_time() - cpu
    record = client.record
    samples = [0.0] * events
    clock = time.perf_counter
    cpu0 = time.process_time()
    result["first_record"] = time.monotonic()
    for i, number in enumerate(numbers):
        t0 = clock()
        record(number)
        samples[i] = clock() - t0
    result["recorded"] = time.monotonic()
    client.deliver()
    result["delivered"] = time.monotonic()
    result["cpu_s"] = time.process_time() - cpu0
    cpu, wall = time.process_time(), time.perf_counter()
    client.shutdown()
    result["shutdown_s"] = time.perf_counter() - wall
    result["shutdown_cpu_s"] = time.process_time() - cpu
    samples.sort()
    result["record_p99_s"] = samples[int(len(samples) * 0.99)]
    conn.send(result)
    conn.close()


def _measure(sink: Sink, name: str, distinct: int, events: int, private_raw: bytes,
             root: Path) -> Result:
    ctx = multiprocessing.get_context("spawn")
    parent, child = ctx.Pipe()
    start = sink.mark()
    with tempfile.TemporaryDirectory(dir=root) as data_dir:
        proc = ctx.Process(
            target=_run_client,
            args=(child, name, sink.url, distinct, events, private_raw, data_dir),
        )
        proc.start()
        child.close()
        result: Result = parent.recv()
        proc.join(60)
    window = sink.settle(start, events)
    if window.events != events:
        raise RuntimeError(f"{name}: the sink acknowledged {window.events} of {events} events")
    result["e2e_s"] = window.last_ack - result["first_record"]
    result["rate"] = events / result["e2e_s"]
    result["cpu_us_per_event"] = result["cpu_s"] / events * 1e6
    result["wire_per_event"] = window.wire_bytes / events
    result["requests"] = window.requests
    return result


def _row(name: str, r: Result) -> str:
    return (f"{name:8} {r['rate']:9,.0f} events/s  {r['cpu_us_per_event']:6.1f} us CPU/event"
            f"  {r['wire_per_event']:6.1f} wire B/event"
            f"  record p99 {r['record_p99_s'] * 1e6:6.0f} us"
            f"  | import {r['import_s'] * 1e3:5.0f} ms  ctor {r['ctor_s'] * 1e3:5.1f} ms"
            f"  shutdown {r['shutdown_s'] * 1e3:6.1f} ms  ({r['requests']} requests)")


_KEYS = ("rate", "cpu_us_per_event", "wire_per_event", "record_p99_s", "import_s", "ctor_s",
         "shutdown_s", "requests")


def main(rounds: int = ROUNDS, workloads: dict[str, tuple[int, int]] | None = None) -> None:
    from n2net_privacy.uploader import ServerKeyPair

    workloads = workloads or WORKLOADS
    private_raw = ServerKeyPair.generate(key_id="bench").private_bytes
    runs: dict[tuple[str, str], list[Result]] = {}
    print(f"peers: batch {PEER_BATCH} events, Segment upload_interval and PostHog"
          f" flush_interval {PEER_INTERVAL_S} s; each client in a fresh process per run")
    with Sink(private_raw) as sink, tempfile.TemporaryDirectory() as tmp:
        for round_ in range(rounds):
            print(f"round {round_ + 1}/{rounds}: {machine_load()}", flush=True)
            for workload, (distinct, events) in workloads.items():
                order = CLIENTS[round_ % 3 :] + CLIENTS[: round_ % 3]  # interleave
                for name in order:
                    r = _measure(sink, name, distinct, events, private_raw, Path(tmp))
                    runs.setdefault((name, workload), []).append(r)
                    print(f"  {workload:5} {_row(name, r)}", flush=True)

    med: dict[tuple[str, str], Result] = {
        key: {k: statistics.median(r[k] for r in rs) for k in _KEYS} for key, rs in runs.items()
    }
    print(f"\nmedian of {rounds} rounds (end-to-end = first record to the last event"
          " acknowledged at the sink):")
    for workload, (distinct, events) in workloads.items():
        print(f"{workload} ({distinct:,} distinct numbers, {events:,} events):")
        for name in CLIENTS:
            print(f"  {_row(name, med[(name, workload)])}")
        for peer in ("segment", "posthog"):
            pairs = list(zip(runs[("n2net", workload)], runs[(peer, workload)], strict=True))
            rates = " ".join(f"{o['rate'] / t['rate']:.2f}" for o, t in pairs)
            cpus = " ".join(f"{o['cpu_us_per_event'] / t['cpu_us_per_event']:.2f}"
                            for o, t in pairs)
            print(f"  n2net / {peer} per round: end-to-end {rates}; CPU per event {cpus}")

    # A ratio is taken within each round (the clients ran back to back) and
    # its median over rounds reported: load that drifts between rounds cancels.
    how = f"median of {rounds} per-round ratios, interleaved, fresh process per client"

    def ratio(workload: str, peer: str, key: str) -> Goal:
        ours, theirs = runs[("n2net", workload)], runs[(peer, workload)]
        ratios = [o[key] / t[key] for o, t in zip(ours, theirs, strict=True)]
        target, op, what = GOALS[(key, peer)]
        title = {"segment": "Segment", "posthog": "PostHog"}[peer]
        return Goal(f"{what} vs {title} ({workload})", statistics.median(ratios), target, op,
                    "x", f"{how}; rounds ranged {min(ratios):.2f}-{max(ratios):.2f}")

    goals = []
    for workload in workloads:
        if workload == "phone":
            goals.append(ratio(workload, "segment", "cpu_us_per_event"))
        goals += [ratio(workload, "segment", "rate"), ratio(workload, "posthog", "rate")]
        if workload == "phone":
            wire = statistics.median(
                o["wire_per_event"] / min(s["wire_per_event"], p["wire_per_event"])
                for o, s, p in zip(*(runs[(c, workload)] for c in CLIENTS), strict=True)
            )
            goals += [
                Goal("record_sms p99 while draining (phone)",
                     med[("n2net", workload)]["record_p99_s"] * 1e6, 250, "<=", "us",
                     f"median of {rounds} rounds' p99"),
                Goal("wire bytes per event / lowest peer's (phone)", wire, 1.0, "<=", "x", how),
            ]
    print_goals(goals)


if __name__ == "__main__":
    main()
