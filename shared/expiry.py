"""Retention classes: records that expire on their own, each kind after its own time.

In AWS, DynamoDB deletes an item some time after the epoch second in its ``expiration`` attribute (the TTL attribute
every table declares, ``infra.definition.Table.ttl_attribute``), and S3 lifecycle rules expire files (the template:
old versions after 30 days, dropped files and rejected-rows files after 30, data exports after 2). Moto runs
neither, so ``sweep`` and ``sweep_bucket`` delete what has expired: the local stack's ``finview expire`` and the
tests call them, as TTL and the lifecycle rules would act.

Records of a case (the case owner, cases, contact points, notes, the audit trail) have no class here: they are kept
while the case is open and for the legal retention period after, then erased on request
(``services.contacts.privacy.erasure``). Messages to a debtor have a class (the evidence of contact), and so has what
an erasure leaves (the proof that and why it happened, without personal data).
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
    # A message to a debtor (its record, provider pointer, delivery claim and owner pointer) is the evidence that and
    # how the person was contacted, disputed until the claims about the contact are time-barred: 3 years from the end
    # of the year in DE (BGB §§195, 199), 5 in FR (Code civil art. 2224), 6 in GB (Limitation Act 1980 s.5).
    # An erasure request removes them sooner.
    "message_records": timedelta(days=round(6 * 365.25)),
    # What stays of an erased person: the audit trail stripped of its before/after/why, the erasure's own entries,
    # the request record and the tombstone (ids, times, actors, the reason and the law: no personal data). The proof
    # that and why we erased, kept for the claims and fines it may be asked for in (GDPR Art. 5(2), 82, 83), then gone.
    "erasure_evidence": timedelta(days=round(6 * 365.25)),
}
# The classes whose records an erasure does not reach (or not all of them: rejected rows name no case owner, replay
# records and export parts are not looked for): each must be gone within the month an erasure is answered in, with
# the days TTL takes to act (tests/unit/infra/test_template.py adds them up with the queues and the bus archive).
ONLY_EXPIRE = frozenset({"import_rows", "data_export_parts", "api_idempotency", "event_idempotency"})


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
