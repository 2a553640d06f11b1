"""Retention classes: records that expire on their own, each kind after its own time.

In AWS, DynamoDB deletes an item some time after the epoch second in its ``expiration`` attribute (the TTL attribute
every table declares, ``infra.definition.Table.ttl_attribute``), and S3 lifecycle rules expire files (the template:
old versions after 30 days, dropped files and rejected-rows files after 30, data exports after 2). Moto runs
neither, so ``sweep`` and ``sweep_bucket`` delete what has expired: the local stack's ``finview expire`` and the
tests call them, as TTL and the lifecycle rules would act.

Records of a case (the case owner, cases, contact points, notes, messages, the audit trail) have no class here: they
are kept while the case is open and for the legal retention period after, then erased on request
(``services.contacts.privacy.erasure``).
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from boto3.dynamodb.conditions import Attr

from shared import aws

ATTRIBUTE = "expiration"
CLASSES: dict[str, timedelta] = {
    # An import's staged rows, rejections and warnings: its report is read within days; the rows carry debtors' data.
    "import_rows": timedelta(days=21),  # infra.definition.IMPORT_FILE_DAYS, like the file itself
    # The parts a data subject's export was assembled from: the zip itself expires after 2 days (S3 lifecycle).
    "data_export_parts": timedelta(days=3),
    # Replay records of API calls with an Idempotency-Key (shared.idempotency) and of consumed events
    # (shared.consumer): powertools writes the same attribute.
    "api_idempotency": timedelta(hours=24),
    "event_idempotency": timedelta(days=7),
}


def expires(kind: str, at: datetime) -> int:
    """The ``expiration`` value of a record of ``kind`` written at ``at`` (epoch seconds, as DynamoDB TTL reads)."""
    return int((at + CLASSES[kind]).timestamp())


def sweep_bucket(bucket: str, days: int, at: datetime) -> int:
    """Local S3 lifecycle: every version of every object older than ``days`` at ``at``, deleted; returns how many."""
    s3 = aws.client("s3")
    cutoff, deleted = at - timedelta(days=days), 0
    for page in s3.get_paginator("list_object_versions").paginate(Bucket=bucket):
        for version in [*page.get("Versions", []), *page.get("DeleteMarkers", [])]:
            if version["LastModified"] < cutoff:
                s3.delete_object(Bucket=bucket, Key=version["Key"], VersionId=version["VersionId"])
                deleted += 1
    return deleted


def sweep(table_name: str, at: datetime) -> int:
    """Delete every item of ``table_name`` whose expiration has passed at ``at``; returns how many (local TTL)."""
    table = aws.table(table_name)
    kwargs: dict[str, Any] = {
        "FilterExpression": Attr(ATTRIBUTE).lt(int(at.timestamp())),
        "ProjectionExpression": "PK, SK",
    }
    deleted = 0
    with table.batch_writer() as batch:
        while True:
            page = table.scan(**kwargs)
            for item in page.get("Items", []):
                batch.delete_item(Key={"PK": item["PK"], "SK": item["SK"]})
                deleted += 1
            if "LastEvaluatedKey" not in page:
                return deleted
            kwargs["ExclusiveStartKey"] = page["LastEvaluatedKey"]
