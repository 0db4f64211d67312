"""audit-har memory: peak RSS is the fixed cost plus at most twice the largest entry.

The real command runs in a child process on a capture of a few thousand small
entries, with and without one large entry; each child reports its own peak
RSS (``ru_maxrss``). RSS is not timing, so a loaded machine does not change it.
"""

from __future__ import annotations

import json
import resource
import subprocess
import sys
from pathlib import Path

import pytest

EMAIL = "memory.person@example.org"
SMALL = 3000
LARGE = 8 * 1024 * 1024
MIB = 1024 * 1024
MARGIN = 5 * MIB
"""What the large entry may cost beyond twice its size: the reader's 1 MiB chunk,
the window being scanned (64 KiB, its decoded layers, folded copies and words)
and the allocator's slack; measured at about 2 MiB. A third copy of the entry
would be 8 MiB more."""
_CHILD = (
    "import resource, sys\n"
    "from n2net_privacy.cli import main\n"
    "print('EXIT', main(sys.argv[1:]))\n"
    "print('PEAK', resource.getrusage(resource.RUSAGE_SELF).ru_maxrss)\n"
)


def _entry(i: int, body: str | None = None) -> bytes:
    request: dict[str, object] = {
        "method": "POST" if body else "GET",
        "url": f"https://api.n2net.com/v1/items/{i}?page={i % 7}",
        "headers": [{"name": "accept", "value": "application/json"}],
        "bodySize": len(body or ""),
    }
    if body:
        request["postData"] = {"mimeType": "text/plain", "text": body}
    return json.dumps({
        "startedDateTime": "2026-11-30T10:00:00.000Z",
        "request": request,
        "response": {"status": 200, "headers": [],
                     "content": {"mimeType": "application/json", "text": f'{{"id": {i}}}'}},
    }).encode()


def _capture(path: Path, large: str | None) -> int:
    """Write the capture (the large entry in the middle); return its largest entry's size."""
    sizes = [0]
    with path.open("wb") as out:
        out.write(b'{"log": {"version": "1.2", "entries": [')
        for i in range(SMALL):
            entry = _entry(i, large if large is not None and i == SMALL // 2 else None)
            sizes.append(len(entry))
            out.write((b"," if i else b"") + entry)
        out.write(b"]}}")
    return max(sizes)


def _peak(tmp: Path, capture: Path, book: Path) -> tuple[int, str]:
    done = subprocess.run(
        [sys.executable, "-c", _CHILD, "audit-har", str(capture), "--contacts", str(book),
         "--out", str(tmp / capture.stem), "-q"],
        capture_output=True, text=True, check=False, timeout=600,
    )
    lines = done.stdout.splitlines()
    peak = [int(line.split()[1]) for line in lines if line.startswith("PEAK")]
    code = [line.split()[1] for line in lines if line.startswith("EXIT")]
    assert peak, done.stderr[-2000:]
    # ru_maxrss is in KiB on Linux, in bytes on macOS.
    return peak[0] * (1 if sys.platform == "darwin" else 1024), code[0]


@pytest.mark.slow
@pytest.mark.skipif(not hasattr(resource, "getrusage"), reason="needs resource.getrusage")
def test_peak_rss_is_the_fixed_cost_plus_twice_the_largest_entry(tmp_path: Path) -> None:
    book = tmp_path / "book.json"
    book.write_text(json.dumps({"contacts": [
        {"id": "m", "display_name": "Memory Person", "emails": [EMAIL]}]}))
    small = tmp_path / "small.har"
    _capture(small, None)
    # One large body of ordinary words, with a leak in the middle that must still be found.
    words = "lorem ipsum dolor sit amet "
    filler = words * (LARGE // len(words) // 2)
    large = tmp_path / "large.har"
    largest = _capture(large, f"{filler} note={EMAIL} {filler}")
    assert largest >= LARGE - MIB

    fixed, fixed_exit = _peak(tmp_path, small, book)
    peak, peak_exit = _peak(tmp_path, large, book)

    assert (fixed_exit, peak_exit) == ("0", "1"), "the leak in the large entry is found"
    assert peak <= fixed + 2 * largest + MARGIN, (
        f"peak RSS {peak / MIB:.1f} MiB > fixed {fixed / MIB:.1f} MiB + 2 x "
        f"{largest / MIB:.1f} MiB + {MARGIN / MIB:.0f} MiB"
    )
