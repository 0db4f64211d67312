"""The simulated device context: which region national-format numbers belong to."""

from __future__ import annotations

import dataclasses

import phonenumbers
import pytest
from hypothesis import given
from hypothesis import strategies as st

from n2net_privacy.device import DeviceContext


@pytest.mark.parametrize(
    ("sim", "locale", "expected"),
    [
        ("DE", "US", "DE"),  # a German SIM in a phone set to English-US: the SIM wins
        ("de", "us", "DE"),  # Android reports SIM countries in lower case
        (" gb ", None, "GB"),
        (None, "US", "US"),  # no SIM: the locale decides
        ("", "FR", "FR"),  # empty SIM country, as a device without a SIM reports it
        ("ZZ", "JP", "JP"),  # a SIM region phonenumbers does not know falls back
        ("AQ", None, None),  # Antarctica has no numbering plan of its own
        (None, "419", None),  # es-419: Latin America is no numbering plan either
        (None, None, None),
    ],
)
def test_default_region(sim: str | None, locale: str | None, expected: str | None) -> None:
    assert DeviceContext(sim_region=sim, locale_region=locale).default_region == expected


@pytest.mark.parametrize(
    ("locale", "region"),
    [
        ("en_GB", "GB"),
        ("de-DE", "DE"),
        ("pt-BR", "BR"),
        ("zh-Hans-CN", "CN"),
        ("sr_Latn_RS.UTF-8", "RS"),
        ("en_US.UTF-8", "US"),
        ("fr_CA@euro", "CA"),
        ("es-419", "419"),
        ("en", None),
        ("C", None),
        ("", None),
    ],
)
def test_from_locale_takes_the_region_subtag(locale: str, region: str | None) -> None:
    assert DeviceContext.from_locale(locale).locale_region == region


def test_from_locale_keeps_the_sim_first() -> None:
    device = DeviceContext.from_locale("en_US", sim_region="IN")
    assert device == DeviceContext(sim_region="IN", locale_region="US")
    assert device.default_region == "IN"


def test_context_is_immutable() -> None:
    device = DeviceContext(sim_region="DE")
    with pytest.raises(dataclasses.FrozenInstanceError):
        device.sim_region = "US"  # type: ignore[misc]


@given(sim=st.one_of(st.none(), st.text(max_size=5)), locale=st.text(max_size=30))
def test_any_values_give_a_known_region_or_none(sim: str | None, locale: str) -> None:
    region = DeviceContext.from_locale(locale, sim_region=sim).default_region
    assert region is None or region in phonenumbers.SUPPORTED_REGIONS
