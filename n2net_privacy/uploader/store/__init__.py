"""The durable on-device queue: the SQLite file, the queue with its leases, the at-rest seal.

:mod:`.file` owns the SQLite connection and its lock, :mod:`.queue` the rows
and batches (append, lease, ack, split), :mod:`.at_rest` the key stores and
the AES-GCM seal every row is stored under, :mod:`.drops` why rows are thrown
away. No network here. See docs/uploader.md.
"""
