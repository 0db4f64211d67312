"""The privacy report: what left the device, where, why, and what went wrong.

:func:`build_report` gathers, purely, a timeline of permission and Settings
changes, every request the chokepoint saw (from the
:class:`~n2net_privacy.egress.policy.AuditLog`), the data categories that
reached each destination and the auditor's findings into a
:class:`PrivacyReport`. The report writes itself as JSON (and reads back)
and as ONE self-contained HTML file: inline CSS, no scripts, no fonts, no
links to anywhere, findings in red at the top. Every piece of dynamic text
is HTML-escaped.

Typical use, after a run with an auditor registered on the egress::

    report = report_for(auditor, egress.audit, timeline=events, generated_at=clock())
    Path("privacy-report.html").write_text(report.render_html(), encoding="utf-8")
"""

from __future__ import annotations

import io
import json
from collections import Counter
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import asdict, dataclass
from datetime import UTC, datetime
from html import escape
from typing import Any, Protocol, TextIO

from n2net_privacy.audit.findings import DataFlow, Finding, ManifestCheck, Rule
from n2net_privacy.egress.policy import AuditEntry, AuditLog
from n2net_privacy.errors import InvalidArgumentError
from n2net_privacy.redact import scrub
from n2net_privacy.wording import plural

__all__ = [
    "REPORT_FORMAT",
    "Outcome",
    "PrivacyReport",
    "RequestRow",
    "TimelineEvent",
    "build_report",
    "report_for",
]

REPORT_FORMAT = "n2net.privacy-report/2"
"""Version 2: request ids, status/error/outcome per request, every time relative to
the run's start. The JSON Schema is ``n2net_privacy/audit/report.schema.json``."""
_ABSOLUTE_AFTER = 1e8  # times below this are seconds since the run started


@dataclass(frozen=True, slots=True)
class TimelineEvent:
    """A permission or Settings change: when, who did it, what changed."""

    at: float
    actor: str
    what: str


class Outcome:
    """What became of a request: the values of :attr:`RequestRow.outcome`."""

    SENT = "sent"
    BLOCKED = "blocked"
    FAILED = "failed"
    RETRIED = "retried"


@dataclass(frozen=True, slots=True)
class RequestRow:
    """One request as the report shows it; ``method``, ``host`` and ``path`` are redacted.

    ``id`` is the request's id, the one findings point to. ``at`` is seconds
    since the run started. ``outcome``: ``sent`` (a reply came), ``blocked``
    (the chokepoint refused it), ``failed`` (a network error, a 5xx or 429)
    or ``retried`` (failed, and the same request was sent again later).
    """

    id: int
    at: float
    purpose: str
    method: str
    host: str
    path: str
    bytes: int
    status: int | None
    error: str | None
    blocked: bool
    outcome: str


def _when(at: float) -> str:
    if at >= _ABSOLUTE_AFTER:
        return datetime.fromtimestamp(at, UTC).isoformat(timespec="milliseconds")
    return f"t+{at:.3f}s"


def request_failed(entry: AuditEntry) -> bool:
    """A request that got no usable reply: no status, a 5xx or a 429 (not one blocked)."""
    return not entry.blocked and (
        entry.status is None or entry.status >= 500 or entry.status == 429
    )


def relative_time(at: float, start: float) -> float:
    """``at`` as seconds since ``start``; a time already relative (below 1e8 s) is kept."""
    return round(at - start, 6) if at >= _ABSOLUTE_AFTER else at


def _outcomes(entries: list[AuditEntry]) -> list[str]:
    """Each entry's outcome; a failure followed by the same request again is ``retried``."""
    outcomes: list[str] = []
    for index, entry in enumerate(entries):
        if entry.blocked:
            outcomes.append(Outcome.BLOCKED)
        elif not request_failed(entry):
            outcomes.append(Outcome.SENT)
        else:
            again = any(
                (later.purpose, later.method, later.host, later.path)
                == (entry.purpose, entry.method, entry.host, entry.path)
                for later in entries[index + 1:]
            )
            outcomes.append(Outcome.RETRIED if again else Outcome.FAILED)
    return outcomes


@dataclass(frozen=True)
class PrivacyReport:
    """Everything a person needs to judge one run; see the module docstring."""

    title: str
    generated_at: float
    started_at: float
    timeline: tuple[TimelineEvent, ...]
    requests: Sequence[RequestRow]
    """A tuple, or rows read back from disk (:class:`~n2net_privacy.audit.spool.RequestSpool`)."""
    flows: tuple[DataFlow, ...]
    findings: tuple[Finding, ...]
    manifest: ManifestCheck | None = None
    """Set when the run was held to a privacy manifest (``--manifest``)."""

    @property
    def clean(self) -> bool:
        """True when the auditor found nothing."""
        return not self.findings

    def requests_per_destination(self) -> dict[str, int]:
        """How many requests went (or were refused) per purpose and host, busiest first."""
        return dict(
            Counter(f"{row.purpose} @ {row.host}" for row in self.requests).most_common()
        )

    def summary_lines(self) -> list[str]:
        """A short plain-text summary for a terminal."""
        per_host = ", ".join(f"{h}: {n}" for h, n in self.requests_per_destination().items())
        outcomes = Counter(row.outcome for row in self.requests)
        return [
            f"requests: {len(self.requests)}" + (f" ({per_host})" if per_host else ""),
            f"blocked: {outcomes[Outcome.BLOCKED]}",
            f"failed: {outcomes[Outcome.FAILED]}, retried: {outcomes[Outcome.RETRIED]}",
            *(
                f"data to {flow.purpose} @ {flow.destination}: {', '.join(flow.categories)}"
                for flow in self.flows
            ),
            *self._manifest_lines(),
            f"findings: {len(self.findings)}",
            *(f"  - {f.describe()}" for f in self.findings),
        ]

    def _manifest_lines(self) -> list[str]:
        check = self.manifest
        if check is None:
            return []
        undeclared = sum(1 for f in self.findings if f.rule is Rule.MANIFEST_UNDECLARED)
        return [
            f"manifest: {check.source} ({check.platform}) declares "
            f"{', '.join(check.declared) or 'no SDK data'}",
            f"declared, not observed: {', '.join(check.not_observed) or 'none'}",
            f"undeclared: {undeclared}",
        ]

    # --- JSON --------------------------------------------------------------

    def to_dict(self) -> dict[str, Any]:
        return self._document() | {"requests": [asdict(r) for r in self.requests]}

    def _document(self) -> dict[str, Any]:
        """:meth:`to_dict` with the requests left for the writer to stream."""
        return {
            "format": REPORT_FORMAT,
            "title": self.title,
            "generated_at": self.generated_at,
            "started_at": self.started_at,
            "timeline": [asdict(e) for e in self.timeline],
            "requests": (),
            "flows": [f.to_dict() for f in self.flows],
            "findings": [f.to_dict() for f in self.findings],
            **({"manifest": self.manifest.to_dict()} if self.manifest is not None else {}),
        }

    def to_json(self) -> str:
        out = io.StringIO()
        self.write_json(out)
        return out.getvalue()

    def write_json(self, out: TextIO) -> None:
        """Write :meth:`to_json`'s text to ``out`` a request at a time (bounded memory)."""
        document = self._document()
        last = len(document) - 1
        out.write("{\n")
        for position, (key, value) in enumerate(document.items()):
            out.write(f"  {json.dumps(key)}: ")
            if key == "requests":
                _write_list(out, (asdict(r) for r in self.requests))
            elif isinstance(value, list):
                _write_list(out, value)
            else:
                out.write(json.dumps(value, ensure_ascii=False))
            out.write(",\n" if position < last else "\n")
        out.write("}")

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> PrivacyReport:
        """Read back :meth:`to_dict`'s value; :class:`InvalidArgumentError` names what is wrong."""
        if not isinstance(data, Mapping) or data.get("format") != REPORT_FORMAT:
            raise InvalidArgumentError(f"not a {REPORT_FORMAT} document")
        try:
            return cls._from_fields(data)
        except KeyError as exc:
            raise InvalidArgumentError(
                f"not a complete {REPORT_FORMAT} document: the field {exc.args[0]!r} is missing"
            ) from None
        except (TypeError, ValueError, AttributeError) as exc:
            # The message names the type or field at fault, never a value of the document.
            raise InvalidArgumentError(
                f"not a valid {REPORT_FORMAT} document: a field has the wrong shape "
                f"({type(exc).__name__})"
            ) from None

    @classmethod
    def _from_fields(cls, data: Mapping[str, Any]) -> PrivacyReport:
        return cls(
            title=str(data["title"]),
            generated_at=float(data["generated_at"]),
            started_at=float(data["started_at"]),
            timeline=tuple(TimelineEvent(**e) for e in data["timeline"]),
            requests=tuple(RequestRow(**r) for r in data["requests"]),
            flows=tuple(DataFlow.from_dict(f) for f in data["flows"]),
            findings=tuple(Finding.from_dict(f) for f in data["findings"]),
            manifest=ManifestCheck.from_dict(data["manifest"]) if "manifest" in data else None,
        )

    @classmethod
    def from_json(cls, text: str) -> PrivacyReport:
        """Read back what :meth:`to_json` wrote; :class:`InvalidArgumentError` for anything else."""
        try:
            data = json.loads(text)
        except json.JSONDecodeError as exc:
            raise InvalidArgumentError(
                f"not a {REPORT_FORMAT} document: not JSON ({exc.msg} at line {exc.lineno})"
            ) from None
        return cls.from_dict(data)

    # --- HTML --------------------------------------------------------------

    def render_html(self) -> str:
        """One self-contained HTML document (inline CSS, no external resources)."""
        out = io.StringIO()
        self.write_html(out)
        return out.getvalue()

    def write_html(self, out: TextIO) -> None:
        """Write :meth:`render_html`'s text to ``out`` a request at a time."""
        head = [
            "<!DOCTYPE html>",
            '<html lang="en">',
            "<head>",
            '<meta charset="utf-8">',
            '<meta name="viewport" content="width=device-width, initial-scale=1">',
            f"<title>{escape(self.title)}</title>",
            f"<style>{_CSS}</style>",
            "</head>",
            "<body>",
            f"<h1>{escape(self.title)}</h1>",
            f'<p class="meta">Generated {escape(_when(self.generated_at))}. '
            f"{plural(len(self.requests), 'request')}, "
            f"{plural(len(self.findings), 'finding')}.</p>",
            self._findings_html(),
            self._manifest_html(),
            self._flows_html(),
            self._timeline_html(),
        ]
        out.write("\n".join(head) + "\n")
        self._write_requests_html(out)
        out.write("\n</body>\n</html>\n")

    def _findings_html(self) -> str:
        if not self.findings:
            return (
                '<section id="findings" class="findings clean" style="color:#1b5e20;'
                'border:2px solid #1b5e20">'
                "<h2>Findings: none</h2><p>No personal data left the device in a form the "
                "policy forbids.</p></section>"
            )
        rows = [
            (f"#{f.request_id}", f.rule.value, f"{f.method} {f.host}{f.path}", f.purpose,
             f.place, f.detail, "blocked" if f.blocked else "sent")
            for f in self.findings
        ]
        return (
            f'<section id="findings" class="findings" style="{_RED_BOX}">'
            f"<h2>Findings: {len(self.findings)}</h2>"
            + _table(("Request", "Rule", "Request line", "Purpose", "Place", "What", "Outcome"),
                     rows, row_class="finding")
            + "</section>"
        )

    def _manifest_html(self) -> str:
        check = self.manifest
        if check is None:
            return ""
        missing = set(check.not_observed)
        rows = [(name, "declared, not observed" if name in missing else "declared, observed")
                for name in check.declared]
        return (
            f'<section id="manifest"><h2>Privacy manifest: {escape(check.source)} '
            f"({escape(check.platform)})</h2>"
            + _table(("Declared data type", "In this run"), rows,
                     empty="The manifest declares no SDK data.")
            + "<p>Anything a request carried that the manifest does not declare is a "
            "manifest.undeclared finding above.</p></section>"
        )

    def _flows_html(self) -> str:
        rows = [(f.destination, f.purpose, "; ".join(f.categories)) for f in self.flows]
        return (
            '<section id="data-flows"><h2>What left the device, per destination</h2>'
            + _table(("Destination", "Purpose", "Data categories"), rows, empty="No data left.")
            + "</section>"
        )

    def _timeline_html(self) -> str:
        rows = [(_when(e.at), e.actor, e.what) for e in self.timeline]
        return (
            '<section id="timeline"><h2>Permission and Settings timeline</h2>'
            + _table(("When", "Who", "What changed"), rows, empty="No changes recorded.")
            + "</section>"
        )

    def _write_requests_html(self, out: TextIO) -> None:
        out.write('<section id="requests"><h2>Every request</h2>')
        if not self.requests:
            out.write(f"<p>{escape('No requests.')}</p>")
        else:
            head = "".join(f"<th>{escape(h)}</th>" for h in (
                "Request", "When", "Destination", "Purpose", "Method", "Path", "Bytes",
                "Status", "Outcome"))
            out.write(f"<table><thead><tr>{head}</tr></thead><tbody>")
            for r in self.requests:
                out.write(_row(
                    (f"#{r.id}", _when(r.at), r.host, r.purpose, r.method, r.path, str(r.bytes),
                     str(r.status) if r.status is not None else (r.error or "no reply"),
                     r.outcome), "request"))
            out.write("</tbody></table>")
        out.write("</section>")


_RED_BOX = "color:#b00020;border:2px solid #b00020;background:#fdecea"
_CSS = (
    "body{font-family:system-ui,-apple-system,'Segoe UI',sans-serif;margin:2rem;"
    "color:#1a1a1a;line-height:1.4}"
    "h1{font-size:1.6rem}h2{font-size:1.2rem;margin-top:0}"
    "section{margin:1.5rem 0;padding:1rem;border:1px solid #ddd;border-radius:6px}"
    "table{border-collapse:collapse;width:100%;font-size:.9rem}"
    "th,td{border:1px solid #ccc;padding:.3rem .5rem;text-align:left;vertical-align:top;"
    "word-break:break-all}"
    "th{background:#f3f3f3}"
    "tr.finding td{color:#b00020;font-weight:600}"
    ".meta{color:#555}"
)


def _table(
    headers: tuple[str, ...],
    rows: Iterable[tuple[str, ...]],
    *,
    row_class: str | None = None,
    empty: str = "",
) -> str:
    body = [_row(row, row_class) for row in rows]
    if not body:
        return f"<p>{escape(empty)}</p>"
    head = "".join(f"<th>{escape(h)}</th>" for h in headers)
    return f"<table><thead><tr>{head}</tr></thead><tbody>{''.join(body)}</tbody></table>"


def _row(cells: tuple[str, ...], row_class: str | None) -> str:
    return (
        (f'<tr class="{row_class}">' if row_class else "<tr>")
        + "".join(f"<td>{escape(cell)}</td>" for cell in cells)
        + "</tr>"
    )


def _write_list(out: TextIO, items: Iterable[Any]) -> None:
    """A JSON list as ``json.dumps(indent=2)`` lays it out one level down, item by item."""
    first = True
    for item in items:
        out.write("[\n" if first else ",\n")
        first = False
        text = json.dumps(item, indent=2, ensure_ascii=False)
        out.write("\n".join("    " + line for line in text.split("\n")))
    out.write("[]" if first else "\n  ]")


def build_report(
    *,
    generated_at: float,
    entries: Iterable[AuditEntry] = (),
    findings: Iterable[Finding] = (),
    timeline: Iterable[TimelineEvent | tuple[float, str, str]] = (),
    flows: Iterable[DataFlow] = (),
    title: str = "N2Net privacy report",
    redact: Callable[[str], str] = scrub,
    started_at: float | None = None,
    manifest: ManifestCheck | None = None,
) -> PrivacyReport:
    """Gather a report. ``redact`` masks PII in request methods, hosts and paths (the
    auditor's :meth:`~n2net_privacy.audit.auditor.EgressAuditor.redact_path`
    knows the address book; the default only masks emails and numbers).

    Every time in the report is seconds since ``started_at`` (default: the
    earliest absolute time among the entries and timeline events); times
    already relative (below 1e8 s) are kept as they are. Requests are listed
    by id.
    """
    events = [e if isinstance(e, TimelineEvent) else TimelineEvent(*e) for e in timeline]
    rows = sorted(entries, key=lambda e: (e.request_id, e.at))
    absolute = [t for t in (*(e.at for e in events), *(e.at for e in rows))
                if t >= _ABSOLUTE_AFTER]
    start = started_at if started_at is not None else min(absolute, default=0.0)

    def rel(at: float) -> float:
        return relative_time(at, start)

    return PrivacyReport(
        title=title,
        generated_at=generated_at,
        started_at=start,
        timeline=tuple(
            sorted((TimelineEvent(rel(e.at), e.actor, e.what) for e in events),
                   key=lambda e: e.at)
        ),
        requests=tuple(
            RequestRow(
                id=e.request_id,
                at=rel(e.at),
                # An inner OHTTP request: its true purpose, and the hop it travelled in.
                purpose=e.purpose.value if e.via is None
                else f"{e.purpose.value} via {e.via.value}",
                method=redact(e.method),
                host=redact(e.host),
                path=redact(e.path),
                bytes=e.request_bytes,
                status=e.status,
                error=e.error,
                blocked=e.blocked,
                outcome=outcome,
            )
            for e, outcome in zip(rows, _outcomes(rows), strict=True)
        ),
        flows=tuple(flows),
        findings=tuple(findings),
        manifest=manifest,
    )


class _Audited(Protocol):
    def findings(self) -> tuple[Finding, ...]: ...

    def data_flows(self) -> tuple[DataFlow, ...]: ...

    def redact_path(self, path: str) -> str: ...

    def manifest_check(self) -> ManifestCheck | None: ...


def report_for(
    auditor: _Audited,
    audit: AuditLog,
    *,
    generated_at: float,
    timeline: Iterable[TimelineEvent | tuple[float, str, str]] = (),
    title: str = "N2Net privacy report",
    started_at: float | None = None,
) -> PrivacyReport:
    """The report of one run: an :class:`EgressAuditor` plus its egress's audit log."""
    return build_report(
        started_at=started_at,
        generated_at=generated_at,
        entries=audit.entries(),
        findings=auditor.findings(),
        timeline=timeline,
        flows=auditor.data_flows(),
        title=title,
        redact=auditor.redact_path,
        manifest=auditor.manifest_check(),
    )
