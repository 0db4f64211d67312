"""Gravatar fetch_many against the loopback stand-in.

1,000 contacts sharing 600 unique emails (typed in mixed case, with stray
spaces), half of which have an avatar; the stand-in answers each request
after 20 ms; concurrency 16. The ideal wall time is 600 / 16 x 20 ms = 750 ms
and the target is at most 1.5x that. A second pass must make 0 requests.

The stand-in runs in a child process, as the real Gravatar is not in the
app's process: in-process, its handler threads would share the GIL with the
SDK and the figure would measure the stand-in as much as the fetcher. The
CPU time of the SDK's process is printed too: when it is close to the wall
time, the run was CPU-bound (httpx/httpcore per-request work), not waiting.
"""

from __future__ import annotations

import asyncio
import multiprocessing
import statistics
import time
from multiprocessing.connection import Connection

from benchmarks._goals import Goal, print_goals
from n2net_privacy.egress import Egress, EgressPolicy, Purpose
from n2net_privacy.gravatar import GravatarConfig, GravatarFetcher, gravatar_hash
from n2net_privacy.settings import Settings
from n2net_privacy.testing import GravatarStandIn

CONTACTS = 1000
UNIQUE = 600
LATENCY = 0.020
CONCURRENCY = 16
ROUNDS = 5
TARGET = 1.5


def _book() -> tuple[list[list[str]], list[str]]:
    emails = [f"member.{i:04d}@example.com" for i in range(UNIQUE)]
    contacts = []
    for i in range(CONTACTS):
        email = emails[i % UNIQUE]
        typed = email.upper() if i % 3 == 0 else email
        contacts.append([f"  {typed} " if i % 2 else typed])
    return contacts, emails


def _serve(avatars: list[str], latency: float, conn: Connection) -> None:
    """The child process: run the stand-in and answer 'count' / 'reset' / 'stop'."""
    with GravatarStandIn(avatars=avatars, latency=latency) as server:
        conn.send(server.base_url)
        while (command := conn.recv()) != "stop":
            if command == "count":
                conn.send(server.request_count)
            elif command == "reset":
                server.reset()
                conn.send(None)


def _ask(conn: Connection, command: str) -> object:
    conn.send(command)
    return conn.recv()


def main() -> None:
    contacts, emails = _book()
    with_avatar = [gravatar_hash(e) for e in emails[: UNIQUE // 2]]
    policy = EgressPolicy(allowed_hosts={Purpose.GRAVATAR: frozenset({"127.0.0.1"})},
                          test_mode=True)
    settings = Settings()
    settings.gravatar_enabled = True
    ideal = UNIQUE / CONCURRENCY * LATENCY

    context = multiprocessing.get_context("spawn")
    parent, child = context.Pipe()
    process = context.Process(target=_serve, args=(with_avatar, LATENCY, child), daemon=True)
    process.start()
    base_url = parent.recv()
    config = GravatarConfig(base_url=base_url, concurrency=CONCURRENCY)
    walls: list[float] = []
    cpus: list[float] = []
    try:
        for _ in range(ROUNDS):
            fetcher = GravatarFetcher(settings, Egress(policy), config)  # cold cache
            _ask(parent, "reset")
            cpu, started = time.process_time(), time.perf_counter()
            results = asyncio.run(fetcher.fetch_many(contacts))
            walls.append(time.perf_counter() - started)
            cpus.append(time.process_time() - cpu)
            first_requests = _ask(parent, "count")
            found = sum(r.found for r in results)

            _ask(parent, "reset")
            started = time.perf_counter()
            again = asyncio.run(fetcher.fetch_many(contacts))
            warm = time.perf_counter() - started
            second_requests = _ask(parent, "count")
            fetcher.close()
            assert again == results
    finally:
        parent.send("stop")
        process.join(timeout=10)

    median = statistics.median(walls)
    print(f"contacts={CONTACTS} unique_emails={UNIQUE} with_avatar={len(with_avatar)} "
          f"latency={LATENCY * 1000:.0f}ms concurrency={CONCURRENCY} rounds={ROUNDS}")
    print(f"first pass:  requests={first_requests} contacts_with_avatar={found}/{CONTACTS} "
          f"wall median={median:.3f}s best={min(walls):.3f}s "
          f"(SDK process CPU median={statistics.median(cpus):.3f}s)")
    print(f"ideal {UNIQUE}/{CONCURRENCY} x {LATENCY * 1000:.0f} ms = {ideal:.3f}s; "
          f"median {median / ideal:.2f}x, best {min(walls) / ideal:.2f}x ideal "
          f"(target <= {TARGET}x: {'met' if median <= TARGET * ideal else 'MISSED'})")
    print(f"second pass: requests={second_requests} wall={warm * 1000:.1f}ms "
          f"({'met' if second_requests == 0 else 'MISSED'}: 0 requests)")
    print_goals([Goal(
        "Gravatar CPU per request", statistics.median(cpus) / first_requests * 1000, 0.5, "<=",
        "ms", f"SDK process CPU, all threads, cold cache, median of {ROUNDS} rounds of "
        f"{first_requests} requests; the stand-in runs in its own process",
    )])


if __name__ == "__main__":
    main()
