"""Powertools Logger (JSON), Metrics (EMF) and Tracer, set up the same way for every service.

``lambda_handler`` wraps a handler with all three so every Lambda entry point is observed alike. The local
stack sends the JSON log lines to a file (``FINVIEW_LOG_FILE``) so the console stays readable.
"""

from __future__ import annotations

import functools
import logging
import os
import warnings
from collections.abc import Callable
from typing import Any, TypeVar

from aws_lambda_powertools import Logger, Metrics, Tracer

NAMESPACE = "FinView"
# A consumer batch with nothing to count is normal; powertools would warn on every such invocation.
warnings.filterwarnings("ignore", message="No application metrics to publish")
F = TypeVar("F", bound=Callable[..., Any])


def _log_handler() -> logging.Handler | None:
    path = os.environ.get("FINVIEW_LOG_FILE")
    return logging.FileHandler(path, encoding="utf-8") if path else None


@functools.cache
def logger(service: str) -> Logger:
    return Logger(service=service, logger_handler=_log_handler())


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
