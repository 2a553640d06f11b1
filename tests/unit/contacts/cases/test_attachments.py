"""Attachment limits: size, content types, and file names that cannot escape their folder."""

from __future__ import annotations

import pytest

from services.contacts.cases import attachments
from services.contacts.cases.models import NewAttachmentIn
from shared.api import ApiError, from_domain_error
from shared.errors import DomainError

DOCX = "application/vnd.openxmlformats-officedocument.wordprocessingml.document"


@pytest.mark.parametrize(
    ("filename", "content_type"),
    [
        ("Mahnung.pdf", "application/pdf"),
        ("scan.PNG", "image/png"),
        ("photo.jpg", "image/jpeg"),
        ("fax.tiff", "image/tiff"),
        ("letter.docx", DOCX),
        ("table.xlsx", "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"),
        ("notes.txt", "text/plain; charset=utf-8"),
        ("reply.eml", "message/rfc822"),
        ("reply.msg", "application/vnd.ms-outlook"),
    ],
)
def test_accepted_types(filename: str, content_type: str) -> None:
    assert attachments.check_upload(NewAttachmentIn(filename=filename, content_type=content_type, size=10)) == filename


def _rejected(**fields: object) -> ApiError:
    body = NewAttachmentIn.model_validate({"filename": "a.pdf", "content_type": "application/pdf", "size": 1, **fields})
    with pytest.raises(DomainError) as info:
        attachments.check_upload(body)
    error = from_domain_error(info.value)
    assert error.status == 422
    return error


def test_limits() -> None:
    assert attachments.check_upload(NewAttachmentIn(filename="a.pdf", content_type="application/pdf", size=20 * 2**20))
    assert (_rejected(size=20 * 2**20 + 1).code, _rejected(size=20 * 2**20 + 1).field) == (
        "attachment_too_large",
        "size",
    )
    assert _rejected(content_type="application/x-msdownload", filename="a.exe").field == "content_type"
    assert _rejected(content_type="text/html", filename="a.html").code == "content_type_not_allowed"
    assert _rejected(filename="a.exe").code == "extension_mismatch"


def test_file_names_lose_their_path() -> None:
    assert attachments.safe_filename("../../etc/passwd.txt") == "passwd.txt"
    assert attachments.safe_filename("C:\\Users\\x\\Brief an <Kunde>.pdf") == "Brief an _Kunde_.pdf"
    assert _rejected(filename="../..").code == "invalid_filename"
