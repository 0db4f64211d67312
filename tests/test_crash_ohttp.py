"""The crash guarantees hold through the OHTTP relay: SIGKILL, restart, 0 lost, 0 duplicated.

The same child and crash points as ``test_crash.py``, but every batch goes
device -> relay -> gateway -> ingest, and 10,000 events arrive exactly once.
"""

from __future__ import annotations

import signal
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

pytest.importorskip("pyhpke", reason="the 'ohttp' extra (pyhpke) is not installed")

from n2net_privacy.egress import Egress, EgressPolicy, Purpose
from n2net_privacy.ohttp.client import ObliviousConfig
from n2net_privacy.testing.file_keystore import FileKeyStore
from n2net_privacy.testing.ohttp_plugin import OhttpStack
from n2net_privacy.uploader import Endpoint
from n2net_privacy.uploader._process import CrashPoint
from n2net_privacy.uploader.recorder import Uploader
from n2net_privacy.uploader.send.sender import SenderConfig

EVENTS = 20
API = "https://api.n2net.com"
HOSTS = {
    Purpose.N2NET_API: frozenset({"api.n2net.com"}),
    Purpose.OHTTP_RELAY: frozenset({"127.0.0.1"}),
}

CHILD = textwrap.dedent(
    """
    import datetime, os, signal, sys, threading
    from pathlib import Path
    from n2net_privacy import ohttp
    from n2net_privacy.egress import Egress, EgressPolicy, PinSet, Purpose
    from n2net_privacy.ohttp.client import ObliviousConfig
    from n2net_privacy.testing.file_keystore import FileKeyStore
    from n2net_privacy.uploader.recorder import Endpoint, QueueLimits, Uploader, UploaderEvents
    from n2net_privacy.uploader.send.sender import SenderConfig
    from n2net_privacy.uploader.wire import ServerKey

    relay, keys_hex, key_hex, data_dir, point, hit, mode, log_path, count = sys.argv[1:10]
    hits = 0
    lock = threading.Lock()

    def die():
        os.kill(os.getpid(), signal.SIGKILL)

    def crash(at):
        global hits
        if at.value != point:
            return
        with lock:
            hits += 1
            if hits != int(hit):
                return
        if mode == "in_flight":
            threading.Timer(0.05, die).start()
        else:
            die()

    egress = Egress(EgressPolicy(allowed_hosts={
        Purpose.N2NET_API: frozenset({"api.n2net.com"}),
        Purpose.OHTTP_RELAY: frozenset({"127.0.0.1"})}, test_mode=True))
    oblivious = ObliviousConfig(
        relay_url=relay, key_config=bytes.fromhex(keys_hex),
        key_pins=PinSet(
            [ohttp.key_config_pin(c)
             for c in ohttp.KeyConfig.decode_list(bytes.fromhex(keys_hex))]
            + ["B" * 43 + "="],  # the backup: the gateway's next key
            expires=datetime.date(2099, 1, 1)))
    uploader = Uploader(
        Endpoint("https://api.n2net.com", "ohttp-app-key",
                 ServerKey.from_raw("ingest-1", bytes.fromhex(key_hex)), oblivious),
        data_dir, key_store=FileKeyStore(Path(data_dir) / "keys"), egress=egress,
        sending=SenderConfig(batch_max_events=7, linger_s=1.0, backoff_base_s=0.02),
        limits=QueueLimits(exit_flush_timeout_s=0), events=UploaderEvents(crash_point=crash))
    with open(log_path, "a") as log:
        for i in range(int(count)):
            result = uploader.record_sms(f"+1201555{i:04d}")
            log.write(result.event_id + "\\n")
            log.flush()
    uploader.flush(10)
    threading.Event().wait(5)
    os._exit(3)
    """
)


def _oblivious(stack: OhttpStack) -> ObliviousConfig:
    return stack.oblivious(
        key_config=stack.gateway.gateway.encoded_key_configs(), key_config_url=None
    )


def _uploader(stack: OhttpStack, data_dir: Path, config: SenderConfig) -> Uploader:
    return Uploader(
        Endpoint(API, stack.app_key, stack.ingest_key.public, oblivious=_oblivious(stack)),
        data_dir, key_store=FileKeyStore(data_dir / "keys"),
        egress=Egress(EgressPolicy(allowed_hosts=HOSTS, test_mode=True)), sending=config,
    )


@pytest.mark.parametrize(
    ("point", "hit", "mode"),
    [
        (CrashPoint.RECORD_AFTER_WRITE, 5, "now"),
        (CrashPoint.LEASE_AFTER_COMMIT, 2, "now"),
        (CrashPoint.POST_BEFORE_SEND, 2, "now"),
        (CrashPoint.POST_BEFORE_SEND, 1, "in_flight"),
        (CrashPoint.ACK_BEFORE_DELETE, 1, "now"),
        (CrashPoint.ACK_BEFORE_COMMIT, 2, "now"),
    ],
)
def test_sigkill_through_the_relay_loses_nothing_and_duplicates_nothing(
    tmp_path: Path, ohttp_stack: OhttpStack, point: CrashPoint, hit: int, mode: str
) -> None:
    if mode == "in_flight":
        ohttp_stack.ingest.delay(0.5)
    log = tmp_path / "returned.txt"
    args = [
        ohttp_stack.relay.url,
        ohttp_stack.gateway.gateway.encoded_key_configs().hex(),
        ohttp_stack.ingest_key.public_bytes.hex(),
        str(tmp_path),
        point.value,
        str(hit),
        mode,
        str(log),
        str(EVENTS),
    ]
    child = subprocess.run(
        [sys.executable, "-c", CHILD, *args],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert child.returncode == -signal.SIGKILL, child.stderr
    ohttp_stack.ingest.delay(0)
    returned = log.read_text().split()
    assert returned
    uploader = _uploader(ohttp_stack, tmp_path, SenderConfig(linger_s=0.0, backoff_base_s=0.02))
    assert uploader.flush(20)
    assert uploader.close(2)
    stored = [event.id for event in ohttp_stack.ingest.events()]
    assert len(stored) == len(set(stored))  # 0 duplicated
    assert set(returned) <= set(stored)  # 0 lost
    assert {r.client_host for r in ohttp_stack.ingest.requests()} == {"127.0.0.3"}
    if point in (CrashPoint.ACK_BEFORE_DELETE, CrashPoint.ACK_BEFORE_COMMIT):
        assert any(request.replayed for request in ohttp_stack.ingest.requests())


def test_ten_thousand_events_arrive_exactly_once_through_the_relay(
    tmp_path: Path, ohttp_stack: OhttpStack
) -> None:
    uploader = _uploader(ohttp_stack, tmp_path, SenderConfig(linger_s=0.2))
    numbers = [f"+1202555{n % 5000:04d}" for n in range(10_000)]
    try:
        ids = [uploader.record_sms(number).event_id for number in numbers]
        assert uploader.flush(120)
    finally:
        uploader.close(5)
    stored = [event.id for event in ohttp_stack.ingest.events()]
    assert len(stored) == 10_000 == len(set(stored))
    assert set(stored) == set(ids)
