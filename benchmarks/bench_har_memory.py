"""audit-har memory on a capture of many small entries: peak RSS against the largest entry.

Writes a HAR of ``N2NET_BENCH_HAR_ENTRIES`` entries (default 100,000) of
about 400 bytes each, the shape of a long session of small API calls,
with one large entry (``N2NET_BENCH_HAR_LARGEST_MB``, default 8 MiB of
request body) and a leak every 1,000 entries. It runs ``n2net-privacy
audit-har`` in a child process on it, and on a one-entry capture for the
fixed cost (the interpreter and the SDK), and on the same capture without the
large entry, and prints each child's peak RSS (``ru_maxrss``). The claim to
check: the large entry adds at most twice its size plus a small fixed amount
(the reader's chunk and the 64 KiB scan window), whatever the number of entries.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

EMAIL = "bench.person@example.org"


def _entry(i: int, body_bytes: int = 0) -> bytes:
    leak = i % 1000 == 0
    request: dict[str, object] = {
        "method": "POST" if body_bytes else "GET",
        "url": f"https://api.n2net.com/v1/items/{i}?page={i % 7}",
        "headers": [{"name": "accept", "value": "application/json"}],
        "cookies": [],
        "queryString": [],
        "bodySize": body_bytes,
    }
    if body_bytes:
        request["postData"] = {"mimeType": "text/plain", "text": "y" * body_bytes}
    return json.dumps(
        {
            "startedDateTime": "2026-11-30T10:00:00.000Z",
            "request": request,
            "response": {
                "status": 200,
                "headers": [{"name": "content-type", "value": "application/json"}],
                "content": {"mimeType": "application/json",
                            "text": json.dumps({"id": i, "note": EMAIL if leak else "ok"})},
            },
        }
    ).encode()


def write_capture(path: Path, entries: int, largest: int) -> int:
    """Write the capture; return the size in bytes of its largest entry."""
    biggest = 0
    with path.open("wb") as out:
        out.write(b'{"log": {"version": "1.2", "creator": {"name": "bench"}, "entries": [')
        for i in range(entries):
            entry = _entry(i, largest if i == entries // 2 else 0)
            biggest = max(biggest, len(entry))
            out.write((b"," if i else b"") + entry)
        out.write(b"]}}")
    return biggest


def _audit(capture: Path, book: Path, out: Path) -> tuple[float, int, str]:
    """Run audit-har in a fresh child; its wall time, peak RSS (bytes), last line."""
    code = (
        "import resource, sys\n"
        "from n2net_privacy.cli import main\n"
        "try:\n"
        "    main(sys.argv[1:])\n"
        "except SystemExit:\n"
        "    pass\n"
        "print('PEAK', resource.getrusage(resource.RUSAGE_SELF).ru_maxrss)\n"
    )
    started = time.perf_counter()
    result = subprocess.run(
        [sys.executable, "-c", code, "audit-har", str(capture), "--contacts", str(book),
         "--out", str(out), "-q"],
        capture_output=True, text=True, check=False,
    )
    elapsed = time.perf_counter() - started
    lines = result.stdout.strip().splitlines()
    peak = next((int(line.split()[1]) * 1024 for line in lines if line.startswith("PEAK")), 0)
    verdict = next((line for line in reversed(lines) if not line.startswith("PEAK")),
                   result.stderr[-300:])
    return elapsed, peak, verdict


def main() -> None:
    entries = int(os.environ.get("N2NET_BENCH_HAR_ENTRIES", "100000"))
    largest = int(float(os.environ.get("N2NET_BENCH_HAR_LARGEST_MB", "8")) * 1024 * 1024)
    with tempfile.TemporaryDirectory(prefix="bench-har-memory-") as tmp:
        folder = Path(tmp)
        book = folder / "book.json"
        person = {"id": "b", "display_name": "Bench Person", "emails": [EMAIL]}
        book.write_text(json.dumps({"contacts": [person]}))
        one = folder / "one.har"
        write_capture(one, 1, 0)
        _, fixed, _ = _audit(one, book, folder / "one")
        mib = 1024 * 1024
        print(f"fixed cost (a one-entry capture): peak RSS {fixed / mib:.0f} MiB")
        small = folder / "small.har"
        write_capture(small, entries, 0)
        small_time, small_peak, _ = _audit(small, book, folder / "small")
        print(f"{entries} small entries: {small_time:.1f} s, peak RSS {small_peak / mib:.0f} MiB "
              f"= fixed + {(small_peak - fixed) / mib:.0f} MiB (bounded caches)")
        capture = folder / "capture.har"
        biggest = write_capture(capture, entries, largest)
        size = capture.stat().st_size
        elapsed, peak, verdict = _audit(capture, book, folder / "many")
        print(f"capture: {size / mib:.0f} MiB, {entries} entries, largest entry "
              f"{biggest / mib:.1f} MiB")
        extra = peak - small_peak
        print(f"audit-har: {elapsed:.1f} s, peak RSS {peak / mib:.0f} MiB = the same capture "
              f"without the large entry + {extra / mib:.1f} MiB = + {extra / biggest:.2f}x "
              "the largest entry")
        print(verdict)


if __name__ == "__main__":
    main()
