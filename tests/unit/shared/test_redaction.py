"""No personal data in logs: the powertools formatter every service logs through (shared.observability)."""

from __future__ import annotations

import io
import json
import logging

import phonenumbers
import pytest
from aws_lambda_powertools import Logger
from pydantic import BaseModel, Field, ValidationError

from shared.redaction import RedactingFormatter, personal_data_in, redact


def _logger(name: str) -> tuple[Logger, io.StringIO]:
    out = io.StringIO()
    log = Logger(
        service=f"test-redaction-{name}",
        logger_handler=logging.StreamHandler(out),
        logger_formatter=RedactingFormatter(),
    )
    return log, out


def _lines(out: io.StringIO) -> list[dict[str, object]]:
    return [json.loads(line) for line in out.getvalue().splitlines()]


@pytest.mark.parametrize("region", ["DE", "FR", "GB", "US", "CH", "AT"])
def test_phone_numbers_of_every_region_we_collect_in_are_removed_from_messages(region: str) -> None:
    example = phonenumbers.example_number(region)
    assert example is not None
    for fmt in (phonenumbers.PhoneNumberFormat.INTERNATIONAL, phonenumbers.PhoneNumberFormat.E164):
        number = phonenumbers.format_number(example, fmt)
        assert number not in json.dumps(redact({"message": f"SMS to {number} failed"}))
    national = phonenumbers.format_number(example, phonenumbers.PhoneNumberFormat.NATIONAL)
    if national.startswith("0"):
        assert national not in json.dumps(redact({"message": f"call {national} refused"}))


def test_extra_fields_by_key_at_any_depth_and_their_echo_in_the_message() -> None:
    log, out = _logger("extra")
    log.info(
        "letter for Erika Mustermann queued",
        extra={
            "recipient": "Erika Mustermann",
            "case": {"subject": {"first_name": "Erika", "last_name": "Mustermann"}, "case_id": "case-1"},
            "points": [{"type": "email", "value": "erika@example.de"}],
            "count": 3,
        },
    )
    (line,) = _lines(out)
    text = json.dumps(line)
    for personal in ("Erika", "Mustermann", "erika@example.de"):
        assert personal not in text
    assert line["case"] == {"subject": "[redacted]", "case_id": "case-1"}  # what is not personal stays
    assert line["count"] == 3 and line["message"] == "letter for [redacted] queued"


def test_an_exception_s_text_loses_the_e_mail_pydantic_quoted() -> None:
    class Point(BaseModel):
        email: str = Field(max_length=10)

    log, out = _logger("exception")
    try:
        Point(email="jean.dupont@example.fr")
    except ValidationError:
        log.exception("bad point")
    (line,) = _lines(out)
    assert "jean.dupont" not in json.dumps(line) and "input_value=[redacted]" in str(line["exception"])


@pytest.mark.parametrize(
    "harmless",
    [
        "2026-11-28 04:06:33,342+0000",
        "2026-11-28T04:06:33+00:00",
        "5f0c6f1e-6d1f-4b7e-9a57-2b7f7d0c9e31",
        "120.50 EUR of 1250.00",
        "arn:aws:sqs:eu-west-1:123456789012:finview-local-contacts-inbox",
        "rows 10000-20000",
        "JOB#import-1 ROW#owner-1#000000002",
    ],
)
def test_timestamps_ids_amounts_and_arns_stay(harmless: str) -> None:
    assert redact({"message": harmless}) == {"message": harmless}


@pytest.mark.parametrize("region", ["DE", "FR", "GB", "US", "CH", "AT"])
def test_agency_text_with_a_phone_number_or_an_e_mail_is_found_out(region: str) -> None:
    example = phonenumbers.example_number(region)
    assert example is not None
    number = phonenumbers.format_number(example, phonenumbers.PhoneNumberFormat.INTERNATIONAL)
    assert personal_data_in(f"Art. 17 request by phone ({number})") == ["a phone number"]
    assert personal_data_in("asked from erika.muster@example.de") == ["an e-mail address"]


@pytest.mark.parametrize(
    "reason",
    [
        "Art. 17 request, letter of 20.11.2026",
        "Art. 17 DSGVO, Schreiben vom 02.12.2026, Az. K-2026/0815",
        "demande d'effacement du 3 décembre 2026, dossier 2026-0042",
        "rows 10000-20000 of import 5f0c6f1e-6d1f-4b7e-9a57-2b7f7d0c9e31",
    ],
)
def test_ordinary_reasons_hold_no_personal_data(reason: str) -> None:
    assert personal_data_in(reason) == []
