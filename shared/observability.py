"""Powertools Logger (JSON), Metrics (EMF) and Tracer, set up the same way for every service.

``lambda_handler`` wraps a handler with all three so every Lambda entry point is observed alike. The local
stack sends the JSON log lines to a file (``FINVIEW_LOG_FILE``) so the console stays readable.
"""

from __future__ import annotations

import functools
import logging
import os
import sys
import warnings
from collections.abc import Callable
from typing import Any, TypeVar

from aws_lambda_powertools import Logger, Metrics, Tracer

from shared.redaction import RedactingFormatter

NAMESPACE = "FinView"
# A consumer batch with nothing to count is normal; powertools would warn on every such invocation.
warnings.filterwarnings("ignore", message="No application metrics to publish")
F = TypeVar("F", bound=Callable[..., Any])


class _Destination(logging.Handler):
    """Standard output (what Lambda ships to CloudWatch), or ``FINVIEW_LOG_FILE`` when the local stack sets it.

    Decided per record, not when the logger is made: one process may host several local stacks (tests).
    """

    def __init__(self) -> None:
        super().__init__()
        self._stdout = logging.StreamHandler(sys.stdout)
        self._files: dict[str, logging.FileHandler] = {}

    def setFormatter(self, fmt: logging.Formatter | None) -> None:
        super().setFormatter(fmt)
        self._stdout.setFormatter(fmt)
        for handler in self._files.values():
            handler.setFormatter(fmt)

    def emit(self, record: logging.LogRecord) -> None:
        path = os.environ.get("FINVIEW_LOG_FILE")
        if not path:
            self._stdout.emit(record)
            return
        handler = self._files.get(path)
        if handler is None:
            handler = self._files[path] = logging.FileHandler(path, encoding="utf-8")
            handler.setFormatter(self.formatter)
        handler.emit(record)


@functools.cache
def logger(service: str) -> Logger:
    # Every line without personal data (GDPR): e-mails, phones and names go before the line is written.
    return Logger(service=service, logger_handler=_Destination(), logger_formatter=RedactingFormatter())


def adopt(log: logging.Logger, service: str) -> logging.Logger:
    """A library's own logger written like ours: JSON, redacted, to the local stack's log file when it has one.

    chalice logs an unhandled exception's traceback (the request it answers with a 500) raw to standard output: in
    Lambda a debtor's address in an exception's text would reach CloudWatch unredacted, and `finview up` printed it
    to a console nobody keeps."""
    handler = _Destination()
    handler.setFormatter(RedactingFormatter(service=service))
    log.handlers = [handler]
    log.propagate = False
    return log


@functools.cache
def metrics(service: str) -> Metrics:
    return Metrics(namespace=NAMESPACE, service=service)


@functools.cache
def tracer(service: str) -> Tracer:
    return Tracer(service=service)


def lambda_handler(service: str) -> Callable[[F], F]:
    """Logger context, EMF metrics flush and X-Ray tracing around a Lambda handler ``(event, context)``."""

    def decorate(fn: F) -> F:
        wrapped = tracer(service).capture_lambda_handler(fn)
        wrapped = metrics(service).log_metrics(wrapped)
        wrapped = logger(service).inject_lambda_context(clear_state=True)(wrapped)
        return functools.wraps(fn)(wrapped)  # type: ignore[return-value]

    return decorate
