"""audit-har on a large synthetic capture: throughput and peak memory.

Writes a HAR of about ``N2NET_BENCH_HAR_MB`` MB (default 200) in the shape
Chrome exports, with a leak every 500 entries, then runs
``n2net-privacy audit-har`` on it in a child process and reports its wall
time, throughput and peak resident memory (``ru_maxrss`` of the child). The
figure to compare is peak RSS against the file size: a reader that loaded
the capture would need more than the file.
"""

from __future__ import annotations

import base64
import json
import os
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

EMAIL = "bench.person@example.org"


def _entry(i: int) -> bytes:
    leak = i % 500 == 0
    body = json.dumps({"n": i, "note": EMAIL if leak else "nothing to see", "pad": "x" * 2000})
    image = base64.b64encode(os.urandom(9000)).decode()
    return json.dumps(
        {
            "startedDateTime": "2026-11-30T10:00:00.000Z",
            "_resourceType": "fetch",
            "request": {
                "method": "POST",
                "url": f"https://api.n2net.com/v1/items/{i}?page={i % 7}",
                "headers": [{"name": "content-type", "value": "application/json"}],
                "cookies": [],
                "queryString": [],
                "postData": {"mimeType": "application/json", "text": body},
            },
            "response": {
                "status": 200,
                "headers": [],
                "content": {"mimeType": "image/png", "text": image, "encoding": "base64"},
            },
        }
    ).encode()


def write_capture(path: Path, megabytes: int) -> int:
    target = megabytes * 1024 * 1024
    count = 0
    with path.open("wb") as out:
        out.write(b'{"log": {"version": "1.2", "creator": {"name": "bench"}, "entries": [')
        written = 0
        while written < target:
            chunk = (b"," if count else b"") + _entry(count)
            out.write(chunk)
            written += len(chunk)
            count += 1
        out.write(b"]}}")
    return count


def main() -> None:
    megabytes = int(os.environ.get("N2NET_BENCH_HAR_MB", "200"))
    with tempfile.TemporaryDirectory(prefix="bench-har-") as tmp:
        folder = Path(tmp)
        capture, book = folder / "capture.har", folder / "book.json"
        count = write_capture(capture, megabytes)
        person = {"id": "b", "display_name": "Bench Person", "emails": [EMAIL]}
        book.write_text(json.dumps({"contacts": [person]}))
        size = capture.stat().st_size
        started = time.perf_counter()
        result = subprocess.run(
            [
                sys.executable, "-m", "n2net_privacy.cli", "audit-har", str(capture),
                "--contacts", str(book), "--out", str(folder), "-q",
            ],
            capture_output=True,
            text=True,
            check=False,
        )
        elapsed = time.perf_counter() - started
        peak_kib = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
        print(f"capture: {size / 1e6:.0f} MB, {count} entries, exit code {result.returncode}")
        print(f"audit-har: {elapsed:.1f} s, {size / 1e6 / elapsed:.1f} MB/s")
        ratio = peak_kib * 1024 / size
        print(f"peak RSS of the child: {peak_kib / 1024:.0f} MiB ({ratio:.2f}x the file)")
        lines = result.stdout.strip().splitlines()
        print(lines[-1] if lines else result.stderr[-500:])
