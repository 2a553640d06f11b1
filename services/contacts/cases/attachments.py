"""Attachments of a case ("pièces"): documents sent to or received from the debtor, kept as a record.

The file itself never passes through the API: the client gets a presigned S3 PUT URL (its content type and
length are signed, so S3 refuses a different file) and later a presigned GET URL. Metadata lives in the contacts
table under ``CASE#<case_id> / ATTACHMENT#<attachment_id>``.
"""

from __future__ import annotations

import re
from datetime import UTC, datetime
from typing import Any

from botocore.exceptions import ClientError

from services.contacts import pagination, settings, store
from services.contacts.cases import audit, repository
from services.contacts.cases import use_cases as cases
from services.contacts.cases.models import Attachment, AttachmentDownload, AttachmentUpload, NewAttachmentIn
from services.contacts.identity import Identity
from services.contacts.models import Page
from shared import aws
from shared.errors import Conflict, Invalid, NotFound
from shared.events import new_id

MAX_SIZE = 20 * 1024 * 1024
URL_SECONDS = 900
# Content type → the file extensions it may carry.
ALLOWED: dict[str, tuple[str, ...]] = {
    "application/pdf": ("pdf",),
    "image/png": ("png",),
    "image/jpeg": ("jpg", "jpeg"),
    "image/tiff": ("tif", "tiff"),
    "application/vnd.openxmlformats-officedocument.wordprocessingml.document": ("docx",),
    "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet": ("xlsx",),
    "text/plain": ("txt",),
    "message/rfc822": ("eml",),
    "application/vnd.ms-outlook": ("msg",),
}
_UNSAFE = re.compile(r"[^\w.\- ]+", re.UNICODE)


def safe_filename(name: str) -> str:
    """The file's own name, without any path, with only letters, digits, spaces, dots and dashes."""
    base = re.split(r"[\\/]", name)[-1]
    cleaned = _UNSAFE.sub("_", base).strip(" .")
    if not cleaned:
        raise Invalid("invalid_filename", "the file name is empty once its path is removed", "filename")
    return cleaned


def check_upload(body: NewAttachmentIn) -> str:
    """Size and type limits; returns the safe file name."""
    content_type = body.content_type.split(";")[0].strip().lower()
    if content_type not in ALLOWED:
        raise Invalid(
            "content_type_not_allowed",
            f"{body.content_type} is not accepted; send one of: pdf, png, jpeg, tiff, docx, xlsx, txt, eml, msg",
            "content_type",
        )
    if body.size > MAX_SIZE:
        raise Invalid("attachment_too_large", f"an attachment may have at most {MAX_SIZE // (1024 * 1024)} MB", "size")
    filename = safe_filename(body.filename)
    extension = filename.rsplit(".", 1)[-1].lower() if "." in filename else ""
    if extension not in ALLOWED[content_type]:
        raise Invalid(
            "extension_mismatch",
            f"a {content_type} file should end in .{' or .'.join(ALLOWED[content_type])}",
            "filename",
        )
    return filename


def _presigner() -> Any:
    """An S3 client that signs with SigV4, so the Content-Type and Content-Length of an upload are signed headers
    (the shared client may presign with the older query signature, which does not cover the length)."""
    return aws.client("s3", signature_version="s3v4")


def _bucket() -> str:
    return settings.get().attachments_bucket


def _object_key(case_id: str, attachment_id: str, filename: str) -> str:
    return f"cases/{case_id}/{attachment_id}/{filename}"


def request_upload(case_id: str, body: NewAttachmentIn, who: Identity, correlation_id: str) -> AttachmentUpload:
    case = cases.case_item(case_id, who, change=True)
    filename = check_upload(body)
    content_type = body.content_type.split(";")[0].strip().lower()
    attachment = Attachment(
        attachment_id=new_id(),
        case_id=case_id,
        filename=filename,
        content_type=content_type,
        size=body.size,
        description=body.description or None,
        uploaded_by=who.principal,
        created_at=datetime.now(UTC),
    )
    key = _object_key(case_id, attachment.attachment_id, filename)
    stored = {
        "PK": f"CASE#{case_id}",
        "SK": f"ATTACHMENT#{attachment.attachment_id}",
        **attachment.model_dump(mode="json"),
        "object_key": key,
    }
    tx = repository.Tx().put(stored)
    tx.audit(
        audit.entry(
            str(case["case_owner_id"]),
            audit.Actor.of(who),
            "case.attachment_added",
            target_type="attachment",
            target_id=attachment.attachment_id,
            case_id=case_id,
            after={"filename": filename, "content_type": content_type, "size": body.size},
            why={"description": attachment.description} if attachment.description else None,
            correlation_id=correlation_id,
        )
    )
    tx.commit()
    url = _presigner().generate_presigned_url(
        "put_object",
        Params={"Bucket": _bucket(), "Key": key, "ContentType": content_type, "ContentLength": body.size},
        ExpiresIn=URL_SECONDS,
        HttpMethod="PUT",
    )
    return AttachmentUpload(
        attachment=attachment,
        upload_url=url,
        upload_headers={"Content-Type": content_type},
        expires_in=URL_SECONDS,
    )


def list_attachments(case_id: str, who: Identity, limit: int, next_token: str | None) -> Page[Attachment]:
    cases.case_item(case_id, who, change=False)
    items, last = repository.page(
        f"CASE#{case_id}",
        "ATTACHMENT#",
        limit,
        pagination.decode(next_token, {"PK": f"CASE#{case_id}"}, "ATTACHMENT#"),
        newest_first=False,
    )
    return Page[Attachment](
        items=[Attachment.model_validate(store.clean(i)) for i in items], next_token=pagination.encode(last)
    )


def _stored(case_id: str, attachment_id: str) -> dict[str, Any]:
    item = repository.get_item(f"CASE#{case_id}", f"ATTACHMENT#{attachment_id}")
    if item is None:
        raise NotFound("attachment", attachment_id)
    return item


def download(case_id: str, attachment_id: str, who: Identity) -> AttachmentDownload:
    cases.case_item(case_id, who, change=False)
    item = _stored(case_id, attachment_id)
    try:
        aws.client("s3").head_object(Bucket=_bucket(), Key=item["object_key"])
    except ClientError as exc:
        if exc.response["Error"]["Code"] not in ("404", "NoSuchKey", "NotFound"):
            raise
        # Registered but never uploaded (or the upload URL expired unused): nothing to download yet.
        raise Conflict("attachment_not_uploaded", "the file of this attachment has not been uploaded") from exc
    url = _presigner().generate_presigned_url(
        "get_object",
        Params={
            "Bucket": _bucket(),
            "Key": item["object_key"],
            "ResponseContentDisposition": f'attachment; filename="{item["filename"]}"',
        },
        ExpiresIn=URL_SECONDS,
    )
    return AttachmentDownload(
        attachment=Attachment.model_validate(store.clean(item)), download_url=url, expires_in=URL_SECONDS
    )


def delete(case_id: str, attachment_id: str, who: Identity, correlation_id: str) -> None:
    case = cases.case_item(case_id, who, change=True)
    item = _stored(case_id, attachment_id)
    tx = repository.Tx().delete({"PK": f"CASE#{case_id}", "SK": f"ATTACHMENT#{attachment_id}"})
    tx.audit(
        audit.entry(
            str(case["case_owner_id"]),
            audit.Actor.of(who),
            "case.attachment_deleted",
            target_type="attachment",
            target_id=attachment_id,
            case_id=case_id,
            before={"filename": item["filename"], "content_type": item["content_type"], "size": item["size"]},
            correlation_id=correlation_id,
        )
    )
    try:
        tx.commit()
    except repository.WriteConflict as exc:
        raise NotFound("attachment", attachment_id) from exc
    # The record goes first: a failed S3 delete leaves an orphan object, never a listed file that is gone.
    aws.client("s3").delete_object(Bucket=_bucket(), Key=item["object_key"])
