"""GravatarConfig: safe defaults, and bad values refused at start-up."""

from __future__ import annotations

import pytest

from n2net_privacy.errors import ConfigurationError, GravatarError
from n2net_privacy.gravatar import GravatarConfig, Rating


def test_defaults() -> None:
    config = GravatarConfig()
    assert config.concurrency == 8
    assert config.base_url == "https://gravatar.com/avatar/"
    assert config.default_ttl == 3600
    assert config.max_image_bytes == 1024 * 1024
    assert config.cache_dir is None
    builder = config.url_builder()
    assert (builder.host, builder.size, builder.rating) == ("gravatar.com", 80, Rating.G)


@pytest.mark.parametrize(
    ("kwargs", "error"),
    [
        ({"concurrency": 0}, ConfigurationError),
        ({"timeout": 0}, ConfigurationError),
        ({"timeout": float("nan")}, ConfigurationError),
        ({"max_image_bytes": 0}, ConfigurationError),
        ({"memory_entries": 0}, ConfigurationError),
        ({"size": 4096}, GravatarError),
        ({"rating": "nc17"}, GravatarError),
        ({"base_url": "gravatar.com"}, GravatarError),
    ],
)
def test_bad_config_is_refused_up_front(kwargs: dict[str, object], error: type[Exception]) -> None:
    with pytest.raises(error):
        GravatarConfig(**kwargs)  # type: ignore[arg-type]
