"""Fork safety: 50 forks right after deliveries, no hang, no lie, exactly once after restart.

The reference server runs in its own process: the test is about *this*
process's uploader being quiesced around ``fork``, and a server thread in the
forking process would hold SQLite mutexes of its own.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
import threading
import warnings
from collections.abc import Iterator
from pathlib import Path

import pytest
from _support import wait_until

from n2net_privacy.egress import Egress, EgressPolicy, Purpose
from n2net_privacy.testing.file_keystore import FileKeyStore
from n2net_privacy.testing.servers.ingest_store import EventStore
from n2net_privacy.uploader import Endpoint, UploaderEvents
from n2net_privacy.uploader.recorder import Uploader
from n2net_privacy.uploader.send.sender import SenderConfig, SendState, SendStatus
from n2net_privacy.uploader.wire import ServerKeyPair

KEYS = ServerKeyPair.generate(key_id="k1")
APP_KEY = "app-key-1"
FORKS = 50
CHILD_TIMEOUT_S = 20.0

SERVER = textwrap.dedent(
    """
    import sys
    from n2net_privacy.testing.servers.ingest import IngestServer
    from n2net_privacy.uploader.wire import ServerKeyPair

    keys = ServerKeyPair.from_private_raw("k1", bytes.fromhex(sys.argv[1]))
    with IngestServer(keys, app_key="app-key-1", db_path=sys.argv[2], capture_bodies=False) as s:
        print(s.url, flush=True)
        sys.stdin.read()  # until the test closes our stdin
    """
)


@pytest.fixture
def server(tmp_path: Path) -> Iterator[tuple[str, Path]]:
    db = tmp_path / "server.sqlite3"
    proc = subprocess.Popen(
        [sys.executable, "-c", SERVER, KEYS.private_bytes.hex(), str(db)],
        stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True,
    )
    assert proc.stdout is not None and proc.stdin is not None
    try:
        yield proc.stdout.readline().strip(), db
    finally:
        proc.stdin.close()
        proc.stdout.close()
        proc.wait(timeout=30)


def make(data_dir: Path, url: str, **kwargs: object) -> Uploader:
    egress = Egress(
        EgressPolicy(allowed_hosts={Purpose.N2NET_API: frozenset({"127.0.0.1"})}, test_mode=True)
    )
    return Uploader(
        Endpoint(url, APP_KEY, KEYS.public), data_dir, key_store=FileKeyStore(data_dir / "keys"),
        egress=egress, region="US",
        sending=SenderConfig(linger_s=0.0, backoff_base_s=0.01, backoff_cap_s=0.05), **kwargs,
    )


def child(uploader: Uploader, ids_path: Path, index: int) -> None:
    """In the forked child: record two events, log their ids, close briefly, exit."""
    signal.alarm(int(CHILD_TIMEOUT_S))  # a hang must never outlive the test
    code = 1
    try:
        ids = [uploader.record_sms(f"+1201555{index:02d}{n:02d}").event_id for n in range(2)]
        ids_path.write_text("\n".join(i for i in ids if i))
        uploader.pending()
        uploader.close(0.5)  # what it does not send stays queued for the parent
        code = 0 if all(ids) else 3
    finally:
        os._exit(code)


def wait_children(pids: list[int]) -> dict[int, int]:
    """Reap every child within the timeout; a child still running is killed and reported."""
    codes: dict[int, int] = {}

    def reaped_all() -> bool:
        for pid in pids:
            if pid in codes:
                continue
            done, status = os.waitpid(pid, os.WNOHANG)
            if done:
                codes[pid] = os.waitstatus_to_exitcode(status)
        return len(codes) == len(pids)

    wait_until(reaped_all, timeout=CHILD_TIMEOUT_S, interval=0.01)
    for pid in set(pids) - set(codes):
        os.kill(pid, signal.SIGKILL)
        os.waitpid(pid, 0)
        codes[pid] = -999  # hung
    return codes


def test_fifty_forks_after_deliveries_lose_nothing_and_never_lie(
    tmp_path: Path, server: tuple[str, Path]
) -> None:
    url, db = server
    delivered = threading.Event()

    def on_status(status: SendStatus) -> None:
        if status.state is SendState.DELIVERED:
            delivered.set()

    uploader = make(tmp_path / "app", url, events=UploaderEvents(on_status=on_status))
    recorded: list[str] = []
    pids: list[int] = []
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)  # 3.12+ warns on fork with threads
        for index in range(FORKS):
            delivered.clear()
            for n in range(3):
                result = uploader.record_sms(f"+1215555{index:02d}{n:02d}")
                assert result.event_id is not None
                recorded.append(result.event_id)
            delivered.wait(5)  # fork right after a delivery, while the worker runs on
            pid = os.fork()
            if pid == 0:
                child(uploader, tmp_path / f"child-{index}.ids", index)
            pids.append(pid)
            stats = uploader.pending()  # never raises, never negative
            assert stats.events >= 0 and stats.in_flight >= 0 and stats.bytes >= 0
    codes = wait_children(pids)
    assert sorted(codes.values()) == [0] * FORKS, "a child hung or failed"
    drained = uploader.flush(10)
    stats = uploader.pending()
    assert drained == (stats.events == 0)  # flush never reports a drained queue that is not
    closed = uploader.close(5)
    assert closed == (uploader.pending().events == 0)
    for path in tmp_path.glob("child-*.ids"):
        recorded.extend(path.read_text().split())
    assert len(recorded) == 3 * FORKS + 2 * FORKS

    with make(tmp_path / "app", url) as restarted:  # the final restart
        assert restarted.flush(10)
    store = EventStore(db)
    try:
        arrived = [event.id for event in store.events()]
    finally:
        store.close()
    assert len(arrived) == len(set(arrived))  # exactly once
    assert set(arrived) == set(recorded)
