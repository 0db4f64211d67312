"""The Uploader facade: the record API, skipped counts, privacy at rest and in logs, fork, exit."""

from __future__ import annotations

import contextlib
import inspect
import logging
import os
import sqlite3
import subprocess
import sys
import textwrap
import warnings
from collections.abc import Iterator
from datetime import datetime
from pathlib import Path

import pytest
import respx
from _support import Recorder
from hypothesis import given
from hypothesis import strategies as st

from n2net_privacy.contacts.model import ContactPhone
from n2net_privacy.egress import Egress, EgressPolicy, Purpose
from n2net_privacy.errors import (
    ClosedError,
    ConfigurationError,
    EgressPolicyError,
    InvalidArgumentTypeError,
    KeyStoreError,
    UploaderError,
)
from n2net_privacy.phone import PhoneNumberErrorReason
from n2net_privacy.runtime import Runtime
from n2net_privacy.simulation import SimulatedIOSKeychain
from n2net_privacy.testing.file_keystore import FileKeyStore
from n2net_privacy.testing.servers.ingest import IngestServer
from n2net_privacy.uploader import Endpoint, QueueLimits, UploaderEvents
from n2net_privacy.uploader.recorder import QUEUE_FILE, RecordOutcome, Uploader, encode_event
from n2net_privacy.uploader.send.sender import SenderConfig, SendState, SendStatus
from n2net_privacy.uploader.store.drops import DropReason
from n2net_privacy.uploader.wire import ServerKeyPair, WireEvent

KEYS = ServerKeyPair.generate(key_id="k1")
APP_KEY = "app-key-1"
NUMBER = "+12015550123"
FAST = SenderConfig(linger_s=0.0, backoff_base_s=0.01, backoff_cap_s=0.05)


def loopback_egress() -> Egress:
    return Egress(
        EgressPolicy(allowed_hosts={Purpose.N2NET_API: frozenset({"127.0.0.1"})}, test_mode=True)
    )


@pytest.fixture
def server() -> Iterator[IngestServer]:
    with IngestServer(KEYS, app_key=APP_KEY) as running:
        yield running


def make(
    data_dir: Path, url: str = "http://127.0.0.1:9", **kwargs: object
) -> Uploader:
    options: dict[str, object] = {
        "key_store": FileKeyStore(data_dir / "keys"),
        "egress": loopback_egress(),
        "region": "US",
        "sending": FAST,
    }
    options.update(kwargs)
    return Uploader(Endpoint(url, APP_KEY, KEYS.public), data_dir, **options)  # type: ignore[arg-type]


# -- configuration -----------------------------------------------------------


@pytest.mark.parametrize(
    ("url", "error"),
    [
        ("http://api.n2net.com", EgressPolicyError),  # plaintext outside test mode
        ("https://evil.example", EgressPolicyError),  # host not on the allowlist
        ("https://api.n2net.com?key=1", ConfigurationError),
        ("https://user:pw@api.n2net.com", ConfigurationError),
        ("not a url", ConfigurationError),
    ],
)
def test_bad_api_url_is_refused_at_construction(
    tmp_path: Path, url: str, error: type[Exception]
) -> None:
    with pytest.raises(error):
        Uploader(
            Endpoint(url, APP_KEY, KEYS.public), tmp_path, key_store=FileKeyStore(tmp_path),
            egress=Egress(),
        )


def test_the_constructor_takes_at_most_ten_parameters() -> None:
    # Everything else is grouped into value objects (Endpoint, SenderConfig,
    # QueueLimits, UploaderEvents, Runtime): principle 12.
    parameters = inspect.signature(Uploader.__init__).parameters
    assert len(parameters) - 1 <= 10, list(parameters)


def test_the_endpoint_never_shows_the_app_key() -> None:
    endpoint = Endpoint("https://api.n2net.com", APP_KEY, [KEYS.public])
    assert APP_KEY not in repr(endpoint)
    assert endpoint.server_keys == (KEYS.public,)


def test_https_to_an_allowed_host_is_accepted(tmp_path: Path) -> None:
    statuses: list[SendStatus] = []
    uploader = Uploader(
        Endpoint("https://api.n2net.com/", APP_KEY, KEYS.public), tmp_path,
        key_store=FileKeyStore(tmp_path), egress=Egress(),
        events=UploaderEvents(on_status=statuses.append), start=False,
    )
    assert uploader.record_sms(NUMBER).queued
    with respx.mock(assert_all_called=True) as router:
        route = router.post("https://api.n2net.com/v1/events").respond(
            200, json={"accepted": [], "duplicates": []}
        )
        assert uploader.sender.step() == 0.0
    sent = route.calls.last.request
    assert str(sent.url) == "https://api.n2net.com/v1/events"  # one slash, no query
    assert sent.headers["n2net-key-id"] == KEYS.key_id
    assert NUMBER.encode() not in sent.content  # sealed
    assert [s.state for s in statuses] == [SendState.DELIVERED]
    assert uploader.close(0) is True  # nothing left queued


@pytest.mark.parametrize(
    ("kwargs", "error"),
    [
        ({"region": "XX"}, ConfigurationError),
        ({"key_store": SimulatedIOSKeychain(first_unlock_done=False)}, KeyStoreError),
    ],
)
def test_bad_configuration_raises_at_construction(
    tmp_path: Path, kwargs: dict[str, object], error: type[Exception]
) -> None:
    with pytest.raises(error):
        make(tmp_path, **kwargs)


def test_app_key_must_be_a_token(tmp_path: Path) -> None:
    with pytest.raises(ConfigurationError):
        Uploader(
            Endpoint("http://127.0.0.1:9", "has space", KEYS.public), tmp_path,
            key_store=FileKeyStore(tmp_path), egress=loopback_egress(),
        )


# -- the record API ----------------------------------------------------------


def test_records_strings_and_contact_entries_and_delivers_them(
    tmp_path: Path, server: IngestServer
) -> None:
    with make(tmp_path, server.url) as uploader:
        sms = uploader.record_sms("(201) 555-0123")
        call = uploader.record_call(ContactPhone(number="+1 201-555-0124", label="work"), 42)
        assert sms.queued
        assert call.queued
        assert sms.outcome is RecordOutcome.QUEUED
        assert uploader.flush(5)
    stored = {e.id: e for e in server.events()}
    assert set(stored) == {sms.event_id, call.event_id}
    assert stored[sms.event_id].number == NUMBER
    assert stored[sms.event_id].type == "sms"
    assert stored[sms.event_id].duration_s is None
    assert (stored[call.event_id].type, stored[call.event_id].duration_s) == ("call", 42)


class Entry:
    """A contact-like object: only .number may be read."""

    def __init__(self) -> None:
        self.number = "201-555-0123"

    def __getattr__(self, name: str) -> object:
        raise AssertionError(f"the uploader read .{name}")


def test_only_the_number_is_taken_from_a_contact_entry(
    tmp_path: Path, server: IngestServer
) -> None:
    with make(tmp_path, server.url) as uploader:
        assert uploader.record_sms(Entry()).queued  # type: ignore[arg-type]
        assert uploader.flush(5)
    assert [e.number for e in server.events()] == [NUMBER]


@pytest.mark.parametrize("to", [None, 12015550123, object(), b"+12015550123"])
def test_to_must_be_a_number_or_carry_one(tmp_path: Path, to: object) -> None:
    # Was UploaderError; a wrong type is now the SDK's TypeError (issue 21).
    with make(tmp_path, start=False) as uploader:
        with pytest.raises(InvalidArgumentTypeError, match="to must be"):
            uploader.record_sms(to)  # type: ignore[arg-type]
        assert uploader.pending().events == 0


@pytest.mark.parametrize(
    ("duration", "error"),
    [(-1, ValueError), (1.5, TypeError), (True, TypeError), ("10", TypeError),
     (2**31, ValueError)],
)
def test_call_duration_must_be_a_whole_non_negative_int(
    tmp_path: Path, duration: object, error: type[Exception]
) -> None:
    # Was UploaderError; now the SDK's TypeError or ValueError, naming the parameter.
    with make(tmp_path, start=False) as uploader:
        with pytest.raises(error, match="duration_s") as info:
            uploader.record_call(NUMBER, duration)  # type: ignore[arg-type]
        assert isinstance(info.value, ConfigurationError)
        assert uploader.pending().events == 0


def test_skipped_numbers_are_counted_by_reason_and_never_queued(tmp_path: Path) -> None:
    inputs = {
        "911": PhoneNumberErrorReason.EMERGENCY,
        "112": PhoneNumberErrorReason.EMERGENCY,
        "33669": PhoneNumberErrorReason.SHORT_CODE,
        "hello": PhoneNumberErrorReason.NOT_A_NUMBER,
        "+1 201 555": PhoneNumberErrorReason.INVALID,
    }
    with make(tmp_path, start=False) as uploader:
        for raw, reason in inputs.items():
            result = uploader.record_sms(raw)
            assert (result.outcome, result.skip_reason, result.event_id) == (
                RecordOutcome.SKIPPED, reason, None,
            )
        uploader.record_call("911", 3)
        assert uploader.pending().events == 0
        expected = {
            PhoneNumberErrorReason.EMERGENCY: 3,
            PhoneNumberErrorReason.SHORT_CODE: 1,
            PhoneNumberErrorReason.NOT_A_NUMBER: 1,
            PhoneNumberErrorReason.INVALID: 1,
        }
        assert uploader.skipped_counts() == expected
    with make(tmp_path, start=False) as reopened:
        assert reopened.skipped_counts() == expected  # persisted on the device


def test_national_numbers_need_a_region(tmp_path: Path) -> None:
    with make(tmp_path, start=False, region=None) as uploader:
        assert uploader.record_sms("(201) 555-0123").skip_reason is (
            PhoneNumberErrorReason.INVALID_COUNTRY_CODE
        )
        assert uploader.record_sms(NUMBER).queued


def test_server_down_never_raises_and_everything_stays_queued(tmp_path: Path) -> None:
    statuses = Recorder[SendStatus]()
    uploader = make(tmp_path, events=UploaderEvents(on_status=statuses))  # port 9: nothing listens
    results = [uploader.record_sms(NUMBER) for _ in range(50)]
    assert all(r.queued for r in results)
    assert uploader.flush(0.3) is False
    assert uploader.pending().events == 50
    assert statuses.wait_for(bool)  # it tried (however slow the machine), and...
    assert {s.state for s in statuses} == {SendState.RETRYING}
    assert uploader.close(0.2) is False
    with make(tmp_path, start=False) as reopened:
        assert reopened.pending().events == 50


def test_queue_bound_drops_oldest_and_reports(tmp_path: Path) -> None:
    drops: list[tuple[DropReason, int]] = []
    with make(
        tmp_path, start=False, limits=QueueLimits(max_events=3),
        events=UploaderEvents(on_drop=lambda r, n: drops.append((r, n))),
    ) as uploader:
        for _ in range(5):
            assert uploader.record_sms(NUMBER).queued
        assert uploader.pending().events == 3
        assert uploader.dropped_counts() == {DropReason.MAX_EVENTS: 2}
        assert drops == [(DropReason.MAX_EVENTS, 1)] * 2


def test_dead_letters_are_counted(tmp_path: Path, server: IngestServer) -> None:
    server.fail_next(1, status=422)
    with make(tmp_path, server.url) as uploader:
        uploader.record_sms(NUMBER)
        assert uploader.flush(5)
        assert uploader.dead_letter_counts() == {"http_422": 1}
    assert server.count() == 0


def test_closed_uploader_refuses_records_and_close_is_idempotent(tmp_path: Path) -> None:
    uploader = make(tmp_path, start=False)
    assert uploader.close(0.1) is True
    assert uploader.close(0.1) is True
    with pytest.raises(ClosedError, match="Uploader is closed"):  # was UploaderError
        uploader.record_sms(NUMBER)


def test_the_normalization_cache_is_bounded_and_never_holds_long_inputs(tmp_path: Path) -> None:
    # record_sms's speed is measured by benchmarks/bench_uploader.py, not asserted here.
    with make(tmp_path, start=False, limits=QueueLimits(normalize_cache_size=4)) as uploader:
        long_input = "+1 201 555 0123" + " " * 40  # a valid number padded past 32 characters
        assert uploader.record_sms(long_input).queued
        for i in range(10):
            assert uploader.record_sms(f"+1201555{i:04d}").queued
        cached = uploader._cache
        assert len(cached) == 4  # bounded
        assert long_input not in cached
        assert all(len(key) <= 32 for key in cached)
        # The first numbers stay (no thrashing when a fleet cycles through many).
        assert set(cached) == {f"+1201555{i:04d}" for i in range(4)}


@given(
    event_id=st.uuids(version=4).map(str),
    number=st.from_regex(r"\+[1-9][0-9]{6,14}", fullmatch=True),
    at=st.datetimes(timezones=st.timezones()),
    duration=st.none() | st.integers(0, 2**31 - 1),
)
def test_the_hand_built_payload_is_exactly_the_wire_model_json(
    event_id: str, number: str, at: datetime, duration: int | None
) -> None:
    if duration is None:
        model = WireEvent.sms(event_id, number, at)
    else:
        model = WireEvent.call(event_id, number, at, duration)
    assert encode_event(event_id, number, at, duration) == model.model_dump_json(
        exclude_none=True
    ).encode()


def test_a_naive_clock_is_refused(tmp_path: Path) -> None:
    with make(tmp_path, start=False, runtime=Runtime(clock=datetime.now)) as uploader:
        with pytest.raises(UploaderError, match="timezone-aware"):
            uploader.record_sms(NUMBER)


# -- privacy: nothing readable at rest, nothing in logs -------------------------

NATIONAL_FORMS = ["2015550123", "12015550123", "(201) 555-0123", "201-555-0123", "201 555 0123"]


def encodings(number: str) -> set[bytes]:
    forms = {number, *NATIONAL_FORMS, "555-0123", "5550123"}
    found: set[bytes] = set()
    for form in forms:
        for codec in ("ascii", "utf-16-le", "utf-16-be", "utf-32-le"):
            found.add(form.encode(codec))
        found.add(form.encode().hex().encode())
        found.add(form.encode().hex().upper().encode())
    return found


def files_contain_number(directory: Path) -> list[str]:
    hits = []
    needles = encodings(NUMBER)
    for path in directory.rglob("*"):
        if path.is_file():
            data = path.read_bytes()
            hits += [f"{path.name}:{needle!r}" for needle in needles if needle in data]
    return hits


def test_the_search_would_find_a_plaintext_number(tmp_path: Path) -> None:
    with contextlib.closing(sqlite3.connect(tmp_path / "control.sqlite3")) as db, db:
        db.execute("CREATE TABLE t (v TEXT, w BLOB)")
        hidden = "2015550123".encode("utf-16-le")
        db.execute("INSERT INTO t VALUES (?, ?)", ("201-555-0123", hidden))
    assert files_contain_number(tmp_path)


def test_queue_file_holds_the_number_in_no_encoding(tmp_path: Path) -> None:
    with make(tmp_path, start=False) as uploader:
        for raw in ["(201) 555-0123", NUMBER, "201.555.0123"]:
            uploader.record_sms(raw)
            uploader.record_call(ContactPhone(number=raw), 60)
        uploader.record_sms("911")
    queue_files = [p.name for p in tmp_path.iterdir() if p.name.startswith(QUEUE_FILE)]
    assert QUEUE_FILE in queue_files
    with contextlib.closing(sqlite3.connect(tmp_path / QUEUE_FILE)) as db, db:
        tables = [r[0] for r in db.execute("SELECT name FROM sqlite_master WHERE type='table'")]
        for table in tables:
            for row in db.execute(f"SELECT * FROM {table}"):
                assert NUMBER not in repr(row)
    assert files_contain_number(tmp_path) == []


def test_logs_at_debug_carry_no_number_or_payload(
    tmp_path: Path, server: IngestServer, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    server.fail_next(1, status=503, retry_after="0")
    with make(tmp_path, server.url) as uploader:
        uploader.record_sms("(201) 555-0123")
        uploader.record_sms("911")
        uploader.record_sms("201-555-01")
        uploader.record_call(NUMBER, 5)
        assert uploader.flush(5)
    server.fail_next(1, status=422)
    with make(tmp_path, server.url) as uploader:
        uploader.record_sms(NUMBER)
        assert uploader.flush(5)
    assert caplog.records  # retries and the dead letter were logged
    text = "\n".join(
        f"{r.name} {r.getMessage()} {r.args!r} {r.exc_text or ''}" for r in caplog.records
    )
    for needle in encodings(NUMBER):
        assert needle.decode("latin-1") not in text
    for word in ('"number"', "n2net.events/1", "Bearer", APP_KEY):
        assert word not in text


# -- fork and interpreter exit -----------------------------------------------


def test_a_forked_child_gets_its_own_worker(tmp_path: Path, server: IngestServer) -> None:
    uploader = make(tmp_path, server.url)
    before = uploader.record_sms(NUMBER)
    assert uploader.flush(5)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)  # 3.12+ warns on fork with threads
        pid = os.fork()
    if pid == 0:  # the child: use the inherited uploader; report by exit status only
        try:
            ok = uploader.record_sms("+12015550124").queued and uploader.flush(5)
            os._exit(0 if ok and uploader.close(2) else 1)
        except BaseException:
            os._exit(2)
    _, status = os.waitpid(pid, 0)
    assert os.waitstatus_to_exitcode(status) == 0
    after = uploader.record_sms("+12015550125")  # the parent's worker still runs
    assert uploader.flush(5)
    uploader.close(1)
    numbers = sorted(e.number for e in server.events())
    assert numbers == ["+12015550123", "+12015550124", "+12015550125"]
    assert {before.event_id, after.event_id} <= {e.id for e in server.events()}


CHILD = textwrap.dedent(
    """
    import sys
    from pathlib import Path
    from n2net_privacy.egress import Egress, EgressPolicy, Purpose
    from n2net_privacy.testing.file_keystore import FileKeyStore
    from n2net_privacy.uploader.recorder import Endpoint, QueueLimits, Uploader
    from n2net_privacy.uploader.wire import ServerKey

    url, key_hex, data_dir, exit_timeout = sys.argv[1:5]
    egress = Egress(EgressPolicy(
        allowed_hosts={Purpose.N2NET_API: frozenset({"127.0.0.1"})}, test_mode=True))
    uploader = Uploader(
        Endpoint(url, "app-key-1", ServerKey.from_raw("k1", bytes.fromhex(key_hex))), data_dir,
        key_store=FileKeyStore(Path(data_dir) / "keys"), egress=egress,
        limits=QueueLimits(exit_flush_timeout_s=float(exit_timeout)))
    for i in range(20):
        uploader.record_sms(f"+1201555{i:04d}")
    # no flush, no close: the atexit hook must do a bounded best-effort flush
    """
)


def run_child(tmp_path: Path, url: str, exit_timeout: float) -> None:
    args = [url, KEYS.public_bytes.hex(), str(tmp_path), str(exit_timeout)]
    subprocess.run(
        [sys.executable, "-c", CHILD, *args],
        capture_output=True, text=True, timeout=30, check=True,
    )


def test_exit_flushes_what_is_queued(tmp_path: Path, server: IngestServer) -> None:
    run_child(tmp_path, server.url, exit_timeout=5.0)
    assert server.count() == 20


def test_exit_never_hangs_when_the_server_is_down(tmp_path: Path) -> None:
    # run_child's subprocess timeout is the bound: a hang at exit fails the test.
    run_child(tmp_path, "http://127.0.0.1:9", exit_timeout=0.5)
    with make(tmp_path, start=False) as reopened:
        assert reopened.pending().events == 20  # kept for the next launch
