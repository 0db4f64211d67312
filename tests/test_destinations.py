"""The audit-har destinations policy: declared hosts and ports, and clear errors."""

from __future__ import annotations

from pathlib import Path

import pytest

from n2net_privacy.audit.destinations import DestinationPolicy, DestinationPolicyError


def test_the_default_is_the_sdk_allowlist_on_443() -> None:
    policy = DestinationPolicy.sdk_default()
    assert policy.purpose_for("api.n2net.com", None) == "n2net_api"
    assert policy.purpose_for("GRAVATAR.COM.", 443) == "gravatar"
    assert policy.purpose_for("api.n2net.com", 8443) is None
    assert policy.purpose_for("tracker.example", None) is None


def test_wildcards_match_subdomains_only_and_ports_are_declared() -> None:
    policy = DestinationPolicy.parse(
        '{"destinations": [{"host": "*.cdn.n2net.com", "purpose": "assets", "ports": [443, 8443]}]}'
    )
    assert policy.purpose_for("img.cdn.n2net.com", 8443) == "assets"
    assert policy.purpose_for("cdn.n2net.com", 443) is None
    assert policy.purpose_for("evilcdn.n2net.com", 443) is None


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("{", "<policy>:1: not valid JSON"),
        ("[]", 'expected an object with a "destinations" list'),
        ('{"destinations": [], "extra": 1}', "unknown key.*extra"),
        (
            '{"destinations": [{"host": "a", "purpose": "p", "port": 1}]}',
            r"destinations\[0\]: unknown key",
        ),
        (
            '{"destinations": [{"host": "https://a/", "purpose": "p"}]}',
            '"host" must be a host name',
        ),
        ('{"destinations": [{"host": "a", "purpose": ""}]}', '"purpose" must be'),
        ('{"destinations": [{"host": "a", "purpose": "p", "ports": [0]}]}', '"ports" must be'),
        ('{"destinations": [{"host": "a", "purpose": "p", "ports": [true]}]}', '"ports" must be'),
        ("[" * 5000 + "]" * 5000, "nested too deeply|expected an object"),
    ],
)
def test_bad_policies_say_what_is_wrong(text: str, message: str) -> None:
    with pytest.raises(DestinationPolicyError, match=message):
        DestinationPolicy.parse(text)


def test_a_policy_path_that_is_not_a_regular_file_is_refused(tmp_path: Path) -> None:
    with pytest.raises(DestinationPolicyError, match="not a regular file"):
        DestinationPolicy.load(tmp_path)
    with pytest.raises(DestinationPolicyError, match="not a regular file"):
        DestinationPolicy.load(tmp_path / "missing.json")
