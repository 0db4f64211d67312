"""Logs are an egress: audit the records of every logger while a test or scenario runs.

:class:`LogWatch` is a logging handler that hands the text of each record
(message, traceback, stack) to an
:class:`~n2net_privacy.audit.auditor.EgressAuditor`, where the address
book's PII, an email hash included, becomes a ``log.pii`` finding named after
the logger. It sits on the root logger, and on every logger that does not
propagate there, for as long as it is entered::

    with LogWatch(auditor):
        ...  # drive the SDK
    auditor.assert_no_pii()

It sees the records the logging configuration lets exist: run at DEBUG
(``logging.getLogger().setLevel(logging.DEBUG)``, pytest's ``--log-level=DEBUG``)
to audit every level.
"""

from __future__ import annotations

import logging
import threading
from types import TracebackType

from n2net_privacy.audit.auditor import EgressAuditor

__all__ = ["LogWatch"]

_FORMATTER = logging.Formatter()


class LogWatch(logging.Handler):
    """Audits every log record that reaches it; a context manager installs it everywhere."""

    def __init__(self, auditor: EgressAuditor) -> None:
        super().__init__(logging.NOTSET)
        self._auditor = auditor
        self._busy = threading.local()  # a record logged while auditing one is not audited
        self._attached: list[logging.Logger] = []

    def emit(self, record: logging.LogRecord) -> None:
        if getattr(self._busy, "on", False):
            return
        self._busy.on = True
        try:
            parts = [record.getMessage()]
            if record.exc_info:
                parts.append(_FORMATTER.formatException(record.exc_info))
            elif record.exc_text:
                parts.append(record.exc_text)
            if record.stack_info:
                parts.append(record.stack_info)
            self._auditor.inspect_log(record.name, "\n".join(parts))
        except Exception:
            self.handleError(record)
        finally:
            self._busy.on = False

    def __enter__(self) -> LogWatch:
        root = logging.getLogger()
        loggers = [root] + [
            logger for logger in list(root.manager.loggerDict.values())
            if isinstance(logger, logging.Logger) and not logger.propagate
        ]
        for logger in loggers:
            logger.addHandler(self)
        self._attached = loggers
        return self

    def __exit__(
        self,
        kind: type[BaseException] | None,
        value: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        for logger in self._attached:
            logger.removeHandler(self)
        self._attached = []
