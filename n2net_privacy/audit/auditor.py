"""The egress auditor: proves, request by request, that no PII leaves the device.

Register it on the chokepoint and it inspects every request before it leaves:
the method, the host, the path, the query, every header and the body (JSON,
form, multipart or text, inflated and decoded to a fixed point: see
:mod:`~n2net_privacy.audit.places` and :mod:`~n2net_privacy.audit.decoding`),
for every email, name and number in the address book, however encoded.
Given the server's private key (test mode) it also opens the uploader's
sealed body and checks the events against wire contract v1. What it cannot
inspect fully (too large, too deep, an unknown compression) is an
``audit.not_inspected`` finding, never a silent pass. Findings carry the
egress's request id.

Typical use in a test::

    auditor = EgressAuditor(contacts, mode="block", server_private_key=server.private_key)
    egress.add_inspector(auditor)
    ...  # drive the SDK
    auditor.assert_no_pii()

In ``block`` mode a request with a finding raises :class:`EgressPolicyError`
and never leaves; in ``record`` mode it leaves and the finding is kept.
Either way :meth:`EgressAuditor.findings` lists them, with the PII redacted.

Allowed, and not findings: a Gravatar hash in the path of a Gravatar
request (only while Gravatar is on, when :meth:`watch_gravatar_consent`
gives the toggle), and numbers inside the sealed body of an uploader POST to
``/v1/events``. Without the server key that body is ciphertext and is not
inspected.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Collection, Iterable, Mapping

from n2net_privacy.audit.detectors import (
    WINDOW_CHARS,
    AddressBookPii,
    ContactLike,
    PiiDetector,
    PiiKind,
)
from n2net_privacy.audit.events import check_events
from n2net_privacy.audit.findings import AuditMode, DataFlow, Finding, ManifestCheck, Rule
from n2net_privacy.audit.places import Field, json_fields, media_type, request_fields
from n2net_privacy.checks import require_type
from n2net_privacy.egress.policy import (
    EgressPolicy,
    OutgoingRequest,
    Purpose,
    is_loopback,
    parse_endpoint,
)
from n2net_privacy.errors import EgressPolicyError, InvalidArgumentTypeError, WireFormatError
from n2net_privacy.gravatar.hashing import is_gravatar_hash
from n2net_privacy.manifest import DeclaredManifest, FlowName
from n2net_privacy.redact import get_logger
from n2net_privacy.uploader.wire import CONTENT_TYPE, EVENTS_PATH, open_sealed
from n2net_privacy.uploader.wire.seal import PrivateKey
from n2net_privacy.wording import plural

__all__ = ["EgressAuditor"]

_log = get_logger(__name__)
_RULES = {
    PiiKind.EMAIL: Rule.PII_EMAIL,
    PiiKind.EMAIL_HASH: Rule.PII_EMAIL,
    PiiKind.NAME: Rule.PII_NAME,
    PiiKind.PHONE: Rule.PII_PHONE,
    PiiKind.NOT_INSPECTED: Rule.NOT_INSPECTED,
}
_OPAQUE = "sealed event batch (not opened)"
_OHTTP_REQUEST = "message/ohttp-req"
# RFC 9458 §4.1 header: key id (1), KEM (2), KDF (2), AEAD (2); then enc and at
# least an AEAD tag. X25519 (0x0020) enc is 32 bytes; KDFs 1-3; AEADs 1-3.
_OHTTP_HEADER = 7
_OHTTP_MIN = _OHTTP_HEADER + 32 + 16


def _is_ohttp_ciphertext(request: OutgoingRequest) -> bool:
    """An encapsulated request to a relay, by purpose, media type and framing."""
    body = request.body
    if request.purpose is not Purpose.OHTTP_RELAY or media_type(request) != _OHTTP_REQUEST:
        return False
    if len(body) < _OHTTP_MIN:
        return False
    kem, kdf, aead = (int.from_bytes(body[i : i + 2], "big") for i in (1, 3, 5))
    return kem == 0x0020 and kdf in (1, 2, 3) and aead in (1, 2, 3)
_NOTHING = "no personal data found"
_REDACTED = "[redacted]"
_SHORT = 256
_Problem = tuple[Rule, Field, str]  # a broken rule, where, and what (redacted)


class EgressAuditor:
    """A :class:`~n2net_privacy.egress.policy.RequestInspector` that finds leaks.

    ``address_book`` is an iterable of contacts (anything with
    ``display_name``, ``phones[].number`` and ``emails``) or an
    :class:`AddressBookPii`. ``allowed_hosts`` defaults to the default
    policy's allowlist; ``allow_loopback_http`` accepts ``http://`` to
    loopback (the local test servers). ``server_private_key`` opens sealed
    uploader bodies. ``region`` reads numbers stored in national form.
    ``manifest`` (:func:`~n2net_privacy.manifest.load_manifest`) holds every
    request to a privacy manifest (:meth:`use_manifest`). Thread-safe; the
    matchers are built once, here.

    The chokepoint applies its own :class:`EgressPolicy` before any
    inspector, so ``host.not_allowed`` and ``transport.plaintext`` fire where
    that policy is wider than the auditor's view (a test policy, a
    misconfigured app); requests the policy refuses show in the audit log.
    """

    def __init__(
        self,
        address_book: AddressBookPii | Iterable[ContactLike] = (),
        *,
        mode: AuditMode | str = AuditMode.RECORD,
        allowed_hosts: Mapping[Purpose, Collection[str]] | None = None,
        allow_loopback_http: bool = False,
        server_private_key: PrivateKey | None = None,
        region: str | None = None,
        gravatar_consent: Callable[[], bool] | None = None,
        manifest: DeclaredManifest | None = None,
    ) -> None:
        if isinstance(address_book, str | bytes):
            raise InvalidArgumentTypeError(
                "address_book must be the contacts (a list of Contact) or an AddressBookPii, "
                "not a str"
            )
        require_type("address_book", address_book, (AddressBookPii, Iterable))
        pii = (
            address_book
            if isinstance(address_book, AddressBookPii)
            else AddressBookPii.from_contacts(address_book)
        )
        self.mode = AuditMode(mode)
        self._book = pii
        self._region = region
        self._detector = PiiDetector(pii, region=region)
        self._consent = gravatar_consent
        hosts = allowed_hosts if allowed_hosts is not None else EgressPolicy().allowed_hosts
        self._allowed = {purpose: frozenset(parse_endpoint(h)[0] for h in names)
                         for purpose, names in hosts.items()}
        self._allow_loopback_http = allow_loopback_http
        self._key = server_private_key
        self._lock = threading.Lock()
        self._seen = 0
        self._findings: list[Finding] = []
        self._logged: set[tuple[str, str]] = set()
        self._flows: dict[tuple[str, str], set[str]] = {}
        self._manifest = manifest
        self._observed: set[FlowName] = set()

    # --- the inspector -------------------------------------------------------

    def add_contacts(self, contacts: AddressBookPii | Iterable[ContactLike]) -> None:
        """Also look for these contacts' PII from the next request on."""
        more = contacts if isinstance(contacts, AddressBookPii) \
            else AddressBookPii.from_contacts(contacts)
        with self._lock:
            self._book = AddressBookPii(
                self._book.names + more.names,
                self._book.emails + more.emails,
                self._book.numbers + more.numbers,
            )
            self._detector = PiiDetector(self._book, region=self._region)

    def watch_gravatar_consent(self, consent: Callable[[], bool] | None) -> None:
        """Read the Gravatar toggle through ``consent()`` at each request.

        While it returns False, an email hash in any request, Gravatar's
        included, is a ``pii.email`` finding. ``Settings`` fits as
        ``lambda: settings.gravatar_enabled`` (its public read).
        """
        self._consent = consent

    def use_manifest(self, manifest: DeclaredManifest | None) -> None:
        """Hold every request from now on to ``manifest`` (see :mod:`n2net_privacy.manifest`).

        A request carrying a data type it does not declare, or going to an SDK
        destination outside its data flows, is a ``manifest.undeclared`` finding.
        """
        with self._lock:
            self._manifest = manifest
            self._observed.clear()

    def inspect(self, request: OutgoingRequest) -> None:
        """Check one request; in block mode raise :class:`EgressPolicyError` on a finding."""
        self.inspect_findings(request)

    def inspect_findings(
        self, request: OutgoingRequest, *, content_only: bool = False
    ) -> tuple[Finding, ...]:
        """:meth:`inspect`, returning the findings of this request alone.

        ``content_only`` inspects only the headers and the body: a response
        or a WebSocket frame, which has no request line of its own, so a
        finding never names a place it does not have (its method, host or path).
        """
        with self._lock:
            self._seen += 1
            request_id = request.request_id or self._seen
        problems, categories = self._check(request, content_only=content_only)
        manifest = self._manifest
        observed: set[FlowName] = set()
        if manifest is not None and not content_only:  # what the SDK sends, not what it hears
            undeclared, observed = manifest.undeclared(request.purpose.value, categories)
            here = Field("request", (), "")
            problems.extend((Rule.MANIFEST_UNDECLARED, here, d) for d in undeclared)
        blocked = bool(problems) and self.mode is AuditMode.BLOCK
        findings = self._findings_for(request, request_id, problems, blocked=blocked)
        host = self._safe_host(request, problems)
        with self._lock:
            self._findings.extend(findings)
            if not blocked:
                self._observed.update(observed)
                flow = self._flows.setdefault((host, request.purpose.value), set())
                flow.update(categories)
                flow.update(f.rule.category for f in findings)
        if not findings:
            return ()
        _log.warning(
            "egress auditor: %s in request #%d", plural(len(findings), "finding"), request_id
        )
        if blocked:
            rules = "; ".join(f"{f.rule.value} at {f.place}" for f in findings)
            raise EgressPolicyError(
                f"egress auditor blocked request #{request_id}: {rules}",
                purpose=request.purpose.value,
                host=host,
            )
        return tuple(findings)

    def _check(
        self, request: OutgoingRequest, *, content_only: bool = False
    ) -> tuple[list[_Problem], set[str]]:
        problems: list[_Problem] = []
        categories: set[str] = set()
        here = Field("request", (), "")
        host = request.host.lower()
        if content_only:
            fields = request_fields(request, content_only=True)
            return self._pii(fields, hash_path_allowed=False), categories
        if host not in self._allowed.get(request.purpose, frozenset()):
            problems.append((Rule.HOST_NOT_ALLOWED, here,
                             f"host not allowed for purpose {request.purpose.value}"))
        if request.scheme != "https" and not (
            self._allow_loopback_http and request.scheme == "http" and is_loopback(host)
        ):
            problems.append((Rule.TRANSPORT_PLAINTEXT, here, f"{request.scheme}:// is plaintext"))
        encapsulated = _is_ohttp_ciphertext(request)
        if encapsulated:
            categories.add("OHTTP-encapsulated request (the relay sees ciphertext only)")
        sealed = media_type(request) == CONTENT_TYPE
        # HPKE ciphertext is opaque: read as text it is noise, and noise can
        # spell a short name or a digit run by chance.
        fields = request_fields(request, with_body=not (sealed or encapsulated))
        gravatar = request.purpose is Purpose.GRAVATAR
        consent = self._consent
        hash_allowed = gravatar and (consent is None or consent())
        problems.extend(self._pii(fields, hash_path_allowed=hash_allowed))
        if gravatar and not hash_allowed and any(r is Rule.PII_EMAIL and "hash" in d
                                                 for r, _, d in problems):
            problems.append((Rule.PII_EMAIL, here, "email hash sent while Gravatar is off"))
        if gravatar:
            last = request.path.rstrip("/").rsplit("/", 1)[-1]
            if is_gravatar_hash(last):
                categories.add("email hash (md5)" if len(last) == 32 else "email hash (sha256)")
        if sealed and request.body:
            problems.extend(self._sealed(request, categories))
        return problems, categories

    def _pii(
        self, fields: list[Field], *, hash_path_allowed: bool, phones: bool = True
    ) -> list[_Problem]:
        problems: list[_Problem] = [
            (Rule.NOT_INSPECTED, field, f"not inspected: {field.note}")
            for field in fields if field.note is not None
        ]
        wholes = [field for field in fields if field.whole]
        fields = [field for field in fields if not field.whole and field.note is None]
        if self._detector.empty:
            return problems
        # Short places (host, path, headers, query) repeat across requests and
        # their verdicts are cached; the long rest is scanned at once, joined by
        # NUL (no matcher reads across it), and place by place only on a hit.
        long_fields: list[Field] = []
        for field in fields:
            allowed = hash_path_allowed and field.area == "url.path"
            if len(field.text) > WINDOW_CHARS:
                # Scanned window by window, never copied whole (bounded memory).
                problems.extend(self._field_problems(field, phones, windows=True))
            elif len(field.text) > _SHORT and not allowed:
                long_fields.append(field)
            else:
                problems.extend(self._field_problems(field, phones, hash_allowed=allowed))
        if long_fields and self._detector.scan(
            "\x00".join(f.text for f in long_fields), phones=phones
        ):
            for field in long_fields:
                problems.extend(self._field_problems(field, phones))
        if wholes:
            # Values joined: digits split over adjacent JSON values, form fields, parts.
            seen = {detail for _, _, detail in problems}
            for field in wholes:
                problems.extend(p for p in self._field_problems(
                    field, phones, windows=len(field.text) > WINDOW_CHARS)
                                if p[2] not in seen)
        return problems

    def _field_problems(
        self, field: Field, phones: bool, *, hash_allowed: bool = False, windows: bool = False
    ) -> list[_Problem]:
        problems: list[_Problem] = []
        scan = self._detector.scan_windows if windows else self._detector.scan
        for match in scan(field.text, phones=phones):
            if hash_allowed and match.kind is PiiKind.EMAIL_HASH:
                continue
            how = field.encoding.value + ", " if field.encoding else ""
            detail = f"{match.kind.value} {match.redacted} ({how}{match.encoding.value})"
            problems.append((_RULES[match.kind], field, detail))
        return problems

    def _sealed(
        self, request: OutgoingRequest, categories: set[str]
    ) -> list[_Problem]:
        if self._key is None:
            categories.add(_OPAQUE)
            return []
        uploader = (
            request.purpose is Purpose.N2NET_API
            and request.method.upper() == "POST"
            and request.path.endswith(EVENTS_PATH)
        )
        try:
            plaintext = open_sealed(request.body, self._key)
        except WireFormatError:
            return [(Rule.EVENTS_SCHEMA, Field("sealed", (), ""),
                     "sealed body cannot be opened with the audit key")]
        check = check_events(plaintext)
        categories.update(check.categories)
        problems = [(p.rule, Field("sealed", p.keys, ""), p.detail) for p in check.problems]
        # A valid v1 batch has no free text (ids, types, times, E.164), so only
        # a batch the contract refuses, or one sent elsewhere, is searched for PII.
        if not check.valid or not uploader:
            fields = (
                list(json_fields(check.document, "sealed"))
                if check.document is not None
                else [Field("sealed", (), plaintext.decode("utf-8", "replace"))]
            )
            problems.extend(self._pii(fields, hash_path_allowed=False, phones=not uploader))
        return problems

    # --- turning problems into findings ----------------------------------------

    def _is_safe(self, text: str) -> bool:
        return not self._detector.scan(text)

    def _safe_host(self, request: OutgoingRequest, problems: list[_Problem]) -> str:
        leaked = any(f.area == "url.host" for _, f, _ in problems)
        return _REDACTED if leaked else request.host.lower()

    def _findings_for(
        self,
        request: OutgoingRequest,
        request_id: int,
        problems: list[_Problem],
        *,
        blocked: bool,
    ) -> list[Finding]:
        if not problems:
            return []
        host = self._safe_host(request, problems)
        path = self.redact_path(request.path)
        method = self.redact_path(request.method.upper())
        seen: set[tuple[Rule, str, str]] = set()
        findings: list[Finding] = []
        for rule, field, detail in problems:
            place = field.place(self._is_safe)
            if (rule, place, detail) in seen:
                continue
            seen.add((rule, place, detail))
            findings.append(
                Finding(
                    rule=rule,
                    request_id=request_id,
                    purpose=request.purpose.value,
                    method=method,
                    host=host,
                    path=path,
                    place=place,
                    detail=detail,
                    blocked=blocked,
                )
            )
        return findings

    def inspect_log(self, logger: str, text: str) -> tuple[Finding, ...]:
        """Check the text of one log record; return its new ``log.pii`` findings.

        Logs are an egress (OWASP MASVS-STORAGE-2): an email, name, number or
        email hash of the book in any record of any logger is a finding at
        ``log:<logger name>``, with ``request_id`` 0. The same value from the
        same logger is reported once. See :class:`~n2net_privacy.audit.logs.LogWatch`.
        """
        matches = self._detector.scan(text)
        if not matches:
            return ()
        name = logger if self._is_safe(logger) else _REDACTED
        findings = [
            Finding(rule=Rule.LOG_PII, request_id=0, purpose="log", method="LOG", host=name,
                    path="", place=f"log:{name}", detail=match.describe())
            for match in matches
        ]
        with self._lock:
            new = [f for f in findings if (f.place, f.detail) not in self._logged]
            self._logged.update((f.place, f.detail) for f in new)
            self._findings.extend(new)
        return tuple(new)

    # --- what tests and reports read -----------------------------------------

    def redact_path(self, path: str) -> str:
        """``path`` with each segment that carries the book's PII masked."""
        return self._detector.redact_path(path)

    def findings(self) -> tuple[Finding, ...]:
        """Every finding so far, in request order."""
        with self._lock:
            return tuple(self._findings)

    @property
    def requests_seen(self) -> int:
        """How many requests this auditor has inspected."""
        with self._lock:
            return self._seen

    def data_flows(self) -> tuple[DataFlow, ...]:
        """Per destination, the data categories that left (blocked requests excluded)."""
        with self._lock:
            items = sorted(self._flows.items())
        return tuple(
            DataFlow(destination=host, purpose=purpose,
                     categories=tuple(sorted(categories)) or (_NOTHING,))
            for (host, purpose), categories in items
        )

    def manifest_check(self) -> ManifestCheck | None:
        """The run against the manifest: what it declares and what no request showed."""
        with self._lock:
            manifest, observed = self._manifest, set(self._observed)
        if manifest is None:
            return None
        return ManifestCheck(manifest.source, manifest.platform, manifest.declared_types(),
                             manifest.not_observed(observed))

    def clear(self) -> None:
        """Forget findings and flows (the request counter keeps counting)."""
        with self._lock:
            self._findings.clear()
            self._logged.clear()
            self._flows.clear()
            self._observed.clear()

    def assert_no_pii(self) -> None:
        """Raise ``AssertionError`` listing every finding, if there is any.

        Every rule counts (a disallowed host or plaintext HTTP is a privacy
        failure too); the message is redacted like the findings themselves.
        """
        findings = self.findings()
        if findings:
            lines = "\n".join(f"  - {f.describe()}" for f in findings)
            raise AssertionError(
                f"egress auditor: {plural(len(findings), 'finding')} in "
                f"{plural(len({f.request_id for f in findings}), 'request')}:\n{lines}"
            )

