"""The pure avatar URL builder: s, d=404 and r only; never an email."""

from __future__ import annotations

from urllib.parse import parse_qs, urlsplit

import pytest
from hypothesis import given
from hypothesis import strategies as st

from n2net_privacy.errors import GravatarError
from n2net_privacy.gravatar import DEFAULT_BASE_URL, AvatarUrlBuilder, Rating, avatar_url

MD5 = "0bc83cb571cd1c50ba6f3e8a78ef1346"
SHA = "84059b07d4be67b806386c0aad8070a23f18836bbaae342275dc0a83414c32ee"


def test_default_url() -> None:
    assert DEFAULT_BASE_URL == "https://gravatar.com/avatar/"
    assert avatar_url(MD5) == f"https://gravatar.com/avatar/{MD5}?s=80&d=404&r=g"


@pytest.mark.parametrize(
    ("kwargs", "expected"),
    [
        ({"size": 1}, f"https://gravatar.com/avatar/{MD5}?s=1&d=404&r=g"),
        ({"size": 2048}, f"https://gravatar.com/avatar/{MD5}?s=2048&d=404&r=g"),
        ({"rating": "PG"}, f"https://gravatar.com/avatar/{MD5}?s=80&d=404&r=pg"),
        ({"rating": Rating.X}, f"https://gravatar.com/avatar/{MD5}?s=80&d=404&r=x"),
        ({"base_url": "https://www.gravatar.com/avatar"},
         f"https://www.gravatar.com/avatar/{MD5}?s=80&d=404&r=g"),
        ({"base_url": "http://127.0.0.1:8080/avatar/"},
         f"http://127.0.0.1:8080/avatar/{MD5}?s=80&d=404&r=g"),
    ],
)
def test_url_table(kwargs: dict[str, object], expected: str) -> None:
    assert avatar_url(MD5, **kwargs) == expected  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"size": 0}, "size must be in 1..2048"),
        ({"size": 2049}, "size must be in 1..2048"),
        ({"size": -5}, "size must be in 1..2048"),
        ({"size": True}, "size must be an int"),
        ({"size": 80.0}, "size must be an int"),
        ({"rating": "nc17"}, "unknown rating"),
        ({"rating": ""}, "unknown rating"),
        ({"base_url": "ftp://gravatar.com/avatar/"}, "http(s) URL"),
        ({"base_url": "gravatar.com/avatar/"}, "http(s) URL"),
        ({"base_url": "https://gravatar.com/avatar/?d=mp"}, "must not carry a query"),
        ({"base_url": "https://user:pw@gravatar.com/avatar/"}, "credentials"),
    ],
)
def test_bad_arguments_raise_a_clear_error(kwargs: dict[str, object], message: str) -> None:
    with pytest.raises(GravatarError, match=message.replace("(", r"\(").replace(")", r"\)")):
        avatar_url(MD5, **kwargs)  # type: ignore[arg-type]


@pytest.mark.parametrize(
    "not_a_hash",
    ["Secret.Person@example.com", "secret.person@example.com", MD5.upper(), MD5[:-1], "", "x" * 32],
)
def test_anything_but_a_hex_hash_is_refused_and_not_echoed(not_a_hash: str) -> None:
    with pytest.raises(GravatarError) as info:
        avatar_url(not_a_hash)
    assert "secret" not in str(info.value).lower()


def test_builder_validates_once_and_exposes_the_host() -> None:
    builder = AvatarUrlBuilder(base_url="https://Gravatar.com/avatar", size=64, rating="r")  # type: ignore[arg-type]
    assert builder.host == "gravatar.com"
    assert builder.rating is Rating.R
    assert builder.url(SHA) == f"https://Gravatar.com/avatar/{SHA}?s=64&d=404&r=r"


@given(
    st.sampled_from([32, 64]).flatmap(
        lambda n: st.text(alphabet="0123456789abcdef", min_size=n, max_size=n)
    ),
    st.integers(min_value=1, max_value=2048),
    st.sampled_from(list(Rating)),
)
def test_url_carries_the_hash_and_exactly_three_parameters(
    email_hash: str, size: int, rating: Rating
) -> None:
    parts = urlsplit(avatar_url(email_hash, size=size, rating=rating))
    assert parts.path == f"/avatar/{email_hash}"
    assert parse_qs(parts.query) == {"s": [str(size)], "d": ["404"], "r": [rating.value]}
    assert not parts.fragment
