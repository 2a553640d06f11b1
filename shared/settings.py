"""Typed settings of a service, read from its function's environment (pydantic-settings).

Each service has one ``settings.py`` with a model of this base, the only module of the service that reads the
environment. ``load`` validates it: a missing or malformed variable raises ``SettingsError`` naming it.
``at_cold_start`` does so while the Lambda runtime imports the app, so a bad deployment fails the function's
init with that message instead of its first request. Which variables each function gets is declared once in
``infra.definition`` (``Stack.environment``).
"""

from __future__ import annotations

import os
import threading
from typing import Any, ClassVar, TypeVar

from pydantic import AliasChoices, ValidationError
from pydantic_settings import BaseSettings, SettingsConfigDict

# Set by AWS Lambda in every function's environment, never by the local stack or tests.
LAMBDA_MARKER = "AWS_LAMBDA_FUNCTION_NAME"


class ServiceSettings(BaseSettings):
    # Variables are named exactly (case-sensitive); an empty value counts as unset.
    model_config = SettingsConfigDict(case_sensitive=True, frozen=True, env_ignore_empty=True, extra="ignore")

    # Optional variables left out of the function's declared environment on purpose (the code ships a default).
    UNDECLARED: ClassVar[frozenset[str]] = frozenset()

    @classmethod
    def variables(cls) -> tuple[str, ...]:
        """Every environment variable the model reads."""
        names: list[str] = []
        for name, info in cls.model_fields.items():
            alias = info.validation_alias
            if isinstance(alias, str):
                names.append(alias)
            elif isinstance(alias, AliasChoices):
                names.extend(str(choice) for choice in alias.choices)
            else:
                names.append(name)
        return tuple(names)


class SettingsError(RuntimeError):
    """The environment does not satisfy a service's settings model."""


S = TypeVar("S", bound=ServiceSettings)
_lock = threading.Lock()
_loaded: dict[tuple[type[Any], tuple[str | None, ...]], Any] = {}
_variables: dict[type[Any], tuple[str, ...]] = {}  # a model's variables, named once (``load`` runs per request)


def load(model: type[S]) -> S:
    """The validated settings; read again only when one of its variables changed (tests switch stages)."""
    names = _variables.get(model)
    if names is None:
        names = _variables[model] = model.variables()
    key = (model, tuple(map(os.environ.get, names)))
    found = _loaded.get(key)  # no lock to read: one dict lookup is atomic, and every request of every thread reads
    if found is not None:
        return found  # type: ignore[no-any-return]
    try:
        settings = model()
    except ValidationError as exc:
        problems = "; ".join(f"{'.'.join(str(p) for p in e['loc'])}: {e['msg']}" for e in exc.errors())
        raise SettingsError(f"{model.__module__}: the function's environment is not usable: {problems}") from exc
    with _lock:
        if len(_loaded) > 256:
            _loaded.clear()
        _loaded[key] = settings
    return settings


def at_cold_start(model: type[S]) -> S | None:
    """Validate at import in AWS Lambda (init fails with the message); elsewhere at first use."""
    return load(model) if os.environ.get(LAMBDA_MARKER) else None
