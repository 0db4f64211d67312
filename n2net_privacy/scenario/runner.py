"""Run a scenario on a simulated device against loopback servers, and report.

:func:`run_scenario` builds one device for the scenario's platform: the
permission provider with the scripted user, the contacts gateway, the app
Settings, the Gravatar fetcher and the uploader. All of them send through
ONE :class:`~n2net_privacy.egress.Egress`, with an
:class:`~n2net_privacy.audit.EgressAuditor` in record mode that knows the
address book and holds the ingest server's private key, so it opens and
checks every sealed upload. The servers are a
:class:`~n2net_privacy.testing.GravatarStandIn` and an
:class:`~n2net_privacy.testing.IngestServer` on 127.0.0.1; the egress
policy admits nothing else, so a run never touches the internet. Logs are an
egress: the records of every logger during the run are audited too
(``log.pii``, :class:`~n2net_privacy.audit.logs.LogWatch`).

Every permission and Settings change goes on the report's timeline; each
step's outcome (PII-free) goes to ``on_step``. Servers, uploader, fetcher
and gateway are shut down in ``finally`` blocks, whatever happens.
"""

from __future__ import annotations

import asyncio
import contextlib
import random
import tempfile
import time
from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

from n2net_privacy.audit import EgressAuditor, PrivacyReport, TimelineEvent, report_for
from n2net_privacy.audit.corpus.leaky_client import LeakyClient, SeededLeak
from n2net_privacy.audit.logs import LogWatch
from n2net_privacy.contacts import Contact, ContactPhone, ContactsGateway, InMemoryAddressBook
from n2net_privacy.egress import Egress, EgressPolicy, Purpose
from n2net_privacy.errors import (
    ConfigurationError,
    NetworkError,
    PermissionModelError,
    ScenarioError,
)
from n2net_privacy.gravatar import (
    Avatar,
    AvatarResult,
    GravatarConfig,
    GravatarFetcher,
    gravatar_hash,
)
from n2net_privacy.manifest import DeclaredManifest
from n2net_privacy.permissions import (
    AndroidPermissionProvider,
    IOSPermissionProvider,
    Permission,
    PermissionChange,
    PermissionService,
)
from n2net_privacy.runtime import Monotonic, Runtime
from n2net_privacy.scenario.checks import leak_source
from n2net_privacy.scenario.loader import LoadedScenario
from n2net_privacy.scenario.model import (
    AndroidPlatform,
    AnswerSpec,
    DisableGravatarStep,
    EnableGravatarStep,
    FetchAvatarsStep,
    FlushStep,
    LeakStep,
    ListContactsStep,
    MdmRestrictStep,
    Recipient,
    RecordCallStep,
    RecordSmsStep,
    RequestPermissionStep,
    SearchStep,
    SelectAnswer,
    ServerOutageStep,
    SettingsGrantStep,
    SettingsRevokeStep,
    SettingsSetLimitedStep,
    Step,
)
from n2net_privacy.settings import SettingKey, Settings, SettingsChange
from n2net_privacy.simulation import (
    Answer,
    PromptAnswer,
    ScriptedUser,
    SelectContacts,
    SimulatedAndroidKeystore,
    SimulatedIOSKeychain,
)
from n2net_privacy.testing.servers.gravatar import GravatarStandIn
from n2net_privacy.testing.servers.ingest import IngestServer
from n2net_privacy.uploader import RecordResult, SenderConfig, ServerKeyPair, Uploader
from n2net_privacy.uploader.recorder import Endpoint
from n2net_privacy.wording import plural

__all__ = ["LOOPBACK", "StepOutcome", "run_scenario"]

LOOPBACK = "127.0.0.1"
_APP_KEY = "scenario-app-key"
# A simulation: retry quickly so an outage that ends is over within a flush.
_SENDER = SenderConfig(linger_s=0.0, backoff_base_s=0.05, backoff_cap_s=0.5, request_timeout_s=5.0)
_CLOSE_TIMEOUT_S = 2.0
_SEED = 2026  # the sender's backoff jitter: the same every run
_MAX_ATTEMPTS = 10_000
_PAGE = 1_000

StepCallback = Callable[["StepOutcome"], None]

_UNIX_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


@dataclass(frozen=True, slots=True)
class StepOutcome:
    """What one step did, for a terminal: ``index`` from 0, the file ``line``, a summary.

    The summary carries statuses and counts only, never a name, number or email.
    """

    index: int
    step: str
    line: int
    summary: str

    def __str__(self) -> str:
        return f"[{self.index + 1}] line {self.line} {self.step}: {self.summary}"


def _prompt_answer(answer: AnswerSpec) -> PromptAnswer:
    if isinstance(answer, SelectAnswer):
        return SelectContacts(answer.select)
    return Answer(answer)


def _avatars_for(book: tuple[Contact, ...]) -> list[str]:
    """Every other contact with an email has a picture on the stand-in; the rest 404."""
    with_email = [contact for contact in book if contact.emails]
    return [gravatar_hash(contact.emails[0]) for contact in with_email[::2]]


def _describe_change(change: PermissionChange) -> str:
    what = f"contacts access: {change.old.value} -> {change.new.value}"
    if change.selected_ids is not None:
        what += f" ({plural(len(change.selected_ids), 'contact')} selected)"
    if change.app_killed:
        what += "; the OS restarts the app"
    return what


class _Device:
    """One simulated phone with the SDK on it, wired to the loopback servers."""

    def __init__(
        self, loaded: LoadedScenario, data_dir: Path, stack: contextlib.ExitStack,
        monotonic: Monotonic, route: Callable[[str], str],
        *, manifest: DeclaredManifest | None = None,
    ) -> None:
        scenario = loaded.scenario
        self.loaded = loaded
        self.book = loaded.book
        self.timeline: list[TimelineEvent] = []
        self._monotonic = monotonic
        self._started = monotonic()
        self._actor = "system"
        platform = scenario.platform
        keys = ServerKeyPair.generate(key_id="scenario")
        self.ingest = IngestServer(keys, app_key=_APP_KEY)
        stack.callback(self.ingest.close)
        self._ingest_url = route(self.ingest.url)
        self.gravatar = stack.enter_context(GravatarStandIn(_avatars_for(self.book)))
        hosts = frozenset({LOOPBACK})
        policy = EgressPolicy(
            allowed_hosts={Purpose.N2NET_API: hosts, Purpose.GRAVATAR: hosts}, test_mode=True
        )
        # Requests are timed on the timeline's clock, so both read "seconds since the
        # start": the egress's wall clock starts at the Unix epoch when the run does.
        self.egress = Egress(
            policy, clock=lambda: _UNIX_EPOCH + timedelta(seconds=monotonic() - self._started)
        )
        self.auditor = EgressAuditor(
            self.book, mode="record", server_private_key=keys.private_key,
            allowed_hosts=policy.allowed_hosts, allow_loopback_http=True, region=platform.region,
            manifest=manifest,
        )
        self.egress.add_inspector(self.auditor)

        user = ScriptedUser([_prompt_answer(a) for a in scenario.answers])
        self.provider: AndroidPermissionProvider | IOSPermissionProvider
        if isinstance(platform, AndroidPlatform):
            self.provider = AndroidPermissionProvider(api_level=platform.api_level, user=user)
        else:
            self.provider = IOSPermissionProvider(ios_version=platform.ios_version, user=user)
        self.permissions = PermissionService(self.provider)
        stack.callback(self.permissions.close)
        self.permissions.subscribe(self._on_permission)
        self.gateway = ContactsGateway(InMemoryAddressBook(self.book), self.permissions)
        stack.callback(self.gateway.close)

        self.settings = Settings(data_dir / "settings.json")
        self.settings.subscribe(self._on_setting)
        # The auditor reads the toggle (public API): an email hash while it is off is a leak.
        self.auditor.watch_gravatar_consent(lambda: self.settings.gravatar_enabled)
        self.fetcher = GravatarFetcher(
            self.settings, self.egress, GravatarConfig(base_url=route(self.gravatar.base_url))
        )
        stack.callback(self.fetcher.close)
        key_store = (
            SimulatedAndroidKeystore() if isinstance(platform, AndroidPlatform)
            else SimulatedIOSKeychain()
        )
        self.uploader = Uploader(
            Endpoint(route(self.ingest.url), _APP_KEY, keys.public), data_dir / "uploader",
            key_store=key_store, egress=self.egress, region=platform.region, sending=_SENDER,
            runtime=Runtime(rng=random.Random(_SEED)), start=False,
        )
        # Closed first (LIFO): what is still queued gets a bounded last chance to go.
        stack.callback(self.uploader.close, _CLOSE_TIMEOUT_S)
        stack.callback(self._drain, _CLOSE_TIMEOUT_S)

    # -- the timeline ---------------------------------------------------------------

    def _note(self, what: str) -> None:
        self.timeline.append(TimelineEvent(self._monotonic() - self._started, self._actor, what))

    def _on_permission(self, change: PermissionChange) -> None:
        if change.permission is Permission.WRITE_CONTACTS:
            return  # the app only reads; from API 26 WRITE has a state of its own
        self._note(_describe_change(change))

    def _on_setting(self, change: SettingsChange) -> None:
        if change.key is SettingKey.GRAVATAR_ENABLED:
            self._note(f"Gravatar {'on' if change.new else 'off'}")
        else:
            self._note(f"{change.key.value}: {change.old} -> {change.new}")

    @contextlib.contextmanager
    def _as(self, actor: str) -> Iterator[None]:
        self._actor = actor
        try:
            yield
        finally:
            self._actor = "system"

    # -- steps ---------------------------------------------------------------------

    def run(self, index: int, step: Step) -> StepOutcome:
        line = self.loaded.step_line(index)
        handler = getattr(self, f"_{step.step}")
        try:
            summary: str = handler(step)
        except (PermissionModelError, ConfigurationError) as exc:
            # The platform refused the step as written: a scenario problem, on its line.
            raise ScenarioError(f"steps[{index}] ({step.step}): {exc}", line=line) from None
        return StepOutcome(index, step.step, line, summary)

    # One handler per step type, named ``_<step>``; each returns the outcome line.

    def _contacts_status(self) -> str:
        return f"contacts access {self.permissions.status(Permission.CONTACTS).value}"

    def _request_permission(self, _step: RequestPermissionStep) -> str:
        with self._as("user (permission prompt)"):
            self.permissions.request(Permission.CONTACTS)
        return self._contacts_status()

    def _settings_grant(self, _step: SettingsGrantStep) -> str:
        with self._as("user (system Settings)"):
            self.provider.settings_grant()
        return self._contacts_status()

    def _settings_revoke(self, _step: SettingsRevokeStep) -> str:
        with self._as("user (system Settings)"):
            self.provider.settings_revoke()
        return self._contacts_status()

    def _settings_set_limited(self, step: SettingsSetLimitedStep) -> str:
        assert isinstance(self.provider, IOSPermissionProvider)  # checked at load
        with self._as("user (system Settings)"):
            self.provider.settings_set_limited(step.ids)
        return self._contacts_status()

    def _mdm_restrict(self, _step: MdmRestrictStep) -> str:
        assert isinstance(self.provider, IOSPermissionProvider)  # checked at load
        with self._as("MDM"):
            self.provider.mdm_restrict()
        return self._contacts_status()

    def _list_contacts(self, step: ListContactsStep) -> str:
        visible = self._visible(step.page_size)
        return f"{self.gateway.status().value}: {plural(len(visible), 'contact')} visible"

    def _enable_gravatar(self, _step: EnableGravatarStep) -> str:
        with self._as("user (app Settings)"):
            self.settings.gravatar_enabled = True
        return "Gravatar on"

    def _disable_gravatar(self, _step: DisableGravatarStep) -> str:
        with self._as("user (app Settings)"):
            self.settings.gravatar_enabled = False
        return "Gravatar off"

    def _record_sms(self, step: RecordSmsStep) -> str:
        return self._recorded(self.uploader.record_sms(self._number(step.to)))

    def _record_call(self, step: RecordCallStep) -> str:
        return self._recorded(self.uploader.record_call(self._number(step.to), step.duration_s))

    def _server_outage(self, step: ServerOutageStep) -> str:
        if step.down:
            self.ingest.stop()
            return "ingest server down"
        self.ingest.start()
        return "ingest server up"

    def _visible(self, page_size: int = _PAGE) -> list[Contact]:
        seen: list[Contact] = []
        offset: int | None = 0
        while offset is not None:
            page = self.gateway.list_contacts(offset=offset, limit=page_size)
            seen.extend(page.items)
            offset = page.next_offset
        return seen

    def _search(self, step: SearchStep) -> str:
        search = {
            "name": self.gateway.search_by_name,
            "number": self.gateway.search_by_number,
            "email": self.gateway.search_by_email,
        }[step.by]
        page = search(step.query)
        return f"{page.status.value}: {page.total} match(es) by {step.by}"

    def _fetch_avatars(self, step: FetchAvatarsStep) -> str:
        contacts = self._visible()[: step.limit]
        if not contacts:
            return "no visible contacts: nothing to fetch"
        results: list[AvatarResult]
        if step.mode == "async":
            results = asyncio.run(self.fetcher.fetch_many(contacts))
        else:
            results = [self.fetcher.fetch(contact) for contact in contacts]
        found = sum(isinstance(result, Avatar) for result in results)
        missing = Counter(r.reason.value for r in results if not isinstance(r, Avatar))
        reasons = ", ".join(f"{reason} {n}" for reason, n in sorted(missing.items()))
        return f"{plural(len(contacts), 'contact')}: {plural(found, 'avatar')}" + (
            f"; none for {reasons}" if reasons else ""
        )

    def _number(self, to: Recipient) -> str | ContactPhone:
        if to.number is not None:
            return to.number
        contact = next(c for c in self.book if c.id == to.contact)
        return contact.phones[to.phone]

    @staticmethod
    def _recorded(result: RecordResult) -> str:
        if result.skip_reason is not None:
            return f"{result.outcome.value} ({result.skip_reason.value})"
        return result.outcome.value

    def _drain(self, timeout_s: float) -> bool:
        """Send what is queued, one attempt at a time, on a virtual clock.

        The sender thread is off: each backoff the sender asks for is added
        to a virtual elapsed time instead of slept, so a run makes the same
        attempts in the same order every time (the jitter is seeded too),
        whatever the machine's speed. True when the queue is empty.
        """
        elapsed = 0.0
        for _ in range(_MAX_ATTEMPTS):
            delay = self.uploader.sender.step()
            if delay is None:
                break
            elapsed += delay
            if elapsed > timeout_s:
                break
        return self.uploader.pending().events == 0

    def _flush(self, step: FlushStep) -> str:
        if self._drain(step.timeout_s):
            return f"queue drained; {plural(self.ingest.count(), 'event')} stored on the server"
        queued = plural(self.uploader.pending().events, "event")
        return f"{queued} still queued after {step.timeout_s}s"

    def _leak(self, step: LeakStep) -> str:
        contact = (
            next(c for c in self.book if c.id == step.contact)
            if step.contact is not None else leak_source(self.book)
        )
        assert contact is not None  # checked at load
        leak = SeededLeak(step.kind, step.place, step.encoding)
        client = LeakyClient.for_contact(self.egress, contact, base_url=self._ingest_url)
        try:
            response = client.send(leak)
        except NetworkError:
            return f"leak {leak} not delivered (network error)"
        finally:
            client.close()
        note = "; the chokepoint stripped the cookie" if leak.stripped_by_chokepoint else ""
        return f"leak {leak} sent (HTTP {response.status}){note}"


def run_scenario(
    loaded: LoadedScenario,
    *,
    on_step: StepCallback | None = None,
    monotonic: Monotonic = time.monotonic,
    now: Callable[[], float] = time.time,
    route: Callable[[str], str] | None = None,
    manifest: DeclaredManifest | None = None,
) -> PrivacyReport:
    """Run every step of ``loaded``; return the privacy report of the run.

    Raises :class:`ScenarioError` (with the step's line) when the simulated
    platform refuses a step, e.g. a prompt the scripted user has no answer for.
    ``monotonic`` times the timeline (seconds from the start); ``now`` stamps the report.
    ``route`` maps each loopback server's base URL to the one the SDK should
    use instead: QA puts an intercepting proxy (mitmproxy in reverse mode)
    in between to capture the SDK's own traffic as a real device's.
    ``manifest`` holds the run's traffic to a privacy manifest
    (``manifest.undeclared`` findings; the report lists what it declares).
    Blocking: call it from a thread without a running event loop.
    """
    scenario = loaded.scenario
    with (
        tempfile.TemporaryDirectory(prefix="n2net-scenario-") as tmp,
        contextlib.ExitStack() as stack,
    ):
        device = _Device(loaded, Path(tmp), stack, monotonic, route or (lambda url: url),
                         manifest=manifest)
        with LogWatch(device.auditor):  # logs are an egress: every logger's records
            for index, step in enumerate(scenario.steps):
                outcome = device.run(index, step)
                if on_step is not None:
                    on_step(outcome)
            stack.close()  # uploader, fetcher, gateway, servers: every request is in the log now
        title = scenario.title or f"Privacy report: {Path(loaded.source).name}"
        return report_for(
            device.auditor, device.egress.audit, timeline=device.timeline,
            generated_at=now(), title=title,
        )
