"""The egress door's own cost per request, with no network underneath.

One sealed-upload-shaped POST (the uploader's four v1 headers, a 40 KB body:
about a 500-event batch) and one Gravatar GET go through a real
:class:`Egress` to an in-memory transport, so what is timed is httpx's
client plus the door: policy, header rules, scrubbing and the audit log.
Reported as the best of several rounds, in microseconds per request.

The uploader benchmark sends one such POST per 500 events, so the door's
share of its time is this figure times (events / 500).
"""

from __future__ import annotations

import time
from collections.abc import Callable

import httpx

from n2net_privacy.egress import Egress, Purpose

REQUESTS = 2_000
ROUNDS = 7
BODY = b"\x17" * 40_000
HEADERS = {
    "Content-Type": "application/n2net-sealed",
    "Authorization": "Bearer bench-app-key",
    "Idempotency-Key": "0b7c8e0e-7f6e-4c55-9d0b-6a1f2f0d1c3e",
    "N2Net-Key-Id": "bench",
}


def _best_us(send: Callable[[], object]) -> float:
    samples = []
    for _ in range(ROUNDS):
        started = time.perf_counter()
        for _ in range(REQUESTS):
            send()
        samples.append((time.perf_counter() - started) / REQUESTS * 1e6)
    return min(samples)


def main() -> None:
    egress = Egress(transport=httpx.MockTransport(lambda r: httpx.Response(200, content=b"{}")))
    api, gravatar = egress.client(Purpose.N2NET_API), egress.client(Purpose.GRAVATAR)
    try:
        post = _best_us(lambda: api.request(
            "POST", "https://api.n2net.com/v1/events", headers=HEADERS, content=BODY
        ))
        get = _best_us(lambda: gravatar.request("GET", "https://gravatar.com/avatar/abc?s=80"))
    finally:
        api.close()
        gravatar.close()
    print(f"sealed POST through the door: {post:7.1f} us/request")
    print(f"Gravatar GET through the door: {get:7.1f} us/request")
    print(f"per 100,000 uploaded events (200 POSTs): {post * 200 / 1000:.1f} ms")


if __name__ == "__main__":
    main()
