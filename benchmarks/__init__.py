"""Benchmarks, run by ``make bench`` (never by ``make test``).

Timings are reported, not asserted: the machines are shared and noisy.
"""
