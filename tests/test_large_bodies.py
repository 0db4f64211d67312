"""Large bodies are scanned in overlapping windows and lose no detection.

Each kind of PII is planted at the start, in the middle, at the end and across
a window boundary of a long text, alone, and must be found there.
"""

from __future__ import annotations

import base64
import gzip
import hashlib
from urllib.parse import quote

import pytest

from n2net_privacy.audit.auditor import EgressAuditor
from n2net_privacy.audit.detectors import WINDOW_CHARS, AddressBookPii, PiiDetector, PiiKind
from n2net_privacy.audit.findings import Rule
from n2net_privacy.audit.places import MAX_STRUCTURED_CHARS
from n2net_privacy.egress import OutgoingRequest, Purpose

BOOK = AddressBookPii(
    names=("Zoë Ødegaard", "Ann Lee"),
    emails=("Zoe.Odegaard+news@Example.co.uk", "ann@example.com"),
    numbers=("+44 7400 123456", "(201) 555-0123"),
)
DETECTOR = PiiDetector(BOOK, region="US")
WINDOW = 8192
FILLER = "lorem ipsum dolor sit amet consectetur adipiscing elit "


def _b64(text: str) -> str:
    return base64.b64encode(text.encode()).decode()


PLANTS = {
    "email": ("ann@example.com", PiiKind.EMAIL),
    "email upper case": ("ZOE.ODEGAARD+NEWS@EXAMPLE.CO.UK", PiiKind.EMAIL),
    "name": ("Zoë Ødegaard", PiiKind.NAME),
    "number e164": ("+12015550123", PiiKind.PHONE),
    "number national": ("(201) 555-0123", PiiKind.PHONE),
    "number dotted": ("201.555.0123", PiiKind.PHONE),
    "number 00-prefixed": ("00 44 7400 123456", PiiKind.PHONE),
    "email md5": (hashlib.md5(b"ann@example.com").hexdigest(), PiiKind.EMAIL_HASH),
    "email sha256": (hashlib.sha256(b"ann@example.com").hexdigest(), PiiKind.EMAIL_HASH),
    "base64": (_b64("email=ann@example.com"), PiiKind.EMAIL),
    "base64 line-wrapped": (
        base64.encodebytes(("contact: Zoë Ødegaard; " * 4).encode()).decode(), PiiKind.NAME
    ),
    "percent-encoded": (quote("ann@example.com", safe=""), PiiKind.EMAIL),
    "base64 of gzip": (
        base64.b64encode(gzip.compress(b"phone=+12015550123", mtime=0)).decode(), PiiKind.PHONE
    ),
}


def _filler(length: int) -> str:
    return (FILLER * (length // len(FILLER) + 1))[:length]


def _planted(length: int, position: int, value: str) -> str:
    """A text of about ``length`` characters with `` value `` starting near ``position``."""
    text = _filler(length)
    position = max(0, min(position, length - len(value) - 2))
    return text[:position] + " " + value + " " + text[position + len(value) + 2 :]


def _positions(length: int, value: str) -> dict[str, int]:
    half = len(value) // 2
    overlap = DETECTOR.overlap
    return {
        "start": 0,
        "middle": length // 2,
        "end": length,
        "across the end of the first window": WINDOW + overlap - half,
        "across the start of the third window": 2 * WINDOW - half,
    }


LENGTH = 5 * WINDOW


def test_the_filler_alone_is_clean_and_long_enough_for_several_windows() -> None:
    assert DETECTOR.scan_windows(_filler(LENGTH), window=WINDOW) == ()
    assert 3 * WINDOW + DETECTOR.overlap < LENGTH


def test_the_overlap_holds_the_longest_value_of_the_book_encoded() -> None:
    longest = max(len(v) for v in (*BOOK.names, *BOOK.emails, *BOOK.numbers))
    assert DETECTOR.overlap >= 16 * longest


@pytest.mark.parametrize("plant", sorted(PLANTS))
def test_each_kind_of_pii_is_found_wherever_it_sits_in_a_long_text(plant: str) -> None:
    value, kind = PLANTS[plant]
    assert kind in {m.kind for m in DETECTOR.scan(value)}, "the plant itself must be a leak"
    for where, position in _positions(LENGTH, value).items():
        text = _planted(LENGTH, position, value)
        kinds = {m.kind for m in DETECTOR.scan_windows(text, window=WINDOW)}
        assert kind in kinds, f"{plant} {where} not found"


def test_a_cut_word_is_not_read_as_a_shorter_name() -> None:
    # "Leeward" cut after "Lee" would read as Ann Lee's family name.
    word = "Leeward "
    text = (word * (LENGTH // len(word) + 1))[:LENGTH]
    assert DETECTOR.scan_windows(text, window=WINDOW) == ()


def _request(body: bytes, *headers: tuple[str, str]) -> OutgoingRequest:
    return OutgoingRequest(
        purpose=Purpose.N2NET_API, method="POST", url="https://api.n2net.com/v1/upload",
        scheme="https", host="api.n2net.com", path="/v1/upload", query="", headers=headers,
        content=body,
    )


@pytest.mark.parametrize("where", ["start", "middle", "end", "across a window"])
def test_a_large_json_body_is_searched_as_text_and_the_finding_names_the_body(
    where: str,
) -> None:
    length = MAX_STRUCTURED_CHARS + WINDOW_CHARS
    value = '"ann@example.com"'
    position = {"start": 0, "middle": length // 2, "end": length,
                "across a window": WINDOW_CHARS + DETECTOR.overlap - 8}[where]
    text = '{"notes": "' + _planted(length, position, value).replace('"', "'") + '"}'
    auditor = EgressAuditor(BOOK)
    auditor.inspect(_request(text.encode(), ("content-type", "application/json")))
    found = {(f.rule, f.place) for f in auditor.findings()}
    # The local part "ann" is also Ann Lee's given name: both are reported.
    assert found == {(Rule.PII_EMAIL, "body"), (Rule.PII_NAME, "body")}


def test_a_large_gzip_body_is_inflated_and_searched_window_by_window() -> None:
    length = 3 * WINDOW_CHARS
    body = gzip.compress(_planted(length, length // 2, "(201) 555-0123").encode(), mtime=0)
    auditor = EgressAuditor(BOOK)
    auditor.inspect(_request(body, ("content-type", "text/plain"),
                             ("content-encoding", "gzip")))
    (finding,) = auditor.findings()
    assert (finding.rule, finding.place) == (Rule.PII_PHONE, "body")
    assert "gzip" in finding.detail


@pytest.mark.parametrize("shift", [0, 1, 2, 3])
def test_an_email_inside_one_long_base64_run_is_found_at_any_alignment(shift: int) -> None:
    # One run across many windows: each window decodes its piece at the right offset.
    for position in (0, 3 * WINDOW // 4 + shift, (WINDOW + DETECTOR.overlap) * 3 // 4 - 10):
        plain = _planted(5 * WINDOW, position + shift, "ann@example.com")
        text = _b64(plain)
        assert len(text) > 2 * WINDOW + DETECTOR.overlap
        kinds = {m.kind for m in DETECTOR.scan_windows(text, window=WINDOW)}
        assert PiiKind.EMAIL in kinds, f"at {position + shift}"
