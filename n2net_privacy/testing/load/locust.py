"""Fleet load tests on Locust: every simulated user is one device running the real SDK.

A locustfile needs one line::

    from n2net_privacy.testing.load.locust import DeviceUser  # noqa: F401

and runs unchanged on one machine (``--processes N``) or on Locust's
distributed mode (``--master`` and ``--worker``). Each :class:`DeviceUser` is
a :class:`~n2net_privacy.testing.load.fleet.Device`: its own data directory,
encrypted queue and key store, recording SMS and calls through the real
``Uploader`` and posting its own sealed batches to ``--host``.

The sender is driven on the user's greenlet (one ``record_*`` and one send
attempt per task), never on a monkey-patched thread: see docs/backend.md.

Statistics, in Locust's tables, CSV and web UI, summed across workers:

- ``POST /v1/events``: one row per batch attempt that reached the network,
  with its latency and outcome (any non-2xx or network error is a failure);
  the size column is the request's size on the wire (the sealed batch);
- ``EVENTS recorded / delivered / retried / held / dead-lettered``: one
  request per event, so the count is events and the rate is events/s.
  Dead-lettered events are failures. These rows do not enter "Aggregated".

They are complete when the run ends, whatever the load: before Locust stops,
the master has every worker stop its devices (each sends what it holds, in
``on_stop``) and waits for that worker's last report. Locust alone waits half
a second for it. Its ``--csv`` files are the exception: Locust rewrites them
once a second and not at exit; the end-of-run summary and ``--json-file`` are
final (docs/backend.md, "What Locust reports").

Options (``locust --help``, each also an environment variable) choose the
keys, the rate, restarts, outages and the scenario (``steady``,
``reconnect-storm``, ``key-rotation``).
"""

from __future__ import annotations

import functools
import logging
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeVar

import gevent
from gevent.event import Event
from locust import User, argument_parser, events, task
from locust.env import Environment
from locust.rpc.protocol import Message
from locust.runners import LocalRunner, MasterRunner, WorkerRunner

from n2net_privacy.errors import BatchFailed, ConfigurationError  # BatchFailed: importable here too
from n2net_privacy.testing.load.fleet import (
    Device,
    DeviceConfig,
    Plan,
    Scenario,
    parse_server_keys,
)
from n2net_privacy.uploader.send.sender import MAX_BATCH_EVENTS, MAX_LINGER_S, SenderConfig

__all__ = ["BatchFailed", "DeviceUser"]

EVENTS = "EVENTS"
POST_NAME = "/v1/events"
_RUN = {"started_at": time.monotonic()}
# Scenario times left unset follow the run time (-t): these fractions of it.
_DEFAULT_THIRD = 1 / 3
# The stop handshake between the master and its workers (custom Locust messages).
_STOP_DEVICES = "n2net_stop_devices"
_DEVICES_STOPPED = "n2net_devices_stopped"
# How much longer than the devices' drain the master waits for a worker's last
# report; Locust gives its own "stop" this margin too (MasterRunner.stop).
_STOP_MARGIN_S = 60.0
_log = logging.getLogger(__name__)
_Listener = TypeVar("_Listener", bound=Callable[..., None])


def _listen(hook: Any) -> Callable[[_Listener], _Listener]:
    """``hook.add_listener`` as a typed decorator (Locust's EventHook is untyped)."""

    def register(handler: _Listener) -> _Listener:
        hook.add_listener(handler)
        return handler

    return register


@_listen(events.init_command_line_parser)
def _add_options(parser: Any) -> None:
    group = parser.add_argument_group("n2net-privacy fleet (n2net_privacy.testing.load.locust)")

    def option(name: str, **kwargs: Any) -> None:
        env = "N2NET_" + name.upper().replace("-", "_")
        group.add_argument(f"--n2net-{name}", env_var=env, **kwargs)

    option("app-key", default="", help="the app key the ingest expects")
    option("server-keys", default="", help="id=base64 raw public keys, current first")
    option("scenario", default=Scenario.STEADY.value, choices=[s.value for s in Scenario],
           help="steady | reconnect-storm | key-rotation")
    option("events-per-s", type=float, default=1.0, help="events each device records per second")
    option("restart-every", type=float, default=0.0,
           help="mean seconds between a device's restarts (0: never)")
    option("outage-every", type=float, default=0.0,
           help="mean seconds between a device's own outages (0: never)")
    option("outage-s", type=float, default=5.0, help="how long a device's own outage lasts")
    option("storm-at", type=float, default=None,
           help="reconnect-storm: when the fleet goes offline (default: a third of -t)")
    option("storm-outage-s", type=float, default=None,
           help="reconnect-storm: how long it stays offline (default: a third of -t)")
    option("rotate-keys", default="", help="key-rotation: the keys devices switch to")
    option("rotate-at", type=float, default=None,
           help="key-rotation: when devices start switching (default: a third of -t)")
    option("rotate-window", type=float, default=None,
           help="key-rotation: over how long they switch (default: a third of -t)")
    option("batch-max-events", type=int, default=MAX_BATCH_EVENTS)
    option("linger-s", type=float, default=MAX_LINGER_S)
    option("drain-s", type=float, default=10.0,
           help="at stop, how long each device may send what it still holds")
    option("quiet-s", type=float, default=0.0,
           help="stop recording this long before -t ends, so every device has sent all it "
           "holds when Locust stops, and the stop is quick")
    option("results-dir", default="", help="write each device's summary JSON here")
    option("data-dir", default="", help="where device data directories go (default: temp)")
    option("ca-file", default="", help="a CA bundle to trust for an https --host")


@_listen(events.init)
def _fill_scenario_times(environment: Environment, **_: Any) -> None:
    """On the master (or alone): unset scenario times follow -t; workers get them from it."""
    # httpx logs every request at INFO, which Locust shows: the POST rows say it all.
    logging.getLogger("httpx").setLevel(logging.WARNING)
    options = environment.parsed_options
    if options is None or isinstance(environment.runner, WorkerRunner):
        return
    # gevent caches the loop's time, and nothing has run the loop while the
    # locustfile was imported (seconds on a busy machine). Locust starts the -t
    # timer from that cached time, so the run would end that much early, before
    # the quiet period or a scenario's events that the devices time on the clock.
    gevent.get_hub().loop.update_now()
    third = (options.run_time or 180) * _DEFAULT_THIRD
    for name in ("storm_at", "storm_outage_s", "rotate_at", "rotate_window"):
        if getattr(options, f"n2net_{name}", None) is None:
            setattr(options, f"n2net_{name}", third)
    # Workers are not told -t; custom options (this one too) reach them with each spawn.
    if options.run_time and options.n2net_quiet_s > 0:
        options.n2net_record_until = max(options.run_time - options.n2net_quiet_s, 0.0)


@_listen(events.test_start)
def _mark_start(**_: Any) -> None:
    _RUN["started_at"] = time.monotonic()


@_listen(events.test_stopping)
def _let_devices_finish_their_step(environment: Environment, **_: Any) -> None:
    """A user stops between two steps, never in the middle of a POST.

    With no stop timeout (Locust's default) Locust kills each user where it is:
    a POST in flight then reaches the ingest, yet no statistic counts it (the
    kill is a ``GreenletExit``, which the egress does not audit). With one, a
    waiting user is stopped at once and a busy one after its step; either way
    ``on_stop`` then drains. Restored at ``test_stop``. Set for a one-process
    run only; workers keep Locust's default for now.
    """
    options = environment.parsed_options
    if not isinstance(environment.runner, LocalRunner) or environment.stop_timeout:
        return
    drain_s = float(options.n2net_drain_s) if options is not None else 0.0
    _RUN["stop_timeout_was"] = environment.stop_timeout
    environment.stop_timeout = drain_s + _STOP_MARGIN_S


@_listen(events.test_stop)
def _restore_stop_timeout(environment: Environment, **_: Any) -> None:
    if "stop_timeout_was" in _RUN:
        environment.stop_timeout = _RUN.pop("stop_timeout_was")


@_listen(events.init)
def _remember_locusts_defaults(environment: Environment, **_: Any) -> None:
    """Workers: compute Locust's own option defaults once, not once per option per spawn.

    A worker handling a "spawn" message builds Locust's whole argument parser
    again for every option the master sent (``WorkerRunner.worker`` in
    Locust's ``runners.py`` calls ``argument_parser.default_args_dict()``
    inside a comprehension over them): about 1.5 s of CPU per message with
    this kit's options, and the master sends one every second of the ramp-up,
    so the worker missed its heartbeats and the master gave it up. The
    defaults never change within a process; each call still gets its own copy.
    """
    if not isinstance(environment.runner, WorkerRunner):
        return
    compute = argument_parser.default_args_dict
    if getattr(compute, "n2net_cached", False):
        return
    defaults = functools.cache(compute)

    def default_args_dict() -> dict[str, Any]:
        return dict(defaults())

    default_args_dict.n2net_cached = True  # type: ignore[attr-defined]
    argument_parser.default_args_dict = default_args_dict


@_listen(events.init)
def _handshake_at_stop(environment: Environment, **_: Any) -> None:
    """Distributed runs: the master counts what devices send while they stop.

    A device sends what it still holds in ``on_stop``; its worker reports
    those requests only after all its users have stopped. Locust's master sends
    "quit" and waits half a second for that last report (``MasterRunner.quit``),
    so under load it came too late and the master's figures missed it.
    """
    runner = environment.runner
    if isinstance(runner, WorkerRunner):
        runner.register_message(_STOP_DEVICES, _stop_devices_and_report, concurrent=True)
    elif isinstance(runner, MasterRunner):
        reports = _LastReports(runner)
        runner.register_message(_DEVICES_STOPPED, reports.arrived)
        _listen(environment.events.test_stopping)(reports.collect)


def _stop_devices_and_report(environment: Environment, msg: Message, **_: Any) -> None:
    """On a worker: stop every device (each drains in on_stop), then send the last report."""
    runner = environment.runner
    if not isinstance(runner, WorkerRunner):
        return
    runner.stop()  # returns when every user's on_stop has
    report: dict[str, Any] = {}
    # What WorkerRunner sends every 3 s: the statistics since its last report.
    report_to_master: Any = environment.events.report_to_master  # an untyped EventHook
    report_to_master.fire(client_id=runner.client_id, data=report)
    runner.send_message("stats", report)
    # The same socket keeps order: the master has merged the report when this arrives.
    runner.send_message(_DEVICES_STOPPED)


class _LastReports:
    """On the master: before Locust stops the run, every worker's last report arrives."""

    def __init__(self, runner: MasterRunner) -> None:
        self._runner = runner
        self._waiting: set[str] = set()
        self._all_in = Event()

    def arrived(self, environment: Environment, msg: Message, **_: Any) -> None:
        self._waiting.discard(msg.node_id)
        if not self._waiting:
            self._all_in.set()

    def collect(self, environment: Environment, **_: Any) -> None:
        """On test_stopping: ask each worker to stop its devices; wait for their reports."""
        clients = self._runner.clients
        workers = {node.id for node in clients.ready + clients.spawning + clients.running}
        if not workers:
            return
        self._waiting = set(workers)
        self._all_in.clear()
        for worker in workers:
            self._runner.send_message(_STOP_DEVICES, client_id=worker)
        options = environment.parsed_options
        drain_s = float(options.n2net_drain_s) if options is not None else 0.0
        if not self._all_in.wait(timeout=drain_s + _STOP_MARGIN_S):
            _log.warning(
                "%d of %d workers did not report after stopping their devices; Locust's "
                "figures may miss what those devices sent while stopping",
                len(self._waiting), len(workers),
            )


class _LocustMetrics:
    """Writes a device's reports into this process's Locust statistics."""

    def __init__(self, environment: Environment) -> None:
        self._env = environment

    def batch(self, response_time_ms: float, request_bytes: int, failure: str | None) -> None:
        request: Any = self._env.events.request  # an untyped EventHook
        request.fire(
            request_type="POST", name=POST_NAME, response_time=response_time_ms,
            response_length=request_bytes,
            exception=None if failure is None else BatchFailed(failure), context={},
        )

    def events(self, name: str, count: int, failure: str | None = None) -> None:
        # Straight into the row, not through events.request: counters stay out of
        # "Aggregated", which then describes the POSTs alone.
        stats = self._env.stats
        entry = stats.get(name, EVENTS)
        for _ in range(count):
            entry.log(0, 0)
            if failure is not None:
                stats.log_error(EVENTS, name, failure)


def _config(environment: Environment, host: str) -> tuple[DeviceConfig, Plan]:
    options = environment.parsed_options
    if options is None:
        raise ConfigurationError("DeviceUser runs under the locust command")
    if not options.n2net_app_key or not options.n2net_server_keys:
        raise ConfigurationError("set --n2net-app-key and --n2net-server-keys (or N2NET_*)")
    sender = SenderConfig(
        batch_max_events=options.n2net_batch_max_events, linger_s=options.n2net_linger_s
    )
    config = DeviceConfig(
        target=host, app_key=options.n2net_app_key,
        server_keys=parse_server_keys(options.n2net_server_keys),
        events_per_s=options.n2net_events_per_s,
        restart_every_s=options.n2net_restart_every,
        outage_every_s=options.n2net_outage_every, outage_s=options.n2net_outage_s,
        drain_s=options.n2net_drain_s, sender=sender, ca_file=options.n2net_ca_file or None,
    )
    third = (options.run_time or 180) * _DEFAULT_THIRD

    def when(name: str) -> float:
        value = getattr(options, f"n2net_{name}", None)
        return float(third if value is None else value)

    record_until = getattr(options, "n2net_record_until", None)
    plan = Plan(
        scenario=Scenario(options.n2net_scenario),
        outage_at=when("storm_at"), outage_s=when("storm_outage_s"),
        rotate_at=when("rotate_at"), rotate_window_s=when("rotate_window"),
        rotate_keys=parse_server_keys(options.n2net_rotate_keys),
        record_until=float("inf") if record_until is None else float(record_until),
    )
    return config, plan


class DeviceUser(User):
    """One simulated device per Locust user. Configure with ``--n2net-*`` options."""

    def __init__(self, environment: Environment) -> None:
        super().__init__(environment)
        self.device: Device | None = None
        self._wait = 0.0

    def on_start(self) -> None:
        host = self.environment.host or self.host
        if not host:
            raise ConfigurationError("DeviceUser needs --host, the ingest's base URL")
        config, plan = _config(self.environment, host)
        options = self.environment.parsed_options
        # Locust starts a whole second's worth of users at once, and a device's
        # creation (SQLite files, keys) never yields: without this turn of the
        # loop the heartbeats and the other devices' replies waited for all of them.
        gevent.sleep(0)
        self.device = Device(
            config, _LocustMetrics(self.environment), plan=plan,
            data_root=(options.n2net_data_dir or None) if options else None,
            started_at=_RUN["started_at"],
        )

    @task
    def live(self) -> None:
        """Record what is due and make one send attempt; ``wait_time`` sleeps till next due."""
        if self.device is not None:
            self._wait = self.device.tick()

    def wait_time(self) -> float:
        return self._wait

    def on_stop(self) -> None:
        if self.device is None:
            return
        options = self.environment.parsed_options
        results = (options.n2net_results_dir or None) if options else None
        if results is not None:
            Path(results).mkdir(parents=True, exist_ok=True)
        self.device.stop(results)
        self.device = None
