"""Letters as PDF for the print service: DIN 5008 (form B) layout, the address in the envelope window. No AWS here.

The text comes from the same templates as the e-mail (``rendering.render_letter``); the font is DejaVu Sans,
shipped beside this module, because the PDF core fonts have no "€" and no Unicode beyond Latin-1.
"""

from __future__ import annotations

from datetime import date
from pathlib import Path
from typing import Any

from babel.dates import format_date
from fpdf import FPDF

from services.notifications.rendering import LOCALES, LetterText, render_letter
from shared.events import PostalAddress

FONTS = Path(__file__).parent / "fonts"
# DIN 5008 form B, in mm: the window of a DL/C5 envelope.
LEFT, RIGHT = 25, 20
WINDOW_X, WINDOW_Y, WINDOW_W = 20, 45, 85
RETURN_LINE_Y = 48


class LetterError(ValueError):
    pass


def address_block(name: str, address: PostalAddress) -> list[str]:
    """The recipient lines as the post reads them: name, street, postcode and city, and the country if abroad."""
    lines = [name, address.street, " ".join(p for p in (address.postcode, address.city) if p)]
    return [line for line in lines if line.strip()]


def _country_line(address: PostalAddress, sender_country: str | None) -> list[str]:
    return [address.country.upper()] if sender_country and address.country.upper() != sender_country.upper() else []


def letter_pdf(kind: str, language: str, data: dict[str, Any], today: date | None = None) -> tuple[LetterText, bytes]:
    """The letter of ``kind`` as PDF bytes, with the text it holds."""
    address = data.get("address")
    if not address:
        raise LetterError("a letter needs the debtor's postal address")
    recipient = PostalAddress.model_validate(address)
    text = render_letter(kind, language, data)
    sender = data["sender"]
    sender_address = sender.get("address") or {}

    pdf = FPDF(format="A4", unit="mm")
    pdf.set_title(text.subject)
    pdf.set_author(str(sender["company_name"]))
    pdf.set_creator("FinView notifications")
    pdf.add_font("DejaVu", "", str(FONTS / "DejaVuSans.ttf"))
    pdf.add_font("DejaVu", "B", str(FONTS / "DejaVuSans-Bold.ttf"))
    pdf.set_margins(LEFT, 20, RIGHT)
    pdf.set_auto_page_break(auto=True, margin=25)
    pdf.add_page()

    # Letterhead: who writes.
    pdf.set_font("DejaVu", "B", 12)
    pdf.cell(0, 6, str(sender["company_name"]), new_x="LMARGIN", new_y="NEXT")
    pdf.set_font("DejaVu", "", 9)
    sender_lines = [str(v) for v in (sender_address.get("street"), _city(sender_address)) if v]
    for line in [*sender_lines, str(sender["email"])]:
        pdf.cell(0, 4.5, line, new_x="LMARGIN", new_y="NEXT")

    # Return line and address block in the window.
    pdf.set_xy(WINDOW_X, WINDOW_Y)
    pdf.set_font("DejaVu", "", 7)
    pdf.cell(WINDOW_W, 3, ", ".join([str(sender["company_name"]), *sender_lines]), new_x="LEFT", new_y="NEXT")
    pdf.set_xy(WINDOW_X, RETURN_LINE_Y + 2)
    pdf.set_font("DejaVu", "", 11)
    country = _country_line(recipient, sender_address.get("country"))
    for line in [*address_block(str(data["debtor_name"]), recipient), *country]:
        pdf.cell(WINDOW_W, 5, line, new_x="LEFT", new_y="NEXT")

    # Date, subject, text.
    pdf.set_xy(LEFT, 100)
    pdf.set_font("DejaVu", "", 10)
    day = format_date(today or date.today(), "long", locale=LOCALES[text.language])
    pdf.cell(0, 5, day, align="R", new_x="LMARGIN", new_y="NEXT")
    pdf.ln(4)
    pdf.set_font("DejaVu", "B", 11)
    pdf.multi_cell(0, 6, text.subject, new_x="LMARGIN", new_y="NEXT")
    pdf.ln(3)
    pdf.set_font("DejaVu", "", 10)
    pdf.multi_cell(0, 5, f"{text.greeting}\n\n{text.body}", new_x="LMARGIN", new_y="NEXT")
    pdf.ln(4)
    pdf.multi_cell(0, 5, f"{sender['name']}", new_x="LMARGIN", new_y="NEXT")
    if text.legal:
        pdf.ln(6)
        pdf.set_font("DejaVu", "", 8)
        pdf.multi_cell(0, 4, text.legal, new_x="LMARGIN", new_y="NEXT")
    return text, bytes(pdf.output())


def _city(address: dict[str, Any]) -> str:
    return " ".join(str(p) for p in (address.get("postcode"), address.get("city")) if p)
