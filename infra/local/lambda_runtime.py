"""What Lambda gives a handler: the function object and a context. Shared by the dispatcher and API gateway."""

from __future__ import annotations

import importlib
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from infra.definition import Function
from infra.local import ACCOUNT as ACCOUNT  # the dispatcher's and the API gateway's


@dataclass
class LambdaContext:
    function_name: str
    timeout_seconds: int
    memory_limit_in_mb: int = 512
    region: str = "eu-west-1"
    aws_request_id: str = field(default_factory=lambda: str(uuid.uuid4()))
    function_version: str = "$LATEST"
    _started: float = field(default_factory=time.monotonic)

    @property
    def invoked_function_arn(self) -> str:
        return f"arn:aws:lambda:{self.region}:{ACCOUNT}:function:{self.function_name}"

    @property
    def log_group_name(self) -> str:
        return f"/aws/lambda/{self.function_name}"

    @property
    def log_stream_name(self) -> str:
        return f"local/{self.aws_request_id}"

    def get_remaining_time_in_millis(self) -> int:
        return max(0, int((self.timeout_seconds - (time.monotonic() - self._started)) * 1000))


def resolve(function: Function) -> Callable[[dict[str, Any], Any], Any]:
    """The Lambda handler ``app.<handler>`` of the service's Chalice app, exactly as AWS would call it."""
    module = importlib.import_module(f"services.{function.service}.app")
    return getattr(module, function.handler)  # type: ignore[no-any-return]


def context_for(function: Function, region: str, stage: str) -> LambdaContext:
    return LambdaContext(
        function_name=f"finview-{stage}-{function.service}-{function.handler}",
        timeout_seconds=function.timeout,
        memory_limit_in_mb=function.memory,
        region=region,
    )
