"""classify_reply: what a Gravatar reply means, as a table."""

from __future__ import annotations

import pytest

from n2net_privacy.gravatar import (
    MAX_IMAGE_BYTES,
    Avatar,
    NoAvatar,
    NoAvatarReason,
    classify_reply,
)
from n2net_privacy.gravatar.result import image_type_of
from n2net_privacy.testing import make_png

H = "0" * 32
PNG = make_png()
JPEG = b"\xff\xd8\xff\xe0" + b"\x00" * 20
GIF = b"GIF89a" + b"\x00" * 20
WEBP = b"RIFF\x10\x00\x00\x00WEBPVP8 " + b"\x00" * 8

R = NoAvatarReason


@pytest.mark.parametrize(
    ("status", "content_type", "body", "expected"),
    [
        (200, "image/png", PNG, "image/png"),
        (200, "IMAGE/PNG; charset=binary", PNG, "image/png"),
        (200, "image/jpeg", JPEG, "image/jpeg"),
        (200, "image/gif", GIF, "image/gif"),
        (200, "image/webp", WEBP, "image/webp"),
        (200, "text/html", b"<html></html>", R.BAD_IMAGE),
        (200, "image/svg+xml", b"<svg/>", R.BAD_IMAGE),  # svg can carry script
        (200, "image/png", b"<html>lies</html>", R.BAD_IMAGE),
        (200, "image/jpeg", PNG, R.BAD_IMAGE),
        (200, None, PNG, R.BAD_IMAGE),
        (200, "image/png", b"", R.BAD_IMAGE),
        (0, None, b"", R.BAD_IMAGE),  # egress: over the byte cap
        (404, "text/plain", b"Not Found", R.NOT_FOUND),
        (500, "text/plain", b"", R.NETWORK),
        (302, None, b"", R.NETWORK),
        (403, None, b"", R.NETWORK),
    ],
)
def test_classify_reply_table(
    status: int, content_type: str | None, body: bytes, expected: str | NoAvatarReason
) -> None:
    headers = {"content-type": content_type} if content_type else {}
    result = classify_reply(H, status, headers, body)
    if isinstance(expected, NoAvatarReason):
        assert result == NoAvatar(expected)
    else:
        assert result == Avatar(hash=H, content=body, content_type=expected)


def test_body_over_the_limit_is_not_an_avatar() -> None:
    body = PNG + b"\x00" * (MAX_IMAGE_BYTES - len(PNG) + 1)
    assert classify_reply(H, 200, {"content-type": "image/png"}, body) == NoAvatar(R.BAD_IMAGE)
    body = body[:-1]
    assert isinstance(classify_reply(H, 200, {"content-type": "image/png"}, body), Avatar)
    assert classify_reply(H, 200, {"content-type": "image/png"}, PNG, max_bytes=10).found is False


@pytest.mark.parametrize(
    ("reason", "cacheable"),
    [(R.NOT_FOUND, True), (R.BAD_IMAGE, True), (R.NETWORK, False), (R.TIMEOUT, False),
     (R.RATE_LIMITED, False), (R.DISABLED, False), (R.INVALID_EMAIL, False),
     (R.CANCELLED, False)],
)
def test_only_answers_about_the_hash_are_cacheable(reason: NoAvatarReason, cacheable: bool) -> None:
    assert reason.cacheable is cacheable


def test_avatar_repr_does_not_dump_bytes() -> None:
    avatar = Avatar(hash=H, content=PNG, content_type="image/png")
    assert "IHDR" not in repr(avatar)
    assert avatar.size == len(PNG)
    assert avatar.found and not NoAvatar(R.NOT_FOUND).found


def test_image_type_of_needs_both_label_and_magic() -> None:
    assert image_type_of("image/png", PNG) == "image/png"
    assert image_type_of("image/webp", b"RIFF\x00\x00\x00\x00WAVE") is None
    assert image_type_of("", PNG) is None
