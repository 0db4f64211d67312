"""gravatar_hash: Gravatar's published vectors, normalization, and the email filter."""

from __future__ import annotations

import hashlib
import string

import pytest
from hypothesis import given
from hypothesis import strategies as st

from n2net_privacy.errors import GravatarError
from n2net_privacy.gravatar import (
    HashAlgorithm,
    gravatar_hash,
    is_gravatar_hash,
    looks_like_email,
    normalize_email,
)


@pytest.mark.parametrize(
    ("email", "algorithm", "expected"),
    [
        ("MyEmailAddress@example.com ", "md5", "0bc83cb571cd1c50ba6f3e8a78ef1346"),
        (
            "MyEmailAddress@example.com ",
            "sha256",
            "84059b07d4be67b806386c0aad8070a23f18836bbaae342275dc0a83414c32ee",
        ),
        ("iHaveAn@email.com", "md5", "3b3be63a4c2a439b013787725dfce802"),
        ("iHaveAn@email.com", HashAlgorithm.MD5, "3b3be63a4c2a439b013787725dfce802"),
        (
            "MyEmailAddress@example.com ",
            HashAlgorithm.SHA256,
            "84059b07d4be67b806386c0aad8070a23f18836bbaae342275dc0a83414c32ee",
        ),
        (
            "MyEmailAddress@example.com ",
            "SHA256",
            "84059b07d4be67b806386c0aad8070a23f18836bbaae342275dc0a83414c32ee",
        ),
    ],
)
def test_gravatar_documented_vectors(email: str, algorithm: str, expected: str) -> None:
    assert gravatar_hash(email, algorithm) == expected


def test_default_algorithm_is_md5_as_the_policy_promises() -> None:
    assert gravatar_hash("iHaveAn@email.com") == "3b3be63a4c2a439b013787725dfce802"


@pytest.mark.parametrize("algorithm", ["sha1", "md4", "", "sha-256"])
def test_unknown_algorithm_is_refused_without_echoing_the_email(algorithm: str) -> None:
    with pytest.raises(GravatarError) as info:
        gravatar_hash("secret.person@example.com", algorithm)
    assert "secret" not in str(info.value)


def test_non_string_email_is_a_programmer_error() -> None:
    with pytest.raises(GravatarError):
        gravatar_hash(b"a@b.c")  # type: ignore[arg-type]


@given(st.text(), st.sampled_from(["", " ", "\t", "\n ", "\u3000"]))
def test_surrounding_whitespace_never_changes_the_hash(email: str, pad: str) -> None:
    assert gravatar_hash(pad + email + pad) == gravatar_hash(email)


@given(st.text(alphabet=string.ascii_letters + string.digits + "@._+-"))
def test_ascii_case_never_changes_the_hash(email: str) -> None:
    assert gravatar_hash(email.upper(), "sha256") == gravatar_hash(email.lower(), "sha256")


@given(st.text(), st.sampled_from(list(HashAlgorithm)))
def test_hash_is_the_hex_digest_of_the_normalized_utf8(email: str, algo: HashAlgorithm) -> None:
    digest = hashlib.new(algo.value, email.strip().lower().encode("utf-8")).hexdigest()
    result = gravatar_hash(email, algo)
    assert result == digest
    assert len(result) == algo.hex_length
    assert is_gravatar_hash(result)


def test_normalize_email() -> None:
    assert normalize_email("  Ann.Lee@Example.COM\n") == "ann.lee@example.com"


@pytest.mark.parametrize(
    ("candidate", "ok"),
    [
        ("ann@example.com", True),
        ("  Ann@Example.com  ", True),
        ("a@b", True),
        ('"quoted@local"@example.com', True),
        ("", False),
        ("   ", False),
        ("no-at-sign.example.com", False),
        ("@example.com", False),
        ("ann@", False),
        ("ann lee@example.com", False),
        ("+1 215 555 2671", False),
        (None, False),
        (42, False),
    ],
)
def test_looks_like_email(candidate: object, ok: bool) -> None:
    assert looks_like_email(candidate) is ok


@pytest.mark.parametrize(
    ("value", "ok"),
    [
        ("0" * 32, True),
        ("a" * 64, True),
        ("A" * 32, False),
        ("g" * 32, False),
        ("0" * 31, False),
        ("0" * 40, False),
        ("", False),
        ("ann@example.com", False),
    ],
)
def test_is_gravatar_hash(value: str, ok: bool) -> None:
    assert is_gravatar_hash(value) is ok
