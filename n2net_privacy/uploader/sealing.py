"""Deprecated alias of :mod:`n2net_privacy.uploader.wire.seal`, kept for one release."""

from n2net_privacy._deprecated import moved
from n2net_privacy.uploader.wire.seal import *  # noqa: F403
from n2net_privacy.uploader.wire.seal import __all__ as __all__  # noqa: PLC0414 (re-exported)

moved(__name__, "n2net_privacy.uploader.wire.seal")
