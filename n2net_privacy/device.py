"""A simulated device's region facts: which region national-format numbers belong to.

A phone book entry written as ``030 123456`` means nothing without a country.
On a real phone that country comes from the SIM card (the network the user
is on) or, failing that, from the locale the user picked. :class:`DeviceContext`
models exactly those two facts so that tests and demos can say "a German SIM
on an English-US phone" and normalization picks the SIM's region.

>>> DeviceContext(sim_region="de", locale_region="US").default_region
'DE'
>>> DeviceContext.from_locale("pt-BR").default_region
'BR'
"""

from __future__ import annotations

import re
from dataclasses import dataclass

import phonenumbers

from n2net_privacy.checks import require_type

__all__ = ["DeviceContext"]

# Language, optional script, then the region subtag: "en_GB", "zh-Hans-CN", "sr_Latn_RS.UTF-8".
_LOCALE_REGION = re.compile(
    r"^[A-Za-z]{2,8}(?:[-_][A-Za-z]{4})?[-_]([A-Za-z]{2}|\d{3})(?:[-_.@]|$)"
)


def _usable(region: str | None) -> str | None:
    """The region in upper case if phonenumbers knows it, else ``None``."""
    if not region:
        return None
    code = region.strip().upper()
    return code if code in phonenumbers.SUPPORTED_REGIONS else None


@dataclass(frozen=True, slots=True)
class DeviceContext:
    """The SIM region and the locale region of a (simulated) device.

    Either may be missing or unusable, as on real devices: no SIM reports an
    empty country, and a locale such as ``es-419`` has a region (Latin
    America) that no numbering plan belongs to. Values are kept as given;
    :attr:`default_region` decides.
    """

    sim_region: str | None = None
    locale_region: str | None = None

    def __post_init__(self) -> None:
        # Unknown regions are kept (real devices report them); wrong types are bugs.
        for name in ("sim_region", "locale_region"):
            value = getattr(self, name)
            if value is not None:
                require_type(name, value, str, hint="an ISO 3166-1 alpha-2 code such as 'US'")

    @classmethod
    def from_locale(cls, locale: str, *, sim_region: str | None = None) -> DeviceContext:
        """Build a context from a locale tag (``en_GB``, ``de-DE``, ``zh-Hans-CN``)."""
        require_type("locale", locale, str, hint="a locale tag such as 'en_GB'")
        match = _LOCALE_REGION.match(locale.strip())
        return cls(sim_region=sim_region, locale_region=match.group(1) if match else None)

    @property
    def default_region(self) -> str | None:
        """The region for national-format input: the SIM's if usable, else the locale's.

        The SIM wins because it says where the user actually is; a phone set
        to English-US in Berlin dials German numbers. ``None`` when neither is
        usable, and then national-format input is refused rather than guessed.
        """
        return _usable(self.sim_region) or _usable(self.locale_region)
