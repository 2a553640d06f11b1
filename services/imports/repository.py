"""DynamoDB access for the imports table (and nothing else's).

Keys:
  CLIENT#<id>                    PROFILE | SETTINGS       imports' own copy, from contacts' events
  CLIENT#<id>                    MATCHING                 whose turn it is to match this client's rows (a lease)
  CLIENT#<id>                    MERGE#<event_id>         an accepted review the match index has not taken in yet
  OBJECT#<bucket>/<key>          DROP#<version|etag>      which import a delivered object became
  CONTENT#<client>#<sha256>      CONTENT                  the import of this content (same file, other name)
  JOB#<import_id>                JOB                      the job record: status, phase, checkpoint, counts
  JOB#<import_id>                ROW#<owner>#<row>        a staged row (read back grouped by case owner)
  JOB#<import_id>                REJECT#<row> | WARN#<row>  per-row rejection reasons and warnings
  MATCH#<client>#<key>           KEY                      match-key index: key → {case owner: tag}
  MATCH#<client>#owner#<id>      PROFILE                  what matching knows about a case owner
  MATCH#<client>#owner#<id>      KEYS#<tag>#<digest>      match keys a row added the owner to that its profile
                                                          does not name (an erasure finds all)
  JOBS#ACTIVE                    <import_id>              an import not yet completed or failed (the stuck check)
GSI1: CLIENT#<id>#JOBS / <received_at> lists a client's imports.

Batch reads and writes go out in parallel (boto3 clients are thread-safe) and retry unprocessed items.
"""

from __future__ import annotations

import hashlib
import math
import time
from collections.abc import Iterable, Iterator, Mapping
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime
from typing import Any

from boto3.dynamodb.types import TypeDeserializer
from botocore.exceptions import ClientError

from services.imports import settings
from services.imports.matching import OwnerProfile, profile_keys
from shared import aws, dynamo

PARALLELISM = 32  # the shared boto3 config keeps 32 connections per client
_de = TypeDeserializer()
_pool = ThreadPoolExecutor(max_workers=PARALLELISM, thread_name_prefix="imports-ddb")


def _table_name() -> str:
    return settings.get().table


def _table() -> Any:
    return aws.table(_table_name())


def now() -> str:
    return datetime.now(UTC).isoformat()


def _conditional_put(item: dict[str, Any]) -> bool:
    return dynamo.put_new(_table(), item)


# ---- clients (own copy) -----------------------------------------------------------------------------------


def put_client(client_id: str, legal_name: str) -> None:
    _table().put_item(Item={"PK": f"CLIENT#{client_id}", "SK": "PROFILE", "legal_name": legal_name})


def client_known(client_id: str) -> bool:
    return "Item" in _table().get_item(Key={"PK": f"CLIENT#{client_id}", "SK": "PROFILE"}, ConsistentRead=True)


def put_settings(client_id: str, settings: dict[str, Any]) -> None:
    _table().put_item(Item={"PK": f"CLIENT#{client_id}", "SK": "SETTINGS", "settings": settings})


def get_settings(client_id: str) -> dict[str, Any]:
    item = _table().get_item(Key={"PK": f"CLIENT#{client_id}", "SK": "SETTINGS"}, ConsistentRead=True).get("Item")
    return dict(item["settings"]) if item else {}


# ---- drops and content --------------------------------------------------------------------------------------


def get_drop(object_id: str, drop_ref: str) -> str | None:
    item = _table().get_item(Key={"PK": f"OBJECT#{object_id}", "SK": f"DROP#{drop_ref}"}, ConsistentRead=True)
    return str(item["Item"]["import_id"]) if "Item" in item else None


def put_drop(object_id: str, drop_ref: str, import_id: str) -> None:
    _table().put_item(Item={"PK": f"OBJECT#{object_id}", "SK": f"DROP#{drop_ref}", "import_id": import_id})


SEQUENCER_WIDTH = 64


def note_sequencer(object_id: str, sequencer: str) -> bool:
    """Record the S3 sequencer of a notification for this key; False when a later one was seen already (this
    notification is stale: the key was overwritten since). Right-padded with zeros, as S3 says to compare them,
    so DynamoDB's string order is S3's event order."""
    padded = sequencer.upper().ljust(SEQUENCER_WIDTH, "0")
    try:
        _table().put_item(
            Item={"PK": f"OBJECT#{object_id}", "SK": "SEQUENCER", "sequencer": padded, "seen_at": now()},
            ConditionExpression="attribute_not_exists(PK) OR sequencer <= :s",
            ExpressionAttributeValues={":s": padded},
        )
        return True
    except ClientError as exc:
        if dynamo.is_condition_failure(exc):
            return False
        raise


def claim_content(client_id: str, sha256: str, import_id: str, object_id: str, drop_ref: str) -> dict[str, Any]:
    """The claim on this content: ours if new, else the earlier one (compare its object and drop)."""
    item = {
        "PK": f"CONTENT#{client_id}#{sha256}",
        "SK": "CONTENT",
        "import_id": import_id,
        "object_id": object_id,
        "drop_ref": drop_ref,
        "claimed_at": now(),
    }
    if _conditional_put(item):
        return item
    got = _table().get_item(Key={"PK": item["PK"], "SK": "CONTENT"}, ConsistentRead=True)["Item"]
    return dict(got)


# ---- jobs ---------------------------------------------------------------------------------------------------


ACTIVE = "JOBS#ACTIVE"
FINAL = ("completed", "failed")


def create_job(import_id: str, fields: dict[str, Any]) -> dict[str, Any]:
    """Record the job as received; returns the stored job (the existing one if this import was seen before)."""
    received = now()
    item = {
        "PK": f"JOB#{import_id}",
        "SK": "JOB",
        "import_id": import_id,
        "status": "received",
        "received_at": received,
        "GSI1PK": f"CLIENT#{fields.get('client_id') or '-'}#JOBS",
        "GSI1SK": f"{received}#{import_id}",
        **fields,
    }
    if _conditional_put(item):
        _table().put_item(Item={"PK": ACTIVE, "SK": import_id, "received_at": received})
        return item
    existing = get_job(import_id)
    assert existing is not None
    return existing


def get_job(import_id: str) -> dict[str, Any] | None:
    item = _table().get_item(Key={"PK": f"JOB#{import_id}", "SK": "JOB"}, ConsistentRead=True).get("Item")
    return dict(item) if item else None


class LeaseLost(Exception):
    """The job's lease is no longer the writer's: it expired and another worker took the job."""


def update_job(import_id: str, *, lease: tuple[str, float] | None = None, **fields: Any) -> None:
    """Set ``fields`` on the job; every update is progress (``updated_at``), a final status ends it being active.

    With ``lease`` (worker, seconds) the update is a checkpoint: written only while the worker holds the job's
    lease, which it renews for ``seconds`` from now (else ``LeaseLost``, and nothing is written)."""
    fields.setdefault("updated_at", now())
    extra: dict[str, Any] = {}
    if lease is not None:
        fields["lease_until"] = int(time.time()) + math.ceil(lease[1])
        extra = {"ConditionExpression": "lease_owner = :me"}
    names: dict[str, str] = {}
    values: dict[str, Any] = {":me": lease[0]} if lease is not None else {}
    sets = []
    for i, (name, value) in enumerate(fields.items()):
        names[f"#f{i}"] = name
        values[f":v{i}"] = value
        sets.append(f"#f{i} = :v{i}")
    try:
        _table().update_item(
            Key={"PK": f"JOB#{import_id}", "SK": "JOB"},
            UpdateExpression="SET " + ", ".join(sets),
            ExpressionAttributeNames=names,
            ExpressionAttributeValues=values,
            **extra,
        )
    except ClientError as exc:
        if lease is not None and dynamo.is_condition_failure(exc):
            raise LeaseLost(import_id) from None
        raise
    if fields.get("status") in FINAL:
        forget_active(import_id)


def active_imports() -> Iterator[str]:
    """The imports neither completed nor failed (a small partition: finished ones leave it)."""
    return (str(item["SK"]) for item in _query(ACTIVE, " ", "~"))


def forget_active(import_id: str) -> None:
    _table().delete_item(Key={"PK": ACTIVE, "SK": import_id})


def _hold(key: dict[str, str], holder: str, seconds: float) -> bool:
    """Take the lease on ``key`` for ``seconds`` if it is free, expired or already ours."""
    now_s = int(time.time())
    try:
        _table().update_item(
            Key=key,
            UpdateExpression="SET lease_owner = :me, lease_until = :until",
            ConditionExpression="attribute_not_exists(lease_until) OR lease_until < :now OR lease_owner = :me",
            ExpressionAttributeValues={":me": holder, ":until": now_s + math.ceil(seconds), ":now": now_s},
        )
        return True
    except ClientError as exc:
        if dynamo.is_condition_failure(exc):
            return False
        raise


def _let_go(key: dict[str, str], holder: str) -> None:
    try:
        _table().update_item(
            Key=key,
            UpdateExpression="REMOVE lease_owner, lease_until",
            ConditionExpression="lease_owner = :me",
            ExpressionAttributeValues={":me": holder},
        )
    except ClientError as exc:
        if not dynamo.is_condition_failure(exc):
            raise


def _job_key(import_id: str) -> dict[str, str]:
    return {"PK": f"JOB#{import_id}", "SK": "JOB"}


def take_lease(import_id: str, worker: str, seconds: float) -> bool:
    """One worker at a time per job (a duplicate notification and a continuation may arrive together)."""
    return _hold(_job_key(import_id), worker, seconds)


def release_lease(import_id: str, worker: str) -> None:
    _let_go(_job_key(import_id), worker)


def _matching_key(client_id: str) -> dict[str, str]:
    return {"PK": f"CLIENT#{client_id}", "SK": "MATCHING"}


def take_matching_turn(client_id: str, worker: str, seconds: float) -> bool:
    """One import of a client matches at a time: two drops staged at once would each read the match index before
    the other wrote it and give one debtor two case owners (and overwrite each other's index entries)."""
    return _hold(_matching_key(client_id), worker, seconds)


def end_matching_turn(client_id: str, worker: str) -> None:
    _let_go(_matching_key(client_id), worker)


def add_pending_merge(client_id: str, event_id: str, surviving: str, merged: str, tag: str) -> None:
    item = {"surviving": surviving, "merged": merged, "tag": tag, "event_id": event_id}
    _table().put_item(Item={"PK": f"CLIENT#{client_id}", "SK": f"MERGE#{event_id}", **item})


def pending_merges(client_id: str) -> list[dict[str, str]]:
    """In no particular order: they are few, and each is idempotent."""
    return [
        {k: str(item[k]) for k in ("surviving", "merged", "tag", "event_id")}
        for item in _query(f"CLIENT#{client_id}", "MERGE#", "MERGE$")
    ]


def drop_pending_merge(client_id: str, event_id: str) -> None:
    _table().delete_item(Key={"PK": f"CLIENT#{client_id}", "SK": f"MERGE#{event_id}"})


def _query(pk: str, low: str, high: str, limit: int | None = None) -> Iterator[dict[str, Any]]:
    kwargs: dict[str, Any] = {
        "KeyConditionExpression": "PK = :pk AND SK BETWEEN :lo AND :hi",
        "ExpressionAttributeValues": {":pk": pk, ":lo": low, ":hi": high},
    }
    returned = 0
    while True:
        page = _table().query(**kwargs)
        for item in page.get("Items", []):
            yield item
            returned += 1
            if limit is not None and returned >= limit:
                return
        if "LastEvaluatedKey" not in page:
            return
        kwargs["ExclusiveStartKey"] = page["LastEvaluatedKey"]


def staged_rows(import_id: str, after_owner: str | None = None) -> Iterator[dict[str, Any]]:
    """Staged rows in case-owner order, optionally after every row of ``after_owner``."""
    low = f"ROW#{after_owner}#~" if after_owner else "ROW#"
    return _query(f"JOB#{import_id}", low, "ROW$")


def owner_rows(import_id: str, case_owner_id: str) -> list[dict[str, Any]]:
    """The rows of one import staged for one case owner (a data subject's request)."""
    return list(_query(f"JOB#{import_id}", f"ROW#{case_owner_id}#", f"ROW#{case_owner_id}#~"))


def owner_match_keys(client_id: str, case_owner_id: str) -> set[str]:
    """The match keys recorded for the owner as they were written (``DynamoMatchIndex.put``): those its profile does
    not name (every key, for records written before that rule)."""
    records = _query(f"MATCH#{client_id}#owner#{case_owner_id}", "KEYS#", "KEYS$")
    return {str(k) for record in records for k in record.get("keys", [])}


def keys_holding(client_id: str, case_owner_id: str, named: Iterable[str]) -> set[str]:
    """The match keys that hold the owner: of those recorded for it and those its profile names (``named``)."""
    prefix = f"MATCH#{client_id}#"
    wanted = set(named) | owner_match_keys(client_id, case_owner_id)
    items = batch_get((prefix + k, "KEY") for k in wanted)
    return {str(i["PK"])[len(prefix) :] for i in items if case_owner_id in i.get("owners", {})}


def erase_owner(client_id: str, case_owner_id: str, keys: Iterable[str], rows: list[dict[str, Any]]) -> dict[str, int]:
    """A data subject's erasure: the owner leaves every match key (a key left empty goes), its profile and staged
    rows go. ``keys`` (rebuilt from the profile) adds to the keys recorded for the owner: records from before the
    owner's keys were recorded. Conditional updates, so a key another owner joined meanwhile keeps that owner.
    The key records go last, so an erasure stopped half-way finds them again."""
    prefix = f"MATCH#{client_id}#"
    owner_pk = f"{prefix}owner#{case_owner_id}"
    records = list(_query(owner_pk, "KEYS#", "KEYS$"))
    wanted = set(keys) | {str(k) for record in records for k in record.get("keys", [])}
    counts = {"match_keys": 0, "match_profile": 0, "staged_rows": 0}
    for item in batch_get((prefix + k, "KEY") for k in wanted):
        if case_owner_id not in item.get("owners", {}):
            continue
        key = {"PK": item["PK"], "SK": "KEY"}
        try:
            _table().update_item(
                Key=key,
                UpdateExpression="REMOVE owners.#o",
                ConditionExpression="attribute_exists(owners.#o)",
                ExpressionAttributeNames={"#o": case_owner_id},
            )
            _table().delete_item(
                Key=key, ConditionExpression="size(owners) = :none", ExpressionAttributeValues={":none": 0}
            )
        except ClientError as exc:
            if not dynamo.is_condition_failure(exc):
                raise
        counts["match_keys"] += 1
    profile_key = {"PK": owner_pk, "SK": "PROFILE"}
    counts["match_profile"] = int("Item" in _table().get_item(Key=profile_key))
    _table().delete_item(Key=profile_key)
    with _table().batch_writer() as batch:
        for row in rows:
            batch.delete_item(Key={"PK": row["PK"], "SK": row["SK"]})
        for record in records:
            batch.delete_item(Key={"PK": record["PK"], "SK": record["SK"]})
    counts["staged_rows"] = len(rows)
    return counts


def rejections(import_id: str, limit: int | None = None) -> Iterator[dict[str, Any]]:
    return _query(f"JOB#{import_id}", "REJECT#", "REJECT$", limit)


def warnings(import_id: str, limit: int | None = None) -> Iterator[dict[str, Any]]:
    return _query(f"JOB#{import_id}", "WARN#", "WARN$", limit)


def list_jobs(client_id: str, limit: int = 20) -> list[dict[str, Any]]:
    page = _table().query(
        IndexName="GSI1",
        KeyConditionExpression="GSI1PK = :pk",
        ExpressionAttributeValues={":pk": f"CLIENT#{client_id}#JOBS"},
        ScanIndexForward=False,
        Limit=limit,
    )
    return [dict(i) for i in page.get("Items", [])]


# ---- batch reads and writes ---------------------------------------------------------------------------------


class Throttled(RuntimeError):
    """DynamoDB kept returning unprocessed items (its way of throttling a batch) after our own retries."""


def _write_chunk(table: str, items: list[dict[str, Any]]) -> None:
    client = aws.client("dynamodb")
    requests = [{"PutRequest": {"Item": {k: dynamo.wire(v) for k, v in i.items()}}} for i in items]
    for attempt in range(10):
        response = client.batch_write_item(RequestItems={table: requests})
        requests = response.get("UnprocessedItems", {}).get(table, [])
        if not requests:
            return
        time.sleep(min(0.05 * 2**attempt, 2.0))
    raise Throttled(f"{len(requests)} item(s) could not be written to {table}")


def batch_put(items: Iterable[dict[str, Any]]) -> int:
    """Write items 25 at a time, the batches in parallel; same key twice keeps the last."""
    unique = {(i["PK"], i["SK"]): i for i in items}
    chunks = [list(unique.values())[n : n + 25] for n in range(0, len(unique), 25)]
    table = _table_name()
    for future in [_pool.submit(_write_chunk, table, c) for c in chunks]:
        future.result()
    return len(unique)


def _get_chunk(table: str, keys: list[dict[str, str]]) -> list[dict[str, Any]]:
    client = aws.client("dynamodb")
    request = {table: {"Keys": [{k: {"S": v} for k, v in key.items()} for key in keys], "ConsistentRead": True}}
    out: list[dict[str, Any]] = []
    for attempt in range(10):
        response = client.batch_get_item(RequestItems=request)
        out.extend(
            {k: _de.deserialize(v) for k, v in item.items()} for item in response.get("Responses", {}).get(table, [])
        )
        request = response.get("UnprocessedKeys") or {}
        if not request:
            return out
        time.sleep(min(0.05 * 2**attempt, 2.0))
    raise Throttled(f"keys of {table} could not be read")


def batch_get(keys: Iterable[tuple[str, str]]) -> list[dict[str, Any]]:
    unique = [{"PK": pk, "SK": sk} for pk, sk in dict.fromkeys(keys)]
    chunks = [unique[n : n + 100] for n in range(0, len(unique), 100)]
    table = _table_name()
    out: list[dict[str, Any]] = []
    for future in [_pool.submit(_get_chunk, table, c) for c in chunks]:
        out.extend(future.result())
    return out


MAX_REMEMBERED_KEYS = 200_000


class DynamoMatchIndex:
    """The match-key index of one client in the imports table: key lookups with BatchGetItem only.

    An erasure must find every key that holds an owner. Most are named by the owner's profile (``profile_keys``:
    its names, e-mails, phones, addresses, birth dates), which only grows until it is erased; the others (a matched
    row's name variant the profile did not keep, a postcode without a street) are recorded on the owner's partition
    as they are written (``KEYS#<tag>#<digest>``: the keys one row added the owner to that its profile does not
    name). Only holders new since the keys were read are recorded (the pipeline reads a batch's keys, then writes
    them). A key written without being read first records all its holders again, which is harmless: the record's
    key is derived from its content. Records written before this rule (every key of every row) stay valid.
    """

    def __init__(self, client_id: str) -> None:
        self.prefix = f"MATCH#{client_id}#"
        self._read: dict[str, frozenset[str]] = {}  # holders of each key as read, until the next put

    def get_keys(self, keys: Iterable[str]) -> dict[str, dict[str, str]]:
        wanted = list(keys)
        items = batch_get((self.prefix + k, "KEY") for k in wanted)
        found = {str(i["PK"])[len(self.prefix) :]: {str(o): str(t) for o, t in i["owners"].items()} for i in items}
        if len(self._read) > MAX_REMEMBERED_KEYS:  # read without a put (a benchmark): forgetting only costs records
            self._read.clear()
        self._read.update({k: frozenset(found.get(k, ())) for k in wanted})
        return found

    def get_profiles(self, owner_ids: Iterable[str]) -> dict[str, OwnerProfile]:
        items = batch_get((f"{self.prefix}owner#{o}", "PROFILE") for o in owner_ids)
        return {str(i["case_owner_id"]): OwnerProfile.from_item(i) for i in items}

    def put(self, keys: Mapping[str, dict[str, str]], profiles: Mapping[str, OwnerProfile]) -> None:
        added: dict[tuple[str, str], list[str]] = {}
        rebuilt: dict[str, set[str]] = {}  # the keys each written profile names (``profile_keys``)
        for k, owners in keys.items():
            before = self._read.get(k, frozenset())
            for owner, tag in owners.items():
                if owner in before:
                    continue
                profile = profiles.get(owner)
                if profile is not None:
                    named = rebuilt.get(owner)
                    if named is None:
                        named = rebuilt[owner] = profile_keys(profile)
                    if k in named:
                        continue  # the profile written with it names it (profiles only grow until erased)
                added.setdefault((owner, tag), []).append(k)
        # Records and profiles first, the keys after: a key never holds an owner that neither its record nor its
        # profile names, even if the writes stop half-way. Only keys no written profile names need a record: a new
        # case owner's keys are all named by its first profile, so most rows write none.
        first = [key_record(self.prefix, owner, tag, ks) for (owner, tag), ks in added.items()]
        first += [{"PK": f"{self.prefix}owner#{o}", "SK": "PROFILE", **p.to_item()} for o, p in profiles.items()]
        batch_put(first)
        batch_put({"PK": self.prefix + k, "SK": "KEY", "owners": dict(v)} for k, v in keys.items())
        self._read.clear()  # the pipeline reads each batch's keys afresh (Matcher.forget): memory stays flat


def key_record(prefix: str, owner: str, tag: str, keys: list[str]) -> dict[str, Any]:
    """The record of the match keys (of one client: ``prefix``) that the row ``tag`` added ``owner`` to; its key
    is derived from its content, so writing it again changes nothing."""
    ordered = sorted(keys)
    digest = hashlib.sha256("\n".join(ordered).encode()).hexdigest()[:16]
    return {"PK": f"{prefix}owner#{owner}", "SK": f"KEYS#{tag}#{digest}", "keys": ordered}
