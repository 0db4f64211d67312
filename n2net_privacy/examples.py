"""The example scenarios that ship with the package (``n2net-privacy audit --example``).

One copy lives in the repository's ``examples/scenarios/``; the wheel carries
it as ``n2net_privacy/_examples/scenarios/`` (see pyproject.toml), so an
installed package finds them without a clone::

    from n2net_privacy.examples import scenario_path
    from n2net_privacy.scenario import load_scenario

    loaded = load_scenario(scenario_path("clean"))
"""

from __future__ import annotations

from pathlib import Path

from n2net_privacy.errors import ConfigurationError

__all__ = ["EXAMPLE_SCENARIOS", "scenario_path"]

EXAMPLE_SCENARIOS = ("clean", "leaky")

_PACKAGE = Path(__file__).resolve().parent
# Installed wheel first; then a source checkout (editable install or a clone).
_PLACES = (_PACKAGE / "_examples" / "scenarios", _PACKAGE.parent / "examples" / "scenarios")


def scenario_path(name: str) -> Path:
    """The path of the example scenario ``name`` (``"clean"`` or ``"leaky"``)."""
    if name not in EXAMPLE_SCENARIOS:
        raise ConfigurationError(
            f"unknown example {name!r}; expected one of: {', '.join(EXAMPLE_SCENARIOS)}"
        )
    for place in _PLACES:
        candidate = place / f"{name}.json"
        if candidate.is_file():
            return candidate
    raise ConfigurationError(f"example {name!r} is missing from this installation")
