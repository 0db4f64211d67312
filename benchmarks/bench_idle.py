"""SDK thread wakeups while idle: nothing queued, no retry scheduled. Goal: 0.

Measured by the OS, not by the SDK: each client runs in a fresh process of
its own against the loopback sink (benchmarks/_sink.py), records a few
events, delivers them (every reply is 200, so no retry is scheduled) and
settles for ``SETTLE_S``. The client's threads are the ones its process did
not have before the client was built. Over ``IDLE_S`` seconds the benchmark
reads each of those threads' ``voluntary_ctxt_switches`` in
``/proc/self/task/<tid>/status``: a thread that blocks again after waking
counts one. A thread that starts during the window counts its own switches.

Segment and PostHog run beside it, with their default settings (what an app
gets), for comparison. Linux only (``/proc``).
"""

from __future__ import annotations

import multiprocessing
import os
import tempfile
import threading
import time
from multiprocessing.connection import Connection
from pathlib import Path
from typing import Any

from benchmarks._goals import Goal, machine_load, print_goals
from benchmarks._sink import Sink

IDLE_S = 20.0
SETTLE_S = 1.0
EVENTS = 20
CLIENTS = ("n2net", "segment", "posthog")


def task_ids() -> set[int]:
    return {int(tid) for tid in os.listdir("/proc/self/task")}


def context_switches(tid: int) -> tuple[int, int]:
    """(voluntary, involuntary) context switches of one thread of this process; 0s if gone."""
    voluntary = involuntary = 0
    try:
        with open(f"/proc/self/task/{tid}/status") as status:
            for line in status:
                if line.startswith("voluntary_ctxt_switches:"):
                    voluntary = int(line.split()[1])
                elif line.startswith("nonvoluntary_ctxt_switches:"):
                    involuntary = int(line.split()[1])
    except FileNotFoundError:
        pass
    return voluntary, involuntary


def snapshot(tids: set[int]) -> dict[int, tuple[int, int]]:
    """Each thread's (voluntary, involuntary) context switches now."""
    return {tid: context_switches(tid) for tid in tids}


def wakeups(
    start: dict[int, tuple[int, int]], end: dict[int, tuple[int, int]]
) -> dict[int, tuple[int, int]]:
    """Switches between two snapshots; a thread absent from ``start`` counts from 0."""
    return {
        tid: (v1 - start.get(tid, (0, 0))[0], i1 - start.get(tid, (0, 0))[1])
        for tid, (v1, i1) in end.items()
    }


def count_wakeups(before: set[int], seconds: float) -> dict[str, tuple[int, int]]:
    """Each thread not in ``before``: (voluntary, involuntary) switches over ``seconds``."""
    start = snapshot(task_ids() - before)
    time.sleep(seconds)
    counts = wakeups(start, snapshot(task_ids() - before))
    names = {t.native_id: t.name for t in threading.enumerate()}
    return {f"{names.get(tid, '?')}[{tid}]": switches for tid, switches in counts.items()}


def _build(name: str, url: str, private_raw: bytes, root: Path) -> tuple[Any, Any, Any]:
    """(record, deliver, shutdown) of one client at its default settings."""
    if name == "n2net":
        from n2net_privacy.egress import Egress, EgressPolicy, Purpose
        from n2net_privacy.testing.file_keystore import FileKeyStore
        from n2net_privacy.uploader import Endpoint, ServerKeyPair, Uploader

        keys = ServerKeyPair.from_private_raw("bench", private_raw)
        egress = Egress(EgressPolicy(
            allowed_hosts={Purpose.N2NET_API: frozenset({"127.0.0.1"})}, test_mode=True
        ))
        uploader = Uploader(Endpoint(url, "bench-app-key", keys.public), root,
                            key_store=FileKeyStore(root / "keys"), egress=egress, region="US")

        def deliver() -> None:
            if not uploader.flush(60):
                raise RuntimeError("the SDK did not drain")

        return uploader.record_sms, deliver, lambda: uploader.close(5)
    if name == "segment":
        from segment.analytics import Client

        segment = Client("bench-write-key", host=url)
        return (lambda n: segment.track("device-1", "sms", {"number": n}), segment.flush,
                segment.shutdown)
    from posthog import Posthog

    posthog = Posthog("bench-api-key", host=url, disable_geoip=True)
    return (lambda n: posthog.capture("sms", distinct_id="device-1", properties={"number": n}),
            posthog.flush, posthog.shutdown)


def _run_client(conn: Connection, name: str, url: str, private_raw: bytes, root: str,
                idle_s: float, settle_s: float) -> None:
    before = task_ids()
    record, deliver, shutdown = _build(name, url, private_raw, Path(root))
    for i in range(EVENTS):
        record(f"+1201555{i:04d}")
    deliver()
    time.sleep(settle_s)
    counts = count_wakeups(before, idle_s)
    shutdown()
    conn.send(counts)
    conn.close()


def measure(idle_s: float = IDLE_S, settle_s: float = SETTLE_S,
            clients: tuple[str, ...] = CLIENTS) -> dict[str, dict[str, tuple[int, int]]]:
    """Every client idle side by side, each in its own process: its threads' switches."""
    from n2net_privacy.uploader import ServerKeyPair

    private_raw = ServerKeyPair.generate(key_id="bench").private_bytes
    ctx = multiprocessing.get_context("spawn")
    with Sink(private_raw) as sink, tempfile.TemporaryDirectory() as tmp:
        start = sink.mark()
        running = []
        for name in clients:
            parent, child = ctx.Pipe()
            data_dir = Path(tmp) / name
            data_dir.mkdir()
            proc = ctx.Process(target=_run_client, args=(
                child, name, sink.url, private_raw, str(data_dir), idle_s, settle_s))
            proc.start()
            child.close()
            running.append((name, parent, proc))
        results = {}
        for name, parent, proc in running:
            results[name] = parent.recv()
            proc.join(30)
        window = sink.settle(start, EVENTS * len(clients))
        if window.events != EVENTS * len(clients):
            raise RuntimeError(f"the sink acknowledged {window.events} events, not"
                               f" {EVENTS * len(clients)}")
    return results


def main(idle_s: float = IDLE_S) -> None:
    print(machine_load(), flush=True)
    results = measure(idle_s)
    for name, counts in results.items():
        voluntary = sum(v for v, _ in counts.values())
        threads = ", ".join(f"{thread} {v}+{i}" for thread, (v, i) in sorted(counts.items()))
        print(f"  {name:8} {voluntary:4d} wakeups in {idle_s:g} s idle"
              f" ({voluntary / idle_s * 60:6.1f}/min); threads (voluntary+involuntary):"
              f" {threads or 'none'}")
    ours = sum(v for v, _ in results["n2net"].values())
    print_goals([Goal("SDK thread wakeups while idle", ours, 0, "<=", "wakeups",
                      f"over {idle_s:g} s idle: voluntary context switches of the SDK's"
                      " threads, from /proc")])


if __name__ == "__main__":
    main()
