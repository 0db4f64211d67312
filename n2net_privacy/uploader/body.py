"""Deprecated alias: :class:`Envelope` is in :mod:`n2net_privacy.uploader.wire.payload`.

``Flight`` is in :mod:`n2net_privacy.uploader.send.sender` and ``error_code`` in
:mod:`n2net_privacy.uploader.wire.models`. Kept for one release.
"""

from n2net_privacy._deprecated import moved
from n2net_privacy.uploader.send.sender import Flight
from n2net_privacy.uploader.wire.models import error_code
from n2net_privacy.uploader.wire.payload import Envelope

__all__ = ["Envelope", "Flight", "error_code"]

moved(__name__, "n2net_privacy.uploader.wire.payload")
