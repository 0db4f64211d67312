"""Checks that judge every exchange of the run: error bodies, echoes, Retry-After, time, TLS.

They run after the others and look at :attr:`Session.exchanges`. When the
run holds nothing for them (``--only`` chose them alone), they first send a
small sample of their own: a valid batch, an invalid one and a wrong app key.

``Retry-After`` is judged only on the ``429`` and ``503`` replies the run
happens to meet: a black box cannot make a server throttle without the
server's private API. With none met, the check is skipped, and says so.
"""

from __future__ import annotations

from urllib.parse import urlsplit

from pydantic import ValidationError

from n2net_privacy.openapi import ERROR_CODES, ErrorReply
from n2net_privacy.retry import parse_retry_after
from n2net_privacy.testing.conformance.model import Check, CheckFailed, CheckSkipped
from n2net_privacy.testing.conformance.session import Exchange, Session
from n2net_privacy.wording import plural

__all__ = ["OBSERVING"]

_THROTTLED = frozenset({429, 503})


def _sample(session: Session) -> list[Exchange]:
    """The run's exchanges; a small sample of our own when there are none yet."""
    if not session.exchanges:
        session.send(session.batch(1))
        session.send(session.altered(session.batch(1), "number", "(202) 555-0199"))
        wrong = {**session.headers(), "Authorization": "Bearer conformance-wrong"}
        session.post(wrong, session.sealed(session.batch(1)))
    return list(session.exchanges)


def _error_body_problem(exchange: Exchange) -> str | None:
    status = exchange.status
    assert status is not None
    media_type = exchange.headers.get("content-type", "").split(";", 1)[0].strip().lower()
    if media_type != "application/json":
        return f"a {status} reply is not application/json"
    try:
        error = ErrorReply.model_validate_json(exchange.body)
    except ValidationError:
        return f"a {status} reply is not {{\"error\": ..., \"detail\": ...}}"
    codes = ERROR_CODES.get(status)
    if codes is not None and error.error not in codes:
        shown = exchange.error_code or "an unlisted code"
        return f"a {status} reply carries {shown}, not one of {', '.join(codes)}"
    return None


def error_replies_documented(session: Session) -> str:
    errors = [
        e for e in _sample(session)
        if e.status is not None and 400 <= e.status < 500 and e.status not in _THROTTLED
    ]
    if not errors:
        raise CheckSkipped("no 4xx reply was met during this run")
    for exchange in errors:
        problem = _error_body_problem(exchange)
        if problem is not None:
            raise CheckFailed(f"{problem} (in check {exchange.check or 'sample'})")
    return f"judged {plural(len(errors), 'error reply', 'error replies')}"


def replies_echo_no_values(session: Session) -> str:
    exchanges = _sample(session)
    values = [value.encode("utf-8") for value in session.sent_values]
    for exchange in exchanges:
        texts = [exchange.body, *(v.encode("utf-8", "replace") for v in exchange.headers.values())]
        if any(value in text for value in values for text in texts):
            raise CheckFailed(
                f"a {exchange.describe()} reply (in check {exchange.check or 'sample'}) echoes"
                " a value the kit sent (a number or field value)"
            )
    return f"judged {plural(len(exchanges), 'reply', 'replies')}"


def retry_after_parseable(session: Session) -> str:
    throttled = [e for e in session.exchanges if e.status in _THROTTLED]
    if not throttled:
        raise CheckSkipped(
            "no 429 or 503 was met during this run; a black box cannot provoke one"
        )
    without = 0
    for exchange in throttled:
        value = exchange.headers.get("retry-after")
        if value is None:
            without += 1
            continue
        if parse_retry_after(value, exchange.observed_at) is None:
            raise CheckFailed(
                f"a {exchange.status} reply (in check {exchange.check}) has a Retry-After the"
                " SDK cannot use: not delay-seconds, not an HTTP date, negative, or in the past"
            )
    judged = plural(len(throttled), "429 or 503 reply", "429 or 503 replies")
    return f"judged {judged}, {without} without Retry-After (the SDK backs off on its own)"


def replies_within_timeout(session: Session) -> str:
    exchanges = _sample(session)
    limit = session.target.request_timeout_s
    late = [e for e in exchanges if e.timed_out or e.elapsed_s > limit]
    slowest = max(e.elapsed_s for e in exchanges)
    if late:
        raise CheckFailed(
            f"{plural(len(late), 'request')} got no reply within the SDK's {limit:g} s timeout"
            f" (first in check {late[0].check or 'sample'}; slowest {slowest:.2f} s)"
        )
    return f"slowest of {plural(len(exchanges), 'reply', 'replies')}: {slowest:.3f} s"


def tls_https_only(session: Session) -> str:
    if urlsplit(session.events_url).scheme != "https":
        raise CheckSkipped("plain http to loopback, allowed for testing: TLS is not judged")
    exchanges = _sample(session)
    answered = [e for e in exchanges if e.status is not None]
    if not answered:
        raise CheckFailed("no request got a reply over TLS: " + (exchanges[0].describe()))
    return (
        f"{plural(len(answered), 'reply', 'replies')} over https, certificate and host name"
        " verified, TLS 1.2 or later"
    )


def no_http_redirect(session: Session) -> str:
    exchanges = _sample(session)
    for exchange in exchanges:
        status = exchange.status or 0
        location = exchange.headers.get("location", "").strip().lower()
        if 300 <= status < 400 and location.startswith("http:"):
            raise CheckFailed(
                f"a {status} reply (in check {exchange.check or 'sample'}) redirects to plain"
                " http://; the SDK never follows redirects, and must not be asked to downgrade"
            )
    return f"judged {plural(len(exchanges), 'reply', 'replies')}"


OBSERVING: tuple[Check[Session], ...] = (
    Check(
        "error-replies-documented",
        "Errors carry a JSON body {\"error\": \"<code>\", \"detail\": \"<text>\"}, with a code"
        " the contract lists for that status.",
        error_replies_documented,
        observes=True,
    ),
    Check(
        "replies-echo-no-values",
        "No error body ever contains a field's value: no reply of the run echoes a number or"
        " a field value the kit sent.",
        replies_echo_no_values,
        observes=True,
    ),
    Check(
        "retry-after-parseable",
        "Retry-After on 429 and 503 gives seconds or an HTTP date that the SDK's parser"
        " (n2net_privacy.retry.parse_retry_after) reads. Judged on the 429 and 503"
        " replies the run meets; skipped when it meets none.",
        retry_after_parseable,
        observes=True,
    ),
    Check(
        "replies-within-timeout",
        "Every request of the run is answered within the SDK's request timeout"
        " (SenderConfig.request_timeout_s, 10 s).",
        replies_within_timeout,
        observes=True,
    ),
    Check(
        "tls-https-only",
        "Only https:// is used: the ingest answers over TLS 1.2 or later with a certificate"
        " valid for its host name.",
        tls_https_only,
        observes=True,
    ),
    Check(
        "no-http-redirect",
        "No downgrade: no reply redirects the client to plain http://.",
        no_http_redirect,
        observes=True,
    ),
)
