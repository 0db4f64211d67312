"""Deprecated alias of :mod:`n2net_privacy.uploader.wire.seal`, kept for one release."""

from n2net_privacy._deprecated import moved
from n2net_privacy.uploader.wire.seal import ServerKeyRing, server_keys

__all__ = ["ServerKeyRing", "server_keys"]

moved(__name__, "n2net_privacy.uploader.wire.seal")
