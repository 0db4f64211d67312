"""Deprecated alias of :mod:`n2net_privacy.uploader.send.decisions`, kept for one release."""

from n2net_privacy._deprecated import moved
from n2net_privacy.uploader.send.decisions import ParkingLot

__all__ = ["ParkingLot"]

moved(__name__, "n2net_privacy.uploader.send.decisions")
