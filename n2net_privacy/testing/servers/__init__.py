"""Loopback servers for tests, the demo and backend teams, with one lifecycle.

Each binds ``127.0.0.1`` on an ephemeral port, serves from its own thread,
and stops cleanly (connections dropped, threads joined) on ``close()`` or
leaving its ``with`` block: see :mod:`~n2net_privacy.testing.servers.loopback`.
"""
