"""Deprecated alias of :mod:`n2net_privacy.uploader.store.at_rest`, kept for one release."""

from typing import Any

from n2net_privacy._deprecated import moved, moved_names
from n2net_privacy.uploader.store.at_rest import *  # noqa: F403
from n2net_privacy.uploader.store.at_rest import __all__ as __all__  # noqa: PLC0414 (re-exported)

moved(__name__, "n2net_privacy.uploader.store.at_rest")


# The simulated key stores left for n2net_privacy.simulation.
_moved_names = moved_names(__name__, dict.fromkeys(
    ["SimulatedAndroidKeystore", "SimulatedIOSKeychain"], "n2net_privacy.simulation"
))


def __getattr__(name: str) -> Any:
    return _moved_names(name)
