"""Fleet load tests: :mod:`.fleet` (simulated devices) and :mod:`.locust` (the Locust kit).

Nothing is imported here: importing :mod:`.locust` gevent-patches the process.
"""
