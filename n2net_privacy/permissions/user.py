"""Deprecated alias of :mod:`n2net_privacy.simulation.user`, kept for one release."""

from n2net_privacy._deprecated import moved
from n2net_privacy.simulation.user import *  # noqa: F403
from n2net_privacy.simulation.user import __all__ as __all__  # noqa: PLC0414 (re-exported)

moved(__name__, "n2net_privacy.simulation.user")
