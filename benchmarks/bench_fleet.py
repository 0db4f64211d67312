"""The fleet: how many devices the Locust kit and the reference ingest carry per core.

Each run is the real tool, ``locust --headless --processes 2`` (a child
process; importing Locust here would gevent-patch this one), against the
reference :class:`~n2net_privacy.testing.IngestServer` in this process, all
on this machine. Every device is a :class:`~n2net_privacy.testing.load.fleet.Device`
recording at ``--n2net-events-per-s`` and sending its own sealed batches.

Figures, from the kit's final figures only:

- batch latency p95 and p99: the ``POST /v1/events`` row of Locust's
  ``--json-file`` (written at exit, after the kit's stop handshake), with
  ``--reset-stats``, so ramp-up is left out;
- lost: events a device recorded that the server does not hold; duplicated:
  events counted delivered more often than the server stored them, plus any
  id recorded twice. Both from the devices' summaries (``--n2net-results-dir``)
  against the server's store.

Goals (issue 25): at 2,000 devices x 0.1 events/s, p95 <= 2 s, 0 lost and
0 duplicated; and the largest fleet with p95 <= 1 s, as devices per core.
The search steps up a ladder of sizes from the first run while p95 stays
<= 1 s, or down while it does not.

Settings, as environment variables (or ``python -m benchmarks.bench_fleet
DEVICES...``, which also gives the sizes to try): ``N2NET_BENCH_FLEET_DEVICES``
(2000), ``N2NET_BENCH_FLEET_RATE`` (0.1 events/s per device),
``N2NET_BENCH_FLEET_RUN_S`` (60 s measured after ramp-up),
``N2NET_BENCH_FLEET_SPAWN_RATE`` (200 devices/s), ``N2NET_BENCH_FLEET_SIZES``
(the sizes for the p95 <= 1 s search, comma-separated; empty: the ladder),
``N2NET_BENCH_FLEET_MAX_RUNS`` (4 runs in all).

The devices' data directories and summaries are on ``/dev/shm`` when it
exists: the simulated phones' flash is not what is measured, and on a shared
disk their SQLite files' first writes (at creation) and the summaries' fsyncs
(at stop, two per device) made a worker's hub wait on other jobs' I/O.
"""

from __future__ import annotations

import base64
import json
import math
import os
import socket
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from benchmarks._goals import Goal, machine_load, print_goals
from n2net_privacy.testing import IngestServer
from n2net_privacy.uploader import ServerKeyPair

APP_KEY = "bench-fleet-app-key"
LOCUSTFILE = "from n2net_privacy.testing.load.locust import DeviceUser  # noqa: F401\n"
LADDER = (250, 500, 750, 1000, 1250, 1500, 1750, 2000, 2500, 3000, 4000, 5000, 6000, 8000)
QUIET_S = 5  # devices stop recording this long before -t ends, and send what they hold
SETTLE_S = 5  # slack for the ramp-up taking longer than devices / spawn rate
P95_GOAL_S = 2.0
P95_SEARCH_S = 1.0


@dataclass(frozen=True, slots=True)
class FleetRun:
    devices: int
    p50_ms: float
    p95_ms: float
    p99_ms: float
    batches: int
    failures: int
    recorded: int
    lost: int
    duplicated: int
    locust_cpu_s: float
    server_cpu_s: float
    wall_s: float
    exit_code: int

    def line(self) -> str:
        return (
            f"  {self.devices:,} devices: batch p50/p95/p99 {self.p50_ms:,.0f} / "
            f"{self.p95_ms:,.0f} / {self.p99_ms:,.0f} ms over {self.batches:,} batches "
            f"({self.failures} failed); {self.recorded:,} events recorded, {self.lost} lost, "
            f"{self.duplicated} duplicated; CPU s: Locust {self.locust_cpu_s:.0f}, "
            f"server {self.server_cpu_s:.0f}, in {self.wall_s:.0f} s wall; exit {self.exit_code}"
        )


def _percentile(histogram: dict[str, int], fraction: float) -> float:
    """Locust's rounded response times (ms -> count) at ``fraction``, nearest rank."""
    points = sorted((float(ms), count) for ms, count in histogram.items())
    total = sum(count for _, count in points)
    if total == 0:
        return math.inf
    rank = max(math.ceil(fraction * total), 1)
    seen = 0
    for ms, count in points:
        seen += count
        if seen >= rank:
            return ms
    return points[-1][0]


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def _tree_cpu(pid: int) -> dict[int, float]:
    """CPU seconds so far of ``pid`` and its descendants (Locust's master and workers), by pid."""
    found: dict[int, float] = {}
    todo = [pid]
    tick = os.sysconf("SC_CLK_TCK")
    while todo:
        current = todo.pop()
        try:
            stat = Path(f"/proc/{current}/stat").read_text()
            children = Path(f"/proc/{current}/task/{current}/children").read_text()
        except OSError:
            continue
        fields = stat.rsplit(")", 1)[1].split()
        found[current] = (int(fields[11]) + int(fields[12])) / tick  # utime, stime
        todo += [int(c) for c in children.split()]
    return found


def _data_root() -> str | None:
    shm = Path("/dev/shm")
    return str(shm) if shm.is_dir() and os.access(shm, os.W_OK) else None


def run_fleet(devices: int, rate: float, run_s: float, spawn_rate: float) -> FleetRun:
    """One headless Locust run of ``devices`` against a fresh reference server."""
    keys = ServerKeyPair.generate(key_id="k1")
    ramp_s = math.ceil(devices / spawn_rate)
    run_time = math.ceil(ramp_s + SETTLE_S + run_s + QUIET_S)
    with (
        IngestServer(keys, app_key=APP_KEY, capture_bodies=False) as server,
        tempfile.TemporaryDirectory(prefix="bench-fleet-") as tmp,
        tempfile.TemporaryDirectory(prefix="bench-fleet-", dir=_data_root()) as data,
    ):
        root = Path(tmp)
        (root / "locustfile.py").write_text(LOCUSTFILE)
        port = str(_free_port())
        key = f"{keys.key_id}={base64.b64encode(keys.public_bytes).decode()}"
        command = [
            sys.executable, "-m", "locust", "-f", str(root / "locustfile.py"), "--headless",
            "--only-summary", "--loglevel", "ERROR", "--processes", "2",
            "--master-bind-host", "127.0.0.1", "--master-bind-port", port, "--master-port", port,
            "-u", str(devices), "-r", str(spawn_rate), "-t", f"{run_time}s", "--reset-stats",
            "--host", server.url, "--json-file", str(root / "final"),
            "--n2net-app-key", APP_KEY, "--n2net-server-keys", key,
            "--n2net-events-per-s", str(rate), "--n2net-quiet-s", str(QUIET_S),
            "--n2net-results-dir", str(Path(data) / "devices"), "--n2net-data-dir", data,
        ]
        cpu_before = time.process_time()
        started = time.perf_counter()
        with (root / "locust.log").open("w+") as log:
            child = subprocess.Popen(command, stdout=log, stderr=subprocess.STDOUT, cwd=root)
            cpu: dict[int, float] = {}
            while child.poll() is None and time.perf_counter() - started < run_time + 600:
                cpu.update(_tree_cpu(child.pid))
                time.sleep(0.5)
            if child.poll() is None:
                child.kill()
            returncode = child.wait()
            log.seek(0)
            output = log.read()
        wall = time.perf_counter() - started
        server_cpu = time.process_time() - cpu_before
        locust_cpu = sum(cpu.values())
        summaries = [json.loads(p.read_text()) for p in (Path(data) / "devices").glob("*.json")]
        if returncode not in (0, 1) or len(summaries) < devices:  # 1: a row failed
            print(output[-3000:], file=sys.stderr)
        rows = {(e["method"], e["name"]): e for e in _json(root / "final.json")}
        post = rows.get(("POST", "/v1/events"), {"response_times": {}, "num_requests": 0,
                                                 "num_failures": 0})
        stored = {str(event.id) for event in server.events()}
    recorded = [i for s in summaries for i in s["recorded"]]
    delivered = sum(int(s["delivered"]) for s in summaries)
    missing = devices - len(summaries)
    if missing:
        print(f"  {missing} devices wrote no summary: each counts as one lost event", flush=True)
    return FleetRun(
        devices=devices,
        p50_ms=_percentile(post["response_times"], 0.50),
        p95_ms=_percentile(post["response_times"], 0.95),
        p99_ms=_percentile(post["response_times"], 0.99),
        batches=int(post["num_requests"]),
        failures=int(post["num_failures"]),
        recorded=len(recorded),
        lost=len(set(recorded) - stored) + missing,  # a missing summary: at least one
        duplicated=(len(recorded) - len(set(recorded)))
        + max(delivered - len(stored & set(recorded)), 0),
        locust_cpu_s=locust_cpu,
        server_cpu_s=server_cpu,
        wall_s=wall,
        exit_code=returncode,
    )


def _json(path: Path) -> list[dict[str, Any]]:
    if not path.exists():
        return []
    data: list[dict[str, Any]] = json.loads(path.read_text())
    return data


def _measure(devices: int, rate: float, run_s: float, spawn_rate: float) -> FleetRun:
    print(f"{devices:,} devices x {rate:g} events/s, {run_s:g} s after ramp-up; "
          f"{machine_load()}", flush=True)
    result = run_fleet(devices, rate, run_s, spawn_rate)
    print(result.line(), flush=True)
    return result


def _search(
    first: FleetRun, sizes: list[int], rate: float, run_s: float, spawn_rate: float,
    runs_left: int,
) -> tuple[int, list[FleetRun]]:
    """The largest size with p95 <= 1 s among those tried: up the ladder while met, else down."""
    runs = [first]
    good = {first.devices} if first.p95_ms <= P95_SEARCH_S * 1000 else set()
    if sizes:
        for size in sizes:
            if runs_left <= 0:
                break
            if size != first.devices:
                runs.append(_measure(size, rate, run_s, spawn_rate))
                runs_left -= 1
                if runs[-1].p95_ms <= P95_SEARCH_S * 1000:
                    good.add(size)
        return max(good, default=0), runs
    going_up = bool(good)
    ladder = [s for s in LADDER if (s > first.devices if going_up else s < first.devices)]
    for size in ladder if going_up else reversed(ladder):
        if runs_left <= 0:
            break
        result = _measure(size, rate, run_s, spawn_rate)
        runs.append(result)
        runs_left -= 1
        met = result.p95_ms <= P95_SEARCH_S * 1000
        if met:
            good.add(size)
        if met != going_up:
            break
    return max(good, default=0), runs


def main(argv: list[str] | None = None) -> None:
    env = os.environ.get
    sizes = [int(a) for a in (argv or [])] or [
        int(s) for s in env("N2NET_BENCH_FLEET_SIZES", "").split(",") if s.strip()
    ]
    devices = int(env("N2NET_BENCH_FLEET_DEVICES", "2000"))
    rate = float(env("N2NET_BENCH_FLEET_RATE", "0.1"))
    run_s = float(env("N2NET_BENCH_FLEET_RUN_S", "60"))
    spawn_rate = float(env("N2NET_BENCH_FLEET_SPAWN_RATE", "200"))
    max_runs = int(env("N2NET_BENCH_FLEET_MAX_RUNS", "4"))
    cores = os.cpu_count() or 1

    goal_run = _measure(devices, rate, run_s, spawn_rate)
    largest, runs = _search(goal_run, sizes, rate, run_s, spawn_rate, max_runs - 1)
    # No size tried above the largest good one: the ceiling was not reached.
    floor = "at least " if all(r.devices <= largest for r in runs) else ""
    how = (f"locust --processes 2 and the reference ingest on {cores} cores, "
           f"{rate:g} events/s per device, {run_s:g} s after ramp-up")
    print(f"\nlargest fleet with batch p95 <= 1 s: {floor}{largest:,} devices "
          f"(tried {', '.join(f'{r.devices:,}' for r in runs)})", flush=True)
    print_goals([
        Goal(f"fleet {devices:,} x {rate:g}/s: batch p95", goal_run.p95_ms / 1000,
             P95_GOAL_S, "<=", "s", f"p99 {goal_run.p99_ms / 1000:.2f} s; {how}"),
        Goal(f"fleet {devices:,}: events lost", goal_run.lost, 0, "<=", "",
             "recorded by devices, not held by the server"),
        Goal(f"fleet {devices:,}: events duplicated", goal_run.duplicated, 0, "<=", "",
             "delivered more often than stored"),
    ])
    print(f"FIGURE fleet: {floor}{largest / cores:,.0f} devices per core with batch p95 <= 1 s "
          f"(largest {largest:,} devices / {cores} cores; {how})", flush=True)


if __name__ == "__main__":
    main(sys.argv[1:])
