"""The benchmark harness stays runnable; no benchmark runs here and no timing is asserted.

``make bench`` runs the benchmarks; this checks the parts they rely on: every
module imports, the runner skips what is missing, the sink counts every
client's events, bench_idle reads the OS's context switches, and bench_import
discovers the public names and the runtime dependencies.
"""

from __future__ import annotations

import gzip
import importlib
import json
import sys
import threading
import time
import zlib
from collections.abc import Callable

import pytest

from benchmarks import __main__ as runner
from benchmarks import _sink, bench_idle, bench_import
from n2net_privacy.errors import WireFormatError
from n2net_privacy.uploader import (
    EventBatch,
    ServerKeyPair,
    WireEvent,
    encode_batch,
    seal,
)

linux_only = pytest.mark.skipif(sys.platform != "linux", reason="reads /proc")


@pytest.mark.parametrize("short", runner.available())
def test_every_benchmark_module_imports_and_has_main(short: str) -> None:
    module = importlib.import_module(f"benchmarks.bench_{short}")
    assert callable(module.main)


def test_the_runner_reports_a_missing_benchmark_and_goes_on(
    capsys: pytest.CaptureFixture[str],
) -> None:
    assert runner.main(["no_such_thing"]) == 1
    out = capsys.readouterr().out
    assert "bench_no_such_thing is not in benchmarks/: skipped" in out
    assert "NOT RUN bench_no_such_thing: not present" in out


def test_the_sink_counts_a_peers_batch_in_every_encoding() -> None:
    body = json.dumps({"batch": [{"event": "sms"}] * 3, "sentAt": "now"}).encode()
    json_type = "application/json"
    assert _sink.count_events(body, json_type, "") == 3
    assert _sink.count_events(gzip.compress(body), json_type, "gzip") == 3
    assert _sink.count_events(zlib.compress(body), json_type, "deflate") == 3
    assert _sink.count_events(b'{"flags": {}}', json_type, "") == 0  # not a batch: no events
    with pytest.raises(ValueError, match="'br'"):
        _sink.count_events(body, json_type, "br")


def test_the_sink_opens_and_counts_a_sealed_batch() -> None:
    keys = ServerKeyPair.generate(key_id="bench")
    events = [
        WireEvent.model_validate({
            "id": f"00000000-0000-4000-8000-00000000000{i}", "type": "sms",
            "number": "+12015550100", "at": "2026-01-01T00:00:00Z",
        })
        for i in range(2)
    ]
    sealed = "application/n2net-sealed"
    body = b"{" + seal(encode_batch(EventBatch.of(events)), keys.public)[1:]
    with pytest.raises(WireFormatError):  # a sealed body may begin with "{": it is still sealed
        _sink.count_events(body, sealed, "", keys.private_bytes)
    body = seal(encode_batch(EventBatch.of(events)), keys.public)
    assert _sink.count_events(body, sealed, "", keys.private_bytes) == 2
    with pytest.raises(ValueError, match="server key"):
        _sink.count_events(body, sealed, "")


def _poll(condition: Callable[[], bool], what: str, timeout: float = 10.0) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        time.sleep(0.001)


def _blocked(tid: int) -> bool:
    """Asleep, with no switch across 10 ms in which this thread holds no GIL.

    A thread asleep waiting for the GIL would take it in that pause and block
    again elsewhere (a switch): only a thread blocked on its own wait passes.
    """
    def sleeping() -> bool:
        with open(f"/proc/self/task/{tid}/status") as status:
            return any(line.startswith("State:\tS") for line in status)

    before = bench_idle.context_switches(tid)
    if not sleeping():
        return False
    time.sleep(0.01)
    return sleeping() and bench_idle.context_switches(tid) == before


@linux_only
def test_bench_idle_counts_a_blocked_thread_as_zero_and_each_wakeup() -> None:
    before = bench_idle.task_ids()
    cond = threading.Condition()
    state = {"wake": 0, "woken": 0, "stop": False}

    def waiter() -> None:
        with cond:
            while not state["stop"]:
                seen = state["wake"]
                while state["wake"] == seen and not state["stop"]:
                    cond.wait()
                state["woken"] += 1
                cond.notify_all()

    thread = threading.Thread(target=waiter, daemon=True)
    thread.start()
    assert thread.native_id is not None
    tid = thread.native_id
    assert tid in bench_idle.task_ids() - before
    _poll(lambda: _blocked(tid), "the thread to block")
    idle = bench_idle.snapshot({tid})
    time.sleep(0.05)  # an observation window, as bench_idle's: nothing wakes the thread
    assert bench_idle.wakeups(idle, bench_idle.snapshot({tid})) == {tid: (0, 0)}

    for n in range(1, 4):
        with cond:
            state["wake"] += 1
            cond.notify_all()
            while state["woken"] < n:
                cond.wait()
    _poll(lambda: _blocked(tid), "the thread to block again")
    voluntary, _ = bench_idle.wakeups(idle, bench_idle.snapshot({tid}))[tid]
    assert voluntary >= 3
    with cond:
        state["stop"] = True
        cond.notify_all()
    thread.join(10)


@pytest.mark.slow  # child interpreters, one importing every public name
def test_bench_import_discovers_names_and_dependencies_at_run_time() -> None:
    import n2net_privacy

    found = {module: (names, tool) for module, names, tool in bench_import.public_names()}
    assert found["n2net_privacy"] == (sorted(n2net_privacy.__all__), False)
    assert all(not part.startswith("_") for module in found for part in module.split("."))
    # The library: subpackages and top-level modules; the tools are marked, old paths left out.
    assert found["n2net_privacy.runtime"][1] is False
    assert found["n2net_privacy.uploader.wire"][1] is False
    assert found["n2net_privacy.testing.conformance"][1] is True
    assert found["n2net_privacy.cli"][1] is True
    assert "n2net_privacy.egress_policy" not in found  # warns on import: kept for one release
    tops = bench_import.requirement_tops()
    assert {"cryptography", "httpx", "phonenumbers", "pydantic", "pydantic_core"} <= set(tops)
    assert tops["pydantic_core"] == ["pydantic-core"]  # transitive: pydantic's requirement
    library = [(module, names) for module, (names, tool) in found.items() if not tool]
    loaded, _ = bench_import.loaded_dependencies(bench_import.every_name_code(library), tops)
    assert "pydantic.main" in loaded  # more than the lazy `import pydantic` loads
    assert not any(module.startswith("n2net_privacy") for module in loaded)
    code = bench_import.every_name_code([("n2net_privacy", ["no_such_name"])])
    with pytest.raises(AttributeError, match="no_such_name"):
        exec(code, {})


def test_a_goal_line_gives_the_verdict_the_figure_and_the_target() -> None:
    from benchmarks._goals import Goal

    assert Goal("p99", 1421.3, 250, "<=", "us").line() == "MISSED p99: 1,421 us, goal <= 250 us"
    assert Goal("ratio", 1.45, 1.0, ">=", "x", "5 rounds").line() == (
        "MET    ratio: 1.45 x, goal >= 1 x  (5 rounds)"
    )
    assert Goal("idle", 0, 0, "<=", "wakeups").met
