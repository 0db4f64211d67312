"""The Gravatar stand-in's timing figures, moved out of tests/test_gravatar_server.py.

The tests prove the behaviour with barriers and events (concurrent handlers,
close() waking sleeping ones); this reports how long it takes:

- a burst of 16 requests against 0.2 s of latency (served one at a time: 3.2 s);
- close() with a handler asleep in an hour-long Fault.slow;
- close() with a keep-alive connection open.
"""

from __future__ import annotations

import asyncio
import contextlib
import threading
import time

import httpx

from n2net_privacy.testing import Fault, GravatarStandIn

HASHES = [f"{i:032x}" for i in range(16)]
LATENCY = 0.2


async def _burst(base: str) -> float:
    async with httpx.AsyncClient(timeout=60) as client:
        started = time.perf_counter()
        await asyncio.gather(*(client.get(f"{base}{h}?d=404") for h in HASHES))
        return time.perf_counter() - started


def _close_with_sleeping_handler() -> float:
    server = GravatarStandIn(avatars=HASHES[:1]).start()
    server.inject(Fault.slow(3600.0))
    client = httpx.Client(timeout=0.2)
    with contextlib.suppress(httpx.ReadTimeout):
        client.get(f"{server.base_url}{HASHES[0]}?d=404")
    started = time.perf_counter()
    server.close()
    client.close()
    return time.perf_counter() - started


def _close_with_keepalive() -> float:
    server = GravatarStandIn(avatars=HASHES[:1]).start()
    with httpx.Client() as client:
        client.get(f"{server.base_url}{HASHES[0]}?d=404")
        started = time.perf_counter()
        server.close()
        return time.perf_counter() - started


def main() -> None:
    with GravatarStandIn(avatars=HASHES, latency=LATENCY) as server:
        burst = asyncio.run(_burst(server.base_url))
    serial = LATENCY * len(HASHES)
    print(f"burst of {len(HASHES)} at {LATENCY * 1000:.0f} ms latency: {burst:.2f} s "
          f"(one at a time: {serial:.1f} s)")
    print(f"close() with a handler in Fault.slow(3600): {_close_with_sleeping_handler():.3f} s")
    print(f"close() with a keep-alive connection open: {_close_with_keepalive():.3f} s")
    left = sum(t.name.startswith("gravatar-stand-in") for t in threading.enumerate())
    print(f"stand-in threads left: {left}")


if __name__ == "__main__":
    main()
