"""The contacts table: key layout and the few access helpers every repository module uses.

Single-table design. Keys:
  BU#<id>          PROFILE                      (a business unit; "default" is seeded lazily)
  CLIENT#<id>      PROFILE | SETTINGS | USER#<user_id>   (USER#: a person's membership and rights there)
  PERSON#<email>   PROFILE                      (same e-mail = same person, whatever the client)
  USER#<user_id>   PERSON                       (user id → the person's e-mail, for linking by id)
  OWNER#<id>       PROFILE | CASE#<case_id> | CP#<type>#<cp_id> | DEFAULT#<type> | AUDIT#<ts>#<id>
  CASE#<id>        POINTER | NOTE#<ts>#<note_id> | ATTACHMENT#<attachment_id>   (POINTER: case id → case owner)
  Contact points and cases carry a ``revision`` (optimistic lock). DEFAULT#<type> {contact_point_id, revision}
  names the one default of a type; every write that moves a default updates it, conditionally, in the same
  transaction as the points' is_default flags and the AUDIT# entry (case_repository.Tx).
GSI1: CLIENT#<id>#CASES / <opened_on>#<case_id> lists a client's cases; CLIENTS / <name>#<id> lists clients;
      BUSINESS_UNITS / <name>#<id> lists business units; USER#<user_id> / CLIENT#<id> lists a person's clients.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from services.contacts import settings
from shared import aws, dynamo

KEY_ATTRS = {"PK", "SK", "GSI1PK", "GSI1SK"}


def table_name() -> str:
    return settings.get().table


def table() -> Any:
    return aws.table(table_name())


def now() -> str:
    return datetime.now(UTC).isoformat()


def clean(item: dict[str, Any]) -> dict[str, Any]:
    """An item without its key attributes and empty values, ready for a model."""
    return {k: v for k, v in item.items() if v is not None and k not in KEY_ATTRS}


def drop_none(item: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in item.items() if v is not None}


def put_new(item: dict[str, Any]) -> bool:
    """Put unless the key exists; False when it did (a re-delivery or a duplicate)."""
    return dynamo.put_new(table(), item)


def query_all(**kwargs: Any) -> list[dict[str, Any]]:
    return dynamo.query_all(table(), **kwargs)
