"""HAR 1.2 captures: streamed entry by entry, in the shapes real exporters write."""

from __future__ import annotations

import base64
import io
import json
import tracemalloc
from pathlib import Path
from typing import Any

import pytest

from n2net_privacy.audit.har import HarError, OversizedEntry, iter_entries, to_exchange

SHARED_HAR = Path(__file__).resolve().parents[2] / "shared" / "data" / "har"
# Entry counts as SOURCES.txt states them for each real-world capture.
REAL_CAPTURES = {
    "firefox-mitmproxy-tests-firefox.har": 14,
    "safari-webkit-mitmproxy-tests-safari.har": 19,
    "charles-mitmproxy-tests-charles.har": 1,
    "insomnia-mitmproxy-tests-insomnia.har": 1,
    "chrome-webinspector-mitmproxy-tests-postdata.har": 1,
    "mitmproxy-savehar-mitmproxy-tests-successful_log.har": 2,
    "playwright-recordhar-playwright-python-har-redirect.har": 3,
    "browsertime-chrome-browsertime-h2-har-with-diskcache.har": 10,
}


def har(*entries: dict[str, Any], creator: str = "test", entries_first: bool = False) -> bytes:
    log: dict[str, Any] = {"version": "1.2", "creator": {"name": creator, "version": "1"}}
    if entries_first:
        log = {"entries": list(entries), **log}
    else:
        log["pages"] = [{"id": "page_1", "title": "{not [structure]}", "pageTimings": {}}]
        log["entries"] = list(entries)
    return json.dumps({"log": log}).encode()


def chrome_entry(
    url: str, *, post: str | None = None, mime: str = "application/json"
) -> dict[str, Any]:
    """The shape Chrome DevTools exports: _-prefixed fields, postData.text, base64 content."""
    request: dict[str, Any] = {
        "method": "POST" if post is not None else "GET",
        "url": url,
        "httpVersion": "http/2.0",
        "headers": [
            {"name": ":authority", "value": "api.example"},
            {"name": "user-agent", "value": "x"},
        ],
        "queryString": [],
        "cookies": [{"name": "sid", "value": "abc", "httpOnly": True}],
        "headersSize": -1,
        "bodySize": 0 if post is None else len(post),
    }
    if post is not None:
        request["postData"] = {"mimeType": mime, "text": post}
    return {
        "_initiator": {"type": "script"},
        "_priority": "High",
        "_resourceType": "fetch",
        "startedDateTime": "2026-11-30T10:00:00.000Z",
        "time": 12.5,
        "request": request,
        "response": {
            "status": 200,
            "statusText": "",
            "httpVersion": "http/2.0",
            "headers": [{"name": "content-type", "value": "image/png"}],
            "cookies": [],
            "content": {
                "size": 3,
                "mimeType": "image/png",
                "text": base64.b64encode(b"\x89PN").decode(),
                "encoding": "base64",
            },
            "redirectURL": "",
            "headersSize": -1,
            "bodySize": -1,
            "_transferSize": 120,
        },
        "cache": {},
        "timings": {"send": 0.1, "wait": 10, "receive": 2},
        "serverIPAddress": "192.0.2.1",
        "_fromCache": "disk",
    }


def firefox_form_entry(url: str, params: list[tuple[str, str]]) -> dict[str, Any]:
    """Firefox writes form posts as postData.params and a 0 status for aborted requests."""
    return {
        "pageref": "page_1",
        "startedDateTime": "2026-11-30T10:00:01.000+01:00",
        "request": {
            "bodySize": 10,
            "method": "POST",
            "url": url,
            "httpVersion": "HTTP/1.1",
            "headers": [{"name": "Host", "value": "forms.example"}],
            "cookies": [],
            "queryString": [{"name": "q", "value": "1"}],
            "headersSize": 200,
            "postData": {
                "mimeType": "application/x-www-form-urlencoded",
                "params": [{"name": n, "value": v} for n, v in params],
            },
        },
        "response": {
            "status": 0,
            "statusText": "",
            "headers": [],
            "cookies": [],
            "content": {"mimeType": "", "size": 0},
            "redirectURL": "",
            "headersSize": -1,
            "bodySize": 0,
        },
        "cache": {},
        "timings": {"blocked": -1, "send": 0, "wait": 0, "receive": 0},
        "time": 0,
        "_securityState": "secure",
    }


def exchanges(data: bytes, **kwargs: Any) -> list[Any]:
    return [
        e if isinstance(e, OversizedEntry) else to_exchange(e, i)
        for i, e in enumerate(iter_entries(io.BytesIO(data), **kwargs))
    ]


@pytest.mark.parametrize(("name", "count"), sorted(REAL_CAPTURES.items()))
def test_real_world_captures_stream_every_entry(name: str, count: int) -> None:
    path = SHARED_HAR / name
    if not path.exists():
        pytest.skip(f"real-world HAR captures are not present at {SHARED_HAR}")
    with path.open("rb") as fp:
        streamed = [to_exchange(e, i) for i, e in enumerate(iter_entries(fp))]  # type: ignore[arg-type]
    loaded = json.loads(path.read_bytes())["log"]["entries"]
    assert len(streamed) == count == len(loaded)
    assert [x.url for x in streamed] == [e["request"]["url"] for e in loaded]


def test_chrome_shape_base64_response_and_post_text() -> None:
    (x,) = exchanges(har(chrome_entry("https://api.example/v1?a=b", post='{"k":"v"}')))
    assert (x.method, x.host, x.status) == ("POST", "api.example", 200)
    assert x.body == b'{"k":"v"}'
    assert x.cookies == (("sid", "abc"),)
    assert x.response_body == b"\x89PN"


def test_firefox_shape_form_params_and_no_response() -> None:
    (x,) = exchanges(har(firefox_form_entry("https://forms.example/p?q=1", [("a b", "c&d")])))
    assert x.body == b"a+b=c%26d"
    assert x.status is None  # Firefox writes 0 for a request that got no response


def test_entries_before_other_keys_and_structure_inside_strings() -> None:
    tricky = chrome_entry('https://x.example/"}]{["')
    data = har(tricky, chrome_entry("https://y.example/"), entries_first=True)
    assert [x.host for x in exchanges(data)] == ["x.example", "y.example"]


def test_a_bom_and_escaped_quotes_do_not_confuse_the_scanner() -> None:
    entry = chrome_entry("https://z.example/", post='{"s":"a \\" } ] b"}')
    data = b"\xef\xbb\xbf" + har(entry)
    (x,) = exchanges(data)
    assert x.body == b'{"s":"a \\" } ] b"}'


def test_entries_split_across_read_chunks_decode_whole() -> None:
    big = "x" * (3 * 1024 * 1024)
    data = har(chrome_entry("https://a.example/", post=big), chrome_entry("https://b.example/"))
    xs = exchanges(data)
    assert [x.host for x in xs] == ["a.example", "b.example"]
    assert len(xs[0].body) == len(big)


def test_an_oversized_entry_is_reported_not_dropped() -> None:
    data = har(
        chrome_entry("https://a.example/", post="y" * 5000), chrome_entry("https://b.example/")
    )
    first, second = exchanges(data, max_entry_bytes=2000)
    assert isinstance(first, OversizedEntry) and first.index == 0 and first.size > 5000
    assert second.host == "b.example"


@pytest.mark.parametrize(
    ("data", "message"),
    [
        (b'{"log": {"entries": [{"request": {"method": "GET", "url": "https://a/"}}', "truncated"),
        (b'{"log": {"version": "1.2"}}', "no log.entries"),
        (b'{"log": {"entries": [{"request": 5}]}}', "entry 0: has no request object"),
        (
            b'{"log": {"entries": [{"request": {"method": "GET"}}]}}',
            "entry 0: request has no method or url",
        ),
        (b'{"log": {"entries": [{"a": tru}]}}', "entry 0: is not valid JSON"),
        (b'{"log": {"entries": [}', "malformed JSON"),
        (b'\xff\xfe{"log"', "not UTF-8"),
        (
            b'{"log": {"entries": [{"request": '
            b'{"method": "GET", "url": "https://a/", "headers": 3}}]}}',
            "request.headers is not a list",
        ),
    ],
)
def test_bad_captures_raise_a_typed_error_naming_the_entry(data: bytes, message: str) -> None:
    with pytest.raises(HarError, match=message):
        exchanges(data)


def test_memory_stays_bounded_by_the_largest_entry() -> None:
    entry = json.dumps(chrome_entry("https://a.example/", post="z" * 20_000)).encode()
    count = 1500  # about 30 MB of capture
    data = b'{"log": {"version": "1.2", "entries": [' + b",".join([entry] * count) + b"]}}"
    stream = io.BytesIO(data)
    tracemalloc.start()
    try:
        seen = sum(1 for _ in iter_entries(stream))
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert seen == count
    # The capture is ~30 MB; a reader that kept it, or every entry, would peak above that.
    assert peak < 8 * 1024 * 1024, peak


def test_a_body_recorded_only_as_a_size_is_listed_as_unrecorded() -> None:
    # mitmproxy's savehar writes postData for POST, PUT and PATCH only.
    entry = chrome_entry("https://api.example/v1/contacts")
    entry["request"].update(method="DELETE", bodySize=42)
    (x,) = exchanges(har(entry))
    assert x.body == b""
    assert x.unrecorded == (
        ("body", "the capture recorded only the body's size (42 bytes), not its content"),
    )
    # A body that is there, or no body at all, is not.
    assert exchanges(har(chrome_entry("https://api.example/", post='{"a": 1}')))[0].unrecorded == ()
    assert exchanges(har(chrome_entry("https://api.example/")))[0].unrecorded == ()


def test_websocket_messages_are_read_text_and_binary_with_their_direction() -> None:
    entry = chrome_entry("wss://api.example/socket")
    entry["_resourceType"] = "websocket"
    entry["_webSocketMessages"] = [
        {"type": "send", "time": 1.0, "opcode": 1, "data": '{"n": "José"}'},
        {"type": "receive", "time": 1.1, "opcode": 2,
         "data": base64.b64encode(b"\x00\x01bin").decode()},
    ]
    (x,) = exchanges(har(entry))
    assert [(f.index, f.sent, f.content, f.place) for f in x.frames] == [
        (0, True, '{"n": "José"}'.encode(), "websocket.sent[0]"),
        (1, False, b"\x00\x01bin", "websocket.received[1]"),
    ]


def test_a_websocket_message_without_a_direction_is_a_typed_error() -> None:
    entry = chrome_entry("wss://api.example/socket")
    entry["_webSocketMessages"] = [{"type": "sideways", "data": "x"}]
    with pytest.raises(HarError, match=r"entry 0: _webSocketMessages\[0\] has no type"):
        exchanges(har(entry))
