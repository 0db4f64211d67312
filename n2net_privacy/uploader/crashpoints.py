"""Deprecated alias of :mod:`n2net_privacy.uploader._process`, kept for one release."""

from n2net_privacy._deprecated import moved
from n2net_privacy.uploader._process import CrashHook, CrashPoint

__all__ = ["CrashHook", "CrashPoint"]

moved(__name__, "n2net_privacy.uploader")
