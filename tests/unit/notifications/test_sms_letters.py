"""SMS segments (GSM-7 / UCS-2, counted like a carrier) and PDF letters parsed back with a PDF reader."""

from __future__ import annotations

import io
from datetime import date

import pytest
from pypdf import PdfReader

from services.notifications import letters, messages, rendering, sms
from tests.unit.notifications.samples import debtor_message, template_data


@pytest.mark.parametrize(
    ("text", "encoding", "units", "segments"),
    [
        ("", "GSM-7", 0, 0),
        ("a" * 160, "GSM-7", 160, 1),
        ("a" * 161, "GSM-7", 161, 2),
        ("a" * 306, "GSM-7", 306, 2),
        ("a" * 307, "GSM-7", 307, 3),
        ("€" * 80, "GSM-7", 160, 1),  # an extension character takes two septets
        ("€" * 81, "GSM-7", 162, 2),
        ("a" * 152 + "€", "GSM-7", 154, 1),
        ("a" * 152 + "€" + "a" * 152, "GSM-7", 306, 3),  # the escape pair is not split: 152 + 2 > 153
        ("Grüße aus Köln, à bientôt? no: ô is not GSM", "UCS-2", 43, 1),
        ("ç" * 70, "UCS-2", 70, 1),
        ("ç" * 71, "UCS-2", 71, 2),
        ("😀" * 35, "UCS-2", 70, 1),  # a surrogate pair is two UTF-16 units
        ("a" * 66 + "😀" + "a" * 66, "UCS-2", 134, 3),  # the pair is not split: 66 + 2 > 67
    ],
)
def test_segments_are_counted_like_the_carrier(text: str, encoding: str, units: int, segments: int) -> None:
    assert sms.cost(text) == sms.SmsCost(encoding, units, segments)  # type: ignore[arg-type]


def test_babel_no_break_spaces_do_not_turn_a_french_sms_into_ucs2() -> None:
    language, data = template_data("payment_plan_reminder", "fr")
    rendered = rendering.render_sms("payment_plan_reminder", language, data)
    text, cost = sms.checked(rendered.text, max_segments=2)
    assert "250,00 €" in text and cost.encoding == "GSM-7" and cost.segments == 1
    assert sms.cost("1\u202f250,00\u00a0€").encoding == "UCS-2"  # Babel's spacing as it comes
    assert sms.prepare("1\u202f250,00\u00a0€") == "1 250,00 €"


def test_an_sms_longer_than_the_client_allows_is_refused() -> None:
    with pytest.raises(sms.TooManySegments) as refused:
        sms.checked("ô" * 150, max_segments=2)
    assert (refused.value.segments, refused.value.encoding) == (3, "UCS-2")


def _pdf_text(pdf: bytes) -> str:
    reader = PdfReader(io.BytesIO(pdf))
    return "\n".join(page.extract_text() for page in reader.pages)


def test_german_letter_holds_the_address_block_and_the_rdg_details() -> None:
    language, data = messages.debtor_data(debtor_message("contact_request", "de"))
    text, pdf = letters.letter_pdf("contact_request", language, data, today=date(2026, 11, 28))
    assert pdf.startswith(b"%PDF-")
    content = _pdf_text(pdf)
    for line in ("Jürgen Weiß", "Lindenstraße 5", "10969 Berlin"):
        assert line in content, line
    assert "Deutschland\n" not in content.split("Lindenstraße 5")[1][:40]  # no country line inside Germany
    rdg = ("§ 13a", "Stadtwerke Musterstadt GmbH", "Energieliefervertrag", "Aufsichtsbehörde", "Adressermittlung")
    for needed in rdg:
        assert needed in content, needed
    assert "28. November 2026" in content and "1.250,00" in content
    assert text.template == "de/contact_request" and "STOP" not in content  # the e-mail opt-out is not printed
    assert PdfReader(io.BytesIO(pdf)).metadata.title == text.subject  # type: ignore[union-attr]


def test_french_letter_abroad_carries_the_country_and_no_rdg_block() -> None:
    language, data = messages.debtor_data(debtor_message("payment_plan_reminder", "fr"))
    _, pdf = letters.letter_pdf("payment_plan_reminder", language, data, today=date(2026, 11, 28))
    content = _pdf_text(pdf)
    assert "Amélie Lefèvre" in content and "69002 Lyon" in content and "FR" in content
    assert "13a" not in content and "échéance 2" in content


def test_a_letter_without_a_postal_address_is_refused() -> None:
    language, data = messages.debtor_data(debtor_message("contact_request", "de", address=None))
    with pytest.raises(letters.LetterError):
        letters.letter_pdf("contact_request", language, data)
