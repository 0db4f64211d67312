"""What ``import n2net_privacy`` costs next to importing its four runtime deps.

Target (issue 2): at most 20% more than ``import cryptography, httpx,
phonenumbers, pydantic``. Each import runs in a fresh interpreter; the cost
of starting a bare interpreter is subtracted from both, and runs are
interleaved so that machine noise hits both sides alike. ``-X importtime``
gives a second, in-process measure that ignores interpreter start-up.

``python -m benchmarks import``
"""

from __future__ import annotations

import statistics
import subprocess
import sys
import time

RUNS = 15
TARGET_RATIO = 1.20
DEPS = "import cryptography, httpx, phonenumbers, pydantic"
SDK = "import n2net_privacy"
# One subpackage on its own, to see where the SDK's share goes.
CONTACTS = "import n2net_privacy.contacts"
# Every public name resolved: what an app pays once it uses the whole SDK.
EVERYTHING = "import n2net_privacy as n; [getattr(n, x) for x in n.__all__]"


def _wall_seconds(code: str) -> float:
    started = time.perf_counter()
    subprocess.run([sys.executable, "-c", code], check=True)
    return time.perf_counter() - started


def _importtime_us(code: str) -> int:
    """Total cumulative microseconds of the top-level imports ``code`` triggers."""
    result = subprocess.run(
        [sys.executable, "-X", "importtime", "-c", code],
        check=True,
        capture_output=True,
        text=True,
    )
    total = 0
    for line in result.stderr.splitlines():
        # "import time:  self [us] | cumulative | imported package"
        if not line.startswith("import time:") or "cumulative" in line:
            continue
        _, cumulative, name = line[len("import time:") :].split("|", 2)
        if not name.startswith("  "):  # one space of padding: a top-level import
            total += int(cumulative)
    return total


def main() -> None:
    bare, deps, sdk, contacts, everything = [], [], [], [], []
    for _ in range(RUNS):
        bare.append(_wall_seconds("pass"))
        deps.append(_wall_seconds(DEPS))
        sdk.append(_wall_seconds(SDK))
        contacts.append(_wall_seconds(CONTACTS))
        everything.append(_wall_seconds(EVERYTHING))
    bare_ms = statistics.median(bare) * 1000
    deps_ms = statistics.median(deps) * 1000 - bare_ms
    sdk_ms = statistics.median(sdk) * 1000 - bare_ms
    contacts_ms = statistics.median(contacts) * 1000 - bare_ms
    print(f"bare interpreter start-up (median of {RUNS})      {bare_ms:8.1f} ms")
    print(f"four runtime deps, minus start-up                 {deps_ms:8.1f} ms")
    print(f"import n2net_privacy, minus start-up              {sdk_ms:8.1f} ms")
    print(f"import n2net_privacy.contacts (pulls pydantic)    {contacts_ms:8.1f} ms")
    everything_ms = statistics.median(everything) * 1000 - bare_ms
    print(
        f"every public name resolved, minus start-up        {everything_ms:8.1f} ms"
        f"   (ratio {everything_ms / deps_ms:.2f}; lazy loading defers this to first use)"
    )
    ratio = sdk_ms / deps_ms
    verdict = "ok" if ratio <= TARGET_RATIO else "MISSED"
    print(
        f"ratio (wall clock)                                {ratio:8.2f}   "
        f"(target <= {TARGET_RATIO}: {verdict})"
    )

    base_us = statistics.median(_importtime_us("pass") for _ in range(5))
    deps_us = statistics.median(_importtime_us(DEPS) for _ in range(5)) - base_us
    sdk_us = statistics.median(_importtime_us(SDK) for _ in range(5)) - base_us
    print(
        f"-X importtime: deps {deps_us / 1000:.1f} ms, n2net_privacy {sdk_us / 1000:.1f} ms, "
        f"ratio {sdk_us / deps_us:.2f}"
    )


if __name__ == "__main__":
    main()
