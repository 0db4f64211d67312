"""Deprecated alias of :mod:`n2net_privacy.uploader.send.worker`, kept for one release."""

from n2net_privacy._deprecated import moved
from n2net_privacy.uploader.send.worker import *  # noqa: F403
from n2net_privacy.uploader.send.worker import __all__ as __all__  # noqa: PLC0414 (re-exported)

moved(__name__, "n2net_privacy.uploader.send.worker")
