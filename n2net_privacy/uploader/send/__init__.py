"""Sending: pure decisions, one attempt at a time, and the thread that paces them.

:mod:`.decisions` is pure (what to do after an attempt, when to cut a batch,
which failing batch to park); :mod:`.sender` makes one attempt through the
egress client it is given; :mod:`.worker` runs the sender on a thread. This
``__init__`` imports none of them, so the pure module loads alone.
"""
