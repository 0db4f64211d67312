"""The scenario file's models: every step parses, nothing is coerced, nothing extra rides."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from pydantic import ValidationError

from n2net_privacy.audit.corpus.leaky_client import LeakEncoding, LeakKind, LeakPlace
from n2net_privacy.scenario.model import (
    STEP_TYPES,
    AndroidPlatform,
    IOSPlatform,
    LeakStep,
    Recipient,
    RecordCallStep,
    Scenario,
    SelectAnswer,
)

ROOT = Path(__file__).resolve().parents[1]
EXAMPLES = ROOT / "examples" / "scenarios"
BASE: dict[str, Any] = {
    "version": 1,
    "platform": {"os": "android", "api_level": 34},
    "address_book": {"synthetic": {"count": 5, "seed": 1}},
}

MINIMAL_STEPS: dict[str, dict[str, Any]] = {
    "request_permission": {},
    "settings_grant": {},
    "settings_revoke": {},
    "settings_set_limited": {"ids": ["syn-0001"]},
    "mdm_restrict": {},
    "list_contacts": {},
    "search": {"by": "name", "query": "Ann"},
    "enable_gravatar": {},
    "disable_gravatar": {},
    "fetch_avatars": {},
    "record_sms": {"to": "+12015550123"},
    "record_call": {"to": {"contact": "syn-0001"}, "duration_s": 0},
    "server_outage": {"down": True},
    "flush": {},
    "leak": {"kind": "email", "place": "query"},
}


def scenario(*steps: dict[str, Any], **top: Any) -> Scenario:
    return Scenario.model_validate_json(json.dumps({**BASE, **top, "steps": list(steps)}))


def test_every_step_type_has_a_minimal_form_and_nothing_is_missed() -> None:
    assert set(MINIMAL_STEPS) == set(STEP_TYPES)
    parsed = scenario(*({"step": name, **fields} for name, fields in MINIMAL_STEPS.items()))
    assert tuple(step.step for step in parsed.steps) == STEP_TYPES


def test_defaults_are_the_documented_ones() -> None:
    parsed = scenario(
        {"step": "list_contacts"}, {"step": "fetch_avatars"}, {"step": "flush"},
        {"step": "leak", "kind": "name", "place": "header"},
    )
    listing, fetch, flush, leak = parsed.steps
    assert listing.page_size == 100  # type: ignore[union-attr]
    assert (fetch.limit, fetch.mode) == (None, "async")  # type: ignore[union-attr]
    assert flush.timeout_s == 5.0  # type: ignore[union-attr]
    assert isinstance(leak, LeakStep)
    assert (leak.kind, leak.place, leak.encoding, leak.contact) == (
        LeakKind.NAME, LeakPlace.HEADER, LeakEncoding.PLAIN, None
    )
    assert isinstance(parsed.platform, AndroidPlatform) and parsed.platform.region == "US"
    assert parsed.answers == () and parsed.title is None


def test_platforms_answers_and_book_sources() -> None:
    parsed = scenario(
        {"step": "flush"},
        platform={"os": "ios", "ios_version": 18, "region": "de"},
        answers=["deny", {"select": ["a", "b"]}, "grant"],
        address_book={"contacts": [{"id": "a", "display_name": "Ann Lee"}]},
    )
    assert isinstance(parsed.platform, IOSPlatform)
    assert (parsed.platform.ios_version, parsed.platform.region) == (18, "DE")
    assert parsed.answers == ("deny", SelectAnswer(select=("a", "b")), "grant")
    assert parsed.address_book.contacts is not None
    assert parsed.address_book.contacts[0].display_name == "Ann Lee"
    assert scenario({"step": "flush"}, address_book={"path": "book.vcf"}).address_book.path


@pytest.mark.parametrize(("to", "expected"), [
    ("+1 201 555 0123", Recipient(number="+1 201 555 0123")),
    ({"number": "+12015550123"}, Recipient(number="+12015550123")),
    ({"contact": "syn-0002"}, Recipient(contact="syn-0002", phone=0)),
    ({"contact": "syn-0002", "phone": 1}, Recipient(contact="syn-0002", phone=1)),
])
def test_a_recipient_is_a_contact_phone_or_a_literal_number(to: Any, expected: Recipient) -> None:
    step = scenario({"step": "record_call", "to": to, "duration_s": 3}).steps[0]
    assert isinstance(step, RecordCallStep)
    assert step.to == expected


# Each case breaks one rule; (what to merge into the document, the pydantic error type).
REJECTED: list[tuple[str, dict[str, Any], str]] = [
    ("version 2", {"version": 2}, "value_error"),
    ("version as a string", {"version": "1"}, "int_type"),
    ("version true", {"version": True}, "int_type"),
    ("unknown top-level key", {"extra": 1}, "extra_forbidden"),
    ("unknown os", {"platform": {"os": "windows"}}, "union_tag_invalid"),
    ("api level as a string", {"platform": {"os": "android", "api_level": "34"}}, "int_type"),
    ("unknown region", {"platform": {"os": "ios", "ios_version": 18, "region": "XX"}},
     "value_error"),
    ("two book sources", {"address_book": {"synthetic": {"count": 1}, "path": "b.json"}},
     "value_error"),
    ("no book source", {"address_book": {}}, "value_error"),
    ("inline contact with a bad email",
     {"address_book": {"contacts": [{"id": "a", "emails": ["Ann Lee"]}]}}, "value_error"),
    ("unknown answer", {"answers": ["maybe"]}, "literal_error"),
    ("no steps", {"steps": []}, "too_short"),
    ("unknown step", {"steps": [{"step": "reboot"}]}, "union_tag_invalid"),
    ("step without a type", {"steps": [{"down": True}]}, "union_tag_not_found"),
    ("unknown step field", {"steps": [{"step": "flush", "timeout": 1}]}, "extra_forbidden"),
    ("missing duration", {"steps": [{"step": "record_call", "to": "+12015550123"}]}, "missing"),
    ("duration as a string",
     {"steps": [{"step": "record_call", "to": "+12015550123", "duration_s": "3"}]}, "int_type"),
    ("negative duration",
     {"steps": [{"step": "record_call", "to": "+12015550123", "duration_s": -1}]},
     "greater_than_equal"),
    ("outage 1 for true", {"steps": [{"step": "server_outage", "down": 1}]}, "bool_type"),
    ("contact and number", {"steps": [
        {"step": "record_sms", "to": {"contact": "a", "number": "+12015550123"}}]}, "value_error"),
    ("phone index with a number", {"steps": [
        {"step": "record_sms", "to": {"number": "+12015550123", "phone": 0}}]}, "value_error"),
    ("gzip in a query", {"steps": [
        {"step": "leak", "kind": "email", "place": "query", "encoding": "gzip"}]}, "value_error"),
    ("unknown leak kind", {"steps": [{"step": "leak", "kind": "ssn", "place": "query"}]}, "enum"),
    ("flush for an hour", {"steps": [{"step": "flush", "timeout_s": 3600}]}, "less_than_equal"),
    ("search by address", {"steps": [{"step": "search", "by": "address", "query": "x"}]},
     "literal_error"),
]


@pytest.mark.parametrize(("document", "error_type"),
                         [(doc, kind) for _, doc, kind in REJECTED],
                         ids=[name for name, _, _ in REJECTED])
def test_the_schema_rejects(document: dict[str, Any], error_type: str) -> None:
    data = {**BASE, "steps": [{"step": "flush"}], **document}
    with pytest.raises(ValidationError) as info:
        Scenario.model_validate_json(json.dumps(data))
    assert error_type in {error["type"] for error in info.value.errors()}


def test_validation_errors_never_carry_the_input() -> None:
    data = {**BASE, "steps": [
        {"step": "record_call", "to": {"contact": "x"}, "duration_s": "ann.lee@example.com"},
        {"step": "search", "by": "+1 215 555 2671", "query": "q"},
    ]}
    with pytest.raises(ValidationError) as info:
        Scenario.model_validate_json(json.dumps(data))
    text = str(info.value) + repr(info.value.errors(include_input=False))
    assert "ann.lee" not in text
    assert "555" not in text


def test_models_are_frozen() -> None:
    parsed = scenario({"step": "flush"})
    with pytest.raises(ValidationError):
        parsed.version = 2


@pytest.mark.parametrize("name", ["clean.json", "leaky.json"])
def test_the_shipped_examples_are_valid(name: str) -> None:
    parsed = Scenario.model_validate_json((EXAMPLES / name).read_text(encoding="utf-8"))
    assert ("leak" in {step.step for step in parsed.steps}) == (name == "leaky.json")


def test_the_docs_describe_every_step() -> None:
    docs = (ROOT / "docs" / "scenarios.md").read_text(encoding="utf-8")
    documented = set(re.findall(r"^\| `([a-z_]+)` \|", docs, flags=re.MULTILINE))
    assert set(STEP_TYPES) <= documented


# --- property: any well-formed scenario round-trips through JSON ----------------------

_ids = st.from_regex(r"syn-[0-9]{4}", fullmatch=True)
_recipients = st.one_of(
    st.builds(lambda c, p: {"contact": c, "phone": p}, _ids, st.integers(0, 3)),
    st.from_regex(r"\+[1-9][0-9]{7,12}", fullmatch=True),
)
_steps = st.one_of(
    st.sampled_from([{"step": name} for name, f in MINIMAL_STEPS.items() if not f]),
    st.builds(lambda ids: {"step": "settings_set_limited", "ids": ids}, st.lists(_ids)),
    st.builds(lambda n: {"step": "list_contacts", "page_size": n}, st.integers(1, 10_000)),
    st.builds(lambda by, q: {"step": "search", "by": by, "query": q},
              st.sampled_from(["name", "number", "email"]), st.text(min_size=1, max_size=20)),
    st.builds(lambda to: {"step": "record_sms", "to": to}, _recipients),
    st.builds(lambda to, d: {"step": "record_call", "to": to, "duration_s": d},
              _recipients, st.integers(0, 2**31 - 1)),
    st.builds(lambda down: {"step": "server_outage", "down": down}, st.booleans()),
    st.builds(lambda t: {"step": "flush", "timeout_s": t},
              st.floats(0.001, 60, allow_nan=False)),
    st.builds(lambda k, p: {"step": "leak", "kind": k, "place": p},
              st.sampled_from(list(LeakKind)), st.sampled_from(list(LeakPlace))),
)


@settings(max_examples=60, deadline=None)
@given(steps=st.lists(_steps, min_size=1, max_size=12))
def test_well_formed_scenarios_parse_in_order(steps: list[dict[str, Any]]) -> None:
    parsed = Scenario.model_validate_json(json.dumps({**BASE, "steps": steps}))
    assert [step.step for step in parsed.steps] == [step["step"] for step in steps]
    again = Scenario.model_validate_json(parsed.model_dump_json(exclude_defaults=True))
    assert again == parsed
