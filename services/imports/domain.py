"""Import rules: one row → a validated debtor line; lines → case owners, cases and contact points."""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field
from datetime import date, datetime
from decimal import Decimal, InvalidOperation

from pydantic import BaseModel, ConfigDict, EmailStr, Field, ValidationError, field_validator

from shared.events import CaseData, CaseOwnerData, ContactPointData, PostalAddress

NAMESPACE = uuid.UUID("0d7c1a52-33f4-4f5e-8c3e-7a61d1f0b9a2")

# Our field → headers a client may use for it (English, German, French).
DEFAULT_MAPPING: dict[str, tuple[str, ...]] = {
    "client_case_number": ("case_number", "case number", "reference", "aktenzeichen", "référence", "dossier"),
    "first_name": ("first_name", "first name", "vorname", "prénom", "prenom"),
    "last_name": ("last_name", "last name", "name", "nachname", "nom"),
    "company_name": ("company", "company_name", "firma", "société", "societe"),
    "email": ("email", "e-mail", "mail", "courriel"),
    "phone": ("phone", "telephone", "telefon", "téléphone"),
    "street": ("street", "address", "straße", "strasse", "adresse", "rue"),
    "postcode": ("postcode", "zip", "plz", "postleitzahl", "code postal", "code_postal"),
    "city": ("city", "ort", "stadt", "ville"),
    "country": ("country", "land", "pays"),
    "invoice_number": ("invoice_number", "invoice", "rechnungsnummer", "facture", "numéro de facture"),
    "amount": ("amount", "betrag", "montant"),
    "opened_on": ("opened_on", "invoice_date", "date", "datum", "date de facture"),
}


class RowError(ValueError):
    def __init__(self, field: str, message: str) -> None:
        super().__init__(f"{field}: {message}")
        self.field = field


class DebtorLine(BaseModel):
    model_config = ConfigDict(str_strip_whitespace=True)

    client_case_number: str | None = None
    first_name: str | None = None
    last_name: str | None = None
    company_name: str | None = None
    email: EmailStr | None = None
    phone: str | None = None
    street: str | None = None
    postcode: str | None = None
    city: str | None = None
    country: str = Field(default="DE", min_length=2, max_length=2)
    invoice_number: str
    amount: Decimal = Field(gt=0)
    opened_on: date

    @field_validator("amount", mode="before")
    @classmethod
    def _amount(cls, value: object) -> object:
        if isinstance(value, str):
            text = value.replace(" ", "").replace("€", "")
            if "," in text and "." in text:
                text = (
                    text.replace(".", "").replace(",", ".")
                    if text.rfind(",") > text.rfind(".")
                    else text.replace(",", "")
                )
            else:
                text = text.replace(",", ".")
            try:
                return Decimal(text)
            except InvalidOperation:
                raise ValueError(f"{value!r} is not an amount") from None
        return value

    @field_validator("opened_on", mode="before")
    @classmethod
    def _date(cls, value: object) -> object:
        if isinstance(value, str):
            for fmt in ("%Y-%m-%d", "%d.%m.%Y", "%d/%m/%Y"):
                try:
                    return datetime.strptime(value.strip(), fmt).date()
                except ValueError:
                    continue
            raise ValueError(f"{value!r} is not a date (YYYY-MM-DD, DD.MM.YYYY or DD/MM/YYYY)")
        return value

    @field_validator("country", mode="before")
    @classmethod
    def _country(cls, value: object) -> object:
        return value.upper() if isinstance(value, str) and value else "DE"

    def match_key(self) -> str | None:
        """Skeleton matching: the normalised e-mail, else the name and postcode."""
        if self.email:
            return f"email:{str(self.email).lower()}"
        if self.last_name and self.postcode:
            return f"name-postcode:{(self.first_name or '').casefold()}|{self.last_name.casefold()}|{self.postcode}"
        return None


def map_row(raw: dict[str, str]) -> dict[str, str]:
    out: dict[str, str] = {}
    for target, aliases in DEFAULT_MAPPING.items():
        for alias in aliases:
            if raw.get(alias):
                out[target] = raw[alias]
                break
    return out


def validate(raw: dict[str, str]) -> DebtorLine:
    try:
        line = DebtorLine.model_validate(map_row(raw))
    except ValidationError as exc:
        first = exc.errors()[0]
        raise RowError(".".join(str(p) for p in first["loc"]) or "row", first["msg"]) from None
    if not (line.last_name or line.company_name):
        raise RowError("last_name", "a debtor needs a last name or a company name")
    return line


@dataclass
class CaseOwnerGroup:
    case_owner_id: str
    matched_by: str
    lines: list[tuple[int, DebtorLine]] = field(default_factory=list)

    def case_owner(self) -> CaseOwnerData:
        first = self.lines[0][1]
        return CaseOwnerData(
            case_owner_id=self.case_owner_id,
            client_reference=first.client_case_number,
            first_name=first.first_name,
            last_name=first.last_name,
            company_name=first.company_name,
        )

    def cases(self, client_id: str, new_file_per_invoice: bool) -> list[CaseData]:
        if new_file_per_invoice:
            return [_case(client_id, self.case_owner_id, [line]) for _, line in self.lines]
        return [_case(client_id, self.case_owner_id, [line for _, line in self.lines])]

    def contact_points(self) -> list[ContactPointData]:
        points: list[ContactPointData] = []
        for _, line in self.lines:
            if line.email:
                points.append(ContactPointData(type="email", value=str(line.email).lower()))
            if line.phone:
                points.append(ContactPointData(type="phone", value=line.phone))
            if line.street:
                address = PostalAddress(
                    street=line.street, postcode=line.postcode or "", city=line.city or "", country=line.country
                )
                points.append(
                    ContactPointData(
                        type="postal_address",
                        address=address,
                        value=f"{line.street}, {line.postcode or ''} {line.city or ''}, {line.country}",
                    )
                )
        return points


def _case(client_id: str, owner_id: str, lines: list[DebtorLine]) -> CaseData:
    invoices = sorted({line.invoice_number for line in lines})
    case_id = str(uuid.uuid5(NAMESPACE, f"{client_id}|{owner_id}|{'|'.join(invoices)}"))
    return CaseData(
        case_id=case_id,
        client_case_number=lines[0].client_case_number,
        invoice_numbers=invoices,
        amount=sum((line.amount for line in lines), Decimal(0)),
        opened_on=min(line.opened_on for line in lines),
    )


def new_case_owner_id(client_id: str, match_key: str | None, import_id: str, row: int) -> str:
    """Deterministic so that a re-run of the same import picks the same ids."""
    seed = match_key or f"{import_id}#{row}"
    return str(uuid.uuid5(NAMESPACE, f"{client_id}|owner|{seed}"))
