"""The OHTTP key source: pinned keys only, one fetch at a time, never unpinned by an error."""

from __future__ import annotations

import datetime as dt
import random
import threading
import time
from collections.abc import Callable, Mapping

import pytest

pytest.importorskip("pyhpke", reason="the 'ohttp' extra (pyhpke) is not installed")

from cryptography.hazmat.primitives.asymmetric import x25519

from n2net_privacy import ohttp
from n2net_privacy.egress import EgressResponse, PinSet
from n2net_privacy.egress.policy import OutgoingRequest, RequestClient
from n2net_privacy.errors import InvalidArgumentError, InvalidArgumentTypeError, NetworkError
from n2net_privacy.ohttp.client import KeyConfigSource, ObliviousConfig
from n2net_privacy.ohttp.consistency import KeyVerdict

RELAY = "https://relay.example/ohttp"
KEYS_URL = "https://relay.example/ohttp-keys"
REAL = ohttp.Gateway([(1, x25519.X25519PrivateKey.generate())])
BACKUP = ohttp.Gateway([(2, x25519.X25519PrivateKey.generate())])
FORGED = ohttp.Gateway([(1, x25519.X25519PrivateKey.generate())])
PINS = PinSet(
    {ohttp.key_config_pin(c) for c in REAL.key_configs() + BACKUP.key_configs()},
    expires=dt.date(2099, 1, 1),
)


class FakeRelay(RequestClient):
    """Answers every key fetch with ``body``; ``gate`` holds the answer until set."""

    def __init__(self, body: bytes, status: int = 200, gate: threading.Event | None = None):
        self.body = body
        self.status = status
        self.gate = gate
        self.entered = threading.Event()
        self.calls = 0

    def send(self, request: OutgoingRequest) -> EgressResponse:
        assert (request.method, request.url) == ("GET", KEYS_URL)
        self.calls += 1
        self.entered.set()
        if self.gate is not None:
            assert self.gate.wait(10)
        return EgressResponse(self.status, {"content-type": "application/ohttp-keys"}, self.body)

    def close(self) -> None:
        pass


def _source(relay: FakeRelay, **options: object) -> KeyConfigSource:
    values: Mapping[str, object] = {
        "relay_url": RELAY, "key_config_url": KEYS_URL, "key_pins": PINS,
        "key_refresh_jitter_s": 0.0, **options,
    }
    config = ObliviousConfig(**values)  # type: ignore[arg-type]
    return KeyConfigSource(
        config, lambda: relay, monotonic=lambda: 1000.0, rng=random.Random(7), background=False
    )


def test_only_pinned_entries_are_used_and_unpinned_ones_are_reported() -> None:
    served = FORGED.encoded_key_configs() + BACKUP.encoded_key_configs()
    relay = FakeRelay(served)
    source = _source(relay)
    with pytest.raises(NetworkError, match="no authenticated"):
        source.current()
    assert relay.calls == 0  # the send path never fetches: a send is not a fetch's timer
    check = source.refresh()
    assert (check.verdict, check.unpinned) == (KeyVerdict.INCONSISTENT, 1)
    assert source.current().key_id == 2
    assert source.verdicts() == {KeyVerdict.INCONSISTENT: 1}


def test_a_forged_list_and_a_key_error_never_unpin() -> None:
    relay = FakeRelay(FORGED.encoded_key_configs())
    source = _source(relay, key_config=REAL.encoded_key_configs())
    assert source.current().public_key == REAL.key_configs()[0].public_key
    source.mismatch()
    assert source.refresh().verdict is KeyVerdict.UNPINNED
    assert source.current().public_key == REAL.key_configs()[0].public_key
    relay.status, relay.body = 503, b""
    assert source.refresh().verdict is KeyVerdict.UNUSABLE
    assert source.current().key_id == 1


def test_expired_pins_stop_sending_rather_than_trust_what_is_served() -> None:
    expired = PinSet(PINS.pins, expires=dt.date(2001, 1, 1))
    source = _source(FakeRelay(REAL.encoded_key_configs()), key_pins=expired,
                     key_config=REAL.encoded_key_configs())
    with pytest.raises(NetworkError, match="expired"):
        source.current()
    assert source.refresh().verdict is KeyVerdict.PINS_EXPIRED


def test_concurrent_fetches_collapse_into_one() -> None:
    gate = threading.Event()
    relay = FakeRelay(REAL.encoded_key_configs(), gate=gate)
    second_waits = threading.Event()

    def wait(condition: threading.Condition, timeout: float | None) -> None:
        second_waits.set()  # only the collapsed caller waits here (no refresher thread)
        condition.wait(timeout)

    config = ObliviousConfig(relay_url=RELAY, key_config_url=KEYS_URL, key_pins=PINS)
    source = KeyConfigSource(config, lambda: relay, wait=wait, background=False)
    results: list[object] = []
    first = threading.Thread(target=lambda: results.append(source.refresh()))
    first.start()
    assert relay.entered.wait(10)
    second = threading.Thread(target=lambda: results.append(source.refresh()))
    second.start()
    assert second_waits.wait(10)
    gate.set()
    first.join(10)
    second.join(10)
    assert relay.calls == 1
    assert len(results) == 2 and results[0] is results[1]


def test_a_mismatch_during_a_fetch_keeps_the_next_fetch_soon() -> None:
    gate = threading.Event()
    relay = FakeRelay(REAL.encoded_key_configs(), gate=gate)
    source = _source(relay, key_config_ttl_s=3600.0)
    fetch = threading.Thread(target=source.refresh)
    fetch.start()
    assert relay.entered.wait(10)
    source.mismatch()  # the old keys were refused while the fetch was on the wire
    gate.set()
    fetch.join(10)
    assert source.due_in() == 0.0  # not pushed back by the ttl
    relay.entered.clear()
    source.refresh()
    due = source.due_in()
    assert due is not None and 0.8 * 3600 <= due <= 3600


def test_config_checks_name_what_is_wrong() -> None:
    from n2net_privacy.errors import ConfigurationError

    with pytest.raises(ConfigurationError, match="key_refresh_jitter_s"):
        ObliviousConfig(relay_url=RELAY, key_config_url=KEYS_URL, key_pins=PINS,
                        key_refresh_jitter_s=-1)
    with pytest.raises(ConfigurationError, match="relay's origin"):
        ObliviousConfig(relay_url=RELAY, key_config_url="https://gateway.example/ohttp-keys",
                        key_pins=PINS)


@pytest.mark.parametrize(
    ("clock", "error"),
    [(time.time, InvalidArgumentTypeError), (dt.datetime.now, InvalidArgumentError)],
)
def test_a_clock_of_epoch_seconds_or_naive_datetimes_is_refused_at_its_first_reading(
    clock: Callable[[], object], error: type[Exception]
) -> None:
    config = ObliviousConfig(relay_url=RELAY, key_config_url=KEYS_URL, key_pins=PINS)
    source = KeyConfigSource(
        config, lambda: FakeRelay(b""), clock=clock, background=False  # type: ignore[arg-type]
    )
    with pytest.raises(error, match="clock must return an aware UTC datetime"):
        source.current()  # the pins' expiry is read on the wall clock
