"""The Locust kit in the real tool: ``locust --headless --processes 2`` as a child process.

The reference ingest server runs here, on loopback; Locust runs as a child
(its master forks two workers), because importing Locust would monkey-patch
this whole pytest process with gevent. Every device writes a summary (its
recorded event ids and counts) at stop; the server must hold exactly the
events the devices report delivered. Skips where the ``locust`` extra is missing.

Locust's figures are read from ``--json-file``, which Locust writes at exit from
its final statistics. Its ``--csv`` files are rewritten once a second while the
run goes and not at exit, so they can lag the end (locust issues #1806, #2299).
"""

from __future__ import annotations

import base64
import importlib.util
import json
import subprocess
import sys
from collections import defaultdict
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from n2net_privacy.testing import IngestServer
from n2net_privacy.uploader import ServerKeyPair

needs_locust = pytest.mark.skipif(
    importlib.util.find_spec("locust") is None,
    reason="Locust is not installed: pip install 'n2net-privacy[locust]' (the test extra has it)",
)

APP_KEY = "app-key-locust"
LOCUSTFILE = "from n2net_privacy.testing.load.locust import DeviceUser  # noqa: F401\n"
BOUND_S = 150  # the child is killed after this, whatever happens


@pytest.fixture
def keys() -> ServerKeyPair:
    return ServerKeyPair.generate(key_id="k1")


@pytest.fixture
def server(keys: ServerKeyPair) -> Iterator[IngestServer]:
    with IngestServer(keys, app_key=APP_KEY) as srv:
        yield srv


Run = tuple[
    subprocess.CompletedProcess[str], list[dict[str, Any]], dict[tuple[str, str], dict[str, Any]]
]


def run_locust(tmp_path: Path, server: IngestServer, keys: ServerKeyPair, *args: str) -> Run:
    """Locust on ``args``: its output, the devices' summaries, its final stats by (type, name)."""
    locustfile = tmp_path / "locustfile.py"
    locustfile.write_text(LOCUSTFILE)
    results = tmp_path / "devices"
    key = f"{keys.key_id}={base64.b64encode(keys.public_bytes).decode()}"
    command = [
        sys.executable, "-m", "locust", "-f", str(locustfile), "--headless",
        "--host", server.url, "--csv", str(tmp_path / "run"), "--only-summary",
        "--json-file", str(tmp_path / "final"),
        "--n2net-app-key", APP_KEY, "--n2net-server-keys", key,
        "--n2net-results-dir", str(results), "--n2net-data-dir", str(tmp_path),
        *args,
    ]
    done = subprocess.run(
        command, capture_output=True, text=True, timeout=BOUND_S, check=False, cwd=tmp_path
    )
    summaries = [json.loads(path.read_text()) for path in sorted(results.glob("*.json"))]
    final = tmp_path / "final.json"
    entries = json.loads(final.read_text()) if final.exists() else []
    # Locust leaves out a row that counted nothing: it reads as zero here.
    rows: dict[tuple[str, str], dict[str, Any]] = defaultdict(
        lambda: {"num_requests": 0, "num_failures": 0}
    )
    rows.update({(entry["method"], entry["name"]): entry for entry in entries})
    return done, summaries, rows


def _free_port() -> int:
    import socket

    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def child_python(code: str) -> str:
    done = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=60, check=False
    )
    assert done.returncode == 0, done.stderr[-2000:]
    return done.stdout


def test_the_testing_package_never_pulls_in_locust_or_gevent() -> None:
    out = child_python(
        "import sys, n2net_privacy.testing, n2net_privacy.testing.load.fleet\n"
        "print(sorted(m for m in ('locust', 'gevent') if m in sys.modules))"
    )
    assert out.strip() == "[]"


@needs_locust
def test_locusts_own_pytest_plugin_stays_out_of_this_suite(pytestconfig: pytest.Config) -> None:
    # Its `session` fixture would import locust and gevent-patch this process.
    assert not pytestconfig.pluginmanager.has_plugin("locust")


@needs_locust
def test_the_locust_module_exports_what_it_lists() -> None:
    out = child_python(
        "import n2net_privacy.testing.load.locust as m\n"
        "print([n for n in m.__all__ if not hasattr(m, n)], m.DeviceUser.abstract)"
    )
    assert out.strip() == "[] False"


@pytest.mark.slow
@needs_locust
def test_fifty_devices_on_two_worker_processes_lose_and_duplicate_nothing(
    tmp_path: Path, server: IngestServer, keys: ServerKeyPair
) -> None:
    # Locust's default port (5557) would meet another Locust run on this machine.
    port = str(_free_port())
    done, summaries, rows = run_locust(
        tmp_path, server, keys,
        "-u", "50", "-r", "25", "-t", "15s", "--processes", "2",
        "--master-bind-host", "127.0.0.1", "--master-bind-port", port, "--master-port", port,
        "--n2net-events-per-s", "2", "--n2net-restart-every", "6", "--n2net-quiet-s", "3",
    )
    output = done.stdout + done.stderr
    assert done.returncode == 0, output[-3000:]
    assert len(summaries) == 50, output[-3000:]

    # Exactly the events the devices report delivered are on the server.
    stored = {str(event.id) for event in server.events()}
    recorded: list[str] = []
    for summary in summaries:
        ids = summary["recorded"]
        assert isinstance(ids, list)
        recorded += ids
        assert len(stored & set(ids)) == summary["delivered"]
        assert summary["delivered"] + summary["pending"] + summary["dead_lettered"] == len(ids)
    assert len(recorded) == len(set(recorded)), output[-3000:]  # no id twice, across devices
    assert len(recorded) > 500, output[-3000:]  # the run went its course
    assert stored <= set(recorded)
    assert sum(int(s["delivered"]) for s in summaries) == server.count()
    assert sum(int(s["pending"]) for s in summaries) == 0
    assert sum(int(s["restarts"]) for s in summaries) > 0

    # Locust's own statistics tell the same story, summed over both workers.
    assert rows[("POST", "/v1/events")]["num_requests"] == len(server.requests()) > 0
    assert rows[("EVENTS", "recorded")]["num_requests"] == len(recorded)
    assert rows[("EVENTS", "delivered")]["num_requests"] == server.count()
    assert [row["num_failures"] for row in rows.values()] == [0] * len(rows)

    # No number in what Locust printed or wrote.
    numbers = {event.number.lstrip("+") for event in server.events()}
    files = [*tmp_path.glob("run_*.csv"), tmp_path / "final.json"]
    written = output + "".join(p.read_text() for p in files)
    assert not any(number in written for number in numbers)


@pytest.mark.slow
@needs_locust
def test_what_devices_send_while_stopping_reaches_the_masters_figures(
    tmp_path: Path, server: IngestServer, keys: ServerKeyPair
) -> None:
    # The fleet is offline for the whole run, so every batch is sent by a device
    # stopping (its drain in on_stop), and each reply takes a second. A worker
    # reports them after its last device stops: later than the half second that
    # Locust's master waits after "quit". The kit's stop handshake waits for it.
    server.delay(1.0)
    port = str(_free_port())
    done, summaries, rows = run_locust(
        tmp_path, server, keys,
        "-u", "4", "-r", "4", "-t", "3s", "--processes", "2",
        "--master-bind-host", "127.0.0.1", "--master-bind-port", port, "--master-port", port,
        "--n2net-scenario", "reconnect-storm", "--n2net-storm-at", "0",
        "--n2net-storm-outage-s", "600", "--n2net-events-per-s", "4",
    )
    output = done.stdout + done.stderr
    assert done.returncode == 0, output[-3000:]
    assert len(summaries) == 4, output[-3000:]
    assert sum(int(s["pending"]) for s in summaries) == 0
    stored = {str(event.id) for event in server.events()}
    assert stored == {i for s in summaries for i in s["recorded"]} != set()
    assert rows[("POST", "/v1/events")]["num_requests"] == len(server.requests()) > 0
    assert rows[("EVENTS", "delivered")]["num_requests"] == server.count()
    assert [row["num_failures"] for row in rows.values()] == [0] * len(rows)


@pytest.mark.slow
@needs_locust
def test_a_reconnect_storm_brings_every_device_back_with_nothing_lost(
    tmp_path: Path, server: IngestServer, keys: ServerKeyPair
) -> None:
    done, summaries, rows = run_locust(
        tmp_path, server, keys,
        "-u", "10", "-r", "10", "-t", "8s", "--n2net-scenario", "reconnect-storm",
        "--n2net-storm-at", "2", "--n2net-storm-outage-s", "3", "--n2net-events-per-s", "4",
        "--n2net-quiet-s", "2",
    )
    output = done.stdout + done.stderr
    assert done.returncode == 0, output[-3000:]
    assert [s["outages"] for s in summaries] == [1] * 10
    assert rows[("EVENTS", "retried")]["num_requests"] > 0  # they kept trying offline
    stored = {str(event.id) for event in server.events()}
    recorded = {i for s in summaries for i in s["recorded"]}
    assert stored == recorded
    assert rows[("EVENTS", "delivered")]["num_requests"] == server.count()
    assert rows[("POST", "/v1/events")]["num_requests"] == len(server.requests())
    assert rows[("POST", "/v1/events")]["num_failures"] == 0


@pytest.mark.slow
@needs_locust
def test_a_master_and_two_workers_rotate_keys_mid_run_and_lose_nothing(
    tmp_path: Path, server: IngestServer, keys: ServerKeyPair
) -> None:
    # Locust's distributed mode exactly as docs/backend.md gives it: one --master,
    # two --worker processes, nothing of the kit changed. The server serves k1 and
    # k2 (a grace period); the devices switch to k2 during the run.
    k2 = ServerKeyPair.generate(key_id="k2")
    server.rotate_key(k2, grace=True)
    pem = tmp_path / "k2.pub.pem"
    pem.write_bytes(k2.public_pem())
    port = _free_port()
    workers = [
        subprocess.Popen(
            [sys.executable, "-m", "locust", "-f", str(tmp_path / "locustfile.py"), "--worker",
             "--master-host", "127.0.0.1", "--master-port", str(port)],
            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True, cwd=tmp_path,
        )
        for _ in range(2)
    ]
    try:
        done, summaries, rows = run_locust(
            tmp_path, server, keys,
            "--master", "--expect-workers", "2", "--master-bind-host", "127.0.0.1",
            "--master-bind-port", str(port),
            "-u", "10", "-r", "10", "-t", "10s", "--n2net-scenario", "key-rotation",
            "--n2net-rotate-keys", f"k2=@{pem}", "--n2net-rotate-at", "2",
            "--n2net-rotate-window", "3", "--n2net-events-per-s", "4", "--n2net-quiet-s", "3",
        )
    finally:
        for worker in workers:
            try:
                worker.wait(30)
            except subprocess.TimeoutExpired:
                worker.kill()
                worker.wait()
            if worker.stderr is not None:
                worker.stderr.close()
    output = done.stdout + done.stderr
    assert done.returncode == 0, output[-3000:]
    assert len(summaries) == 10, output[-3000:]
    stored = {str(event.id) for event in server.events()}
    recorded = {i for s in summaries for i in s["recorded"]}
    assert stored == recorded and len(recorded) > 50
    assert sum(int(s["dead_lettered"]) for s in summaries) == 0
    used = [request.headers.get("n2net-key-id") for request in server.requests()]
    assert "k1" in used and "k2" in used  # both keys carried batches...
    assert used[-1] == "k2"  # ...and the fleet ended on the new one
    assert rows[("POST", "/v1/events")]["num_requests"] == len(server.requests())
    assert rows[("POST", "/v1/events")]["num_failures"] == 0
    assert rows[("EVENTS", "delivered")]["num_requests"] == server.count()
