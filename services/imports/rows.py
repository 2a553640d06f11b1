"""The ordinary row's path, read straight from the file's cells: one row → its debtor line's fields, or None.

Compiled with the core (``shared.compiled``). Column indices are resolved once per file (``PlainRows``);
a row's cells are read by index, with no mapped dict per row. The rules are ``DebtorLine``'s (services/imports/
domain.py), field by field in the model's order, with the same helpers, so the same fields and the same warnings;
None for anything out of the ordinary (a control or invisible character, a formula, a value too long, a missing or
unusable required field), which the model then judges and words. A property test holds the two paths together.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from datetime import date
from decimal import Decimal
from typing import Final, Generic, Protocol, TypeVar, cast

from services.imports import normalise as norm

# The fields of a debtor line that are text kept as sent (cleaned), in the model's order (domain.TEXT_FIELDS, held equal
# by a test; domain imports this module, so it cannot be read from there).
TEXT_FIELDS = ("client_case_number", "first_name", "last_name", "company_name", "street", "city", "invoice_number")
_CURRENCY = re.compile(r"[A-Z]{3}")
_UNUSUAL = (False, "")
DATES_KEPT = 4096  # of each date column, per file
COUNTRIES_KEPT = 256  # of the country column, per file
Line = TypeVar("Line")  # the model of a debtor line (domain.DebtorLine: domain imports this module)


class FileRecord(Protocol):
    """What reading a row needs of the file's record (``parsing.Record``)."""

    @property
    def row(self) -> int: ...

    @property
    def line(self) -> int: ...

    @property
    def cells(self) -> list[str] | None: ...

    @property
    def error_code(self) -> str | None: ...


Record = TypeVar("Record", bound=FileRecord)


class TextColumn:
    """One text field's column and its limit in characters (-1: none)."""

    def __init__(self, name: str, index: int, limit: int) -> None:
        self.name = name
        self.index = index
        self.limit = limit


class PlainRows(Generic[Line]):
    """One file's columns and settings, for reading its ordinary rows into ``model``'s lines (``template``: every field
    of the model in its order, with its default)."""

    def __init__(
        self,
        columns: dict[str, int],
        fill: dict[str, str],
        date_formats: dict[str, norm.DateFormat],
        default_country: str,
        max_chars: dict[str, int],
        model: type[Line],
        template: dict[str, object],
    ) -> None:
        self.model = model
        self.template = template
        self.text = [TextColumn(f, columns[f], max_chars.get(f, -1)) for f in TEXT_FIELDS if f in columns]
        self.street = columns.get("street", -1)
        self.house_number = columns.get("house_number", -1)
        self.number_first = 0 <= self.house_number < self.street
        self.birth_date = columns.get("birth_date", -1)
        self.email = columns.get("email", -1)
        self.phone = columns.get("phone", -1)
        self.postcode = columns.get("postcode", -1)
        self.country = columns.get("country", -1)
        self.language = columns.get("language", -1)
        self.amount = columns.get("amount", -1)
        self.currency = columns.get("currency", -1)
        self.opened_on = columns.get("opened_on", -1)
        self.filled_opened_on = fill.get("opened_on", "")
        self.birth_format = date_formats["birth_date"]
        self.opened_format = date_formats["opened_on"]
        self.default_country = default_country
        # The dates read in this file, by cell: a file repeats its invoice dates (and a debtor's birth date) over
        # and over. Only dates read without a problem are kept, at most DATES_KEPT of each.
        self.opened_dates: dict[str, date] = {}
        self.birth_dates: dict[str, date] = {}
        self.countries: dict[str, str] = {}  # the country cells read without a problem, likewise
        # the other columns the file maps: checked for hidden characters only here, as the model does
        self.others = [i for f, i in columns.items() if f not in TEXT_FIELDS and f != "house_number"]

    def cell(self, cells: list[str], index: int) -> str:
        """The cell as ``ColumnMap.extract`` hands it over: "" for a missing column or a blank cell."""
        if index < 0 or index >= len(cells):
            return ""
        value = cells[index]
        return value if value.strip() else ""

    def read(
        self,
        records: list[Record],
        others: Callable[[Record], None],
        valid: list[tuple[int, int, Line]],
        warned: list[tuple[int, int, str]],
    ) -> None:
        """A batch's records in order: each ordinary row's line into ``valid`` as (row, line number, debtor line), its
        warnings into ``warned``; every other record (unreadable, one the model must judge, one without a last or a
        company name, which the model's rules reject) handed to ``others`` as it comes, which judges it. Here rather
        than in a loop of the pipeline's: interpreted, the loop and a call per row cost ~1 µs a row."""
        for record in records:
            cells = record.cells
            if cells is None or record.error_code is not None:
                others(record)
                continue
            warnings: list[str] = []
            fields = self.fields(cells, warnings)
            if fields is None or not (fields.get("last_name") or fields.get("company_name")):
                others(record)
                continue
            row, line_no = record.row, record.line
            valid.append((row, line_no, constructed(self.model, self.template, fields)))
            for warning in warnings:
                warned.append((row, line_no, warning))

    def line(self, cells: list[str], warnings: list[str]) -> Line | None:
        """The debtor line of an ordinary row, built from its fields as ``constructed`` builds it; None: the model
        must judge the row."""
        fields = self.fields(cells, warnings)
        return None if fields is None else constructed(self.model, self.template, fields)

    def fields(self, cells: list[str], warnings: list[str]) -> dict[str, object] | None:
        """The debtor line's fields of an ordinary row (those the row sets), or None: the model must judge it."""
        street = self.cell(cells, self.street)
        if street:
            number = self.cell(cells, self.house_number)
            if number:
                street = f"{number} {street}" if self.number_first else f"{street} {number}"
        values: list[str] = []
        for column in self.text:
            value = street if column.index == self.street else self.cell(cells, column.index)
            values.append(value)
        for index in self.others:
            values.append(self.cell(cells, index))
        if not "".join(values).isprintable():
            return None  # hidden characters: the model removes them, with a warning
        fields: dict[str, object] = {}
        for n, column in enumerate(self.text):
            value = values[n]
            if value:
                ordinary, text = _text_cell(column, value)
                if not ordinary:
                    return None
                fields[column.name] = text or None
        if not fields.get("invoice_number"):
            return None
        born = self.cell(cells, self.birth_date)
        if born:
            birth_date = self.birth_dates.get(born)
            if birth_date is None:
                try:
                    birth_date = norm.parse_birth_date(born, self.birth_format)
                except ValueError as exc:
                    warnings.append(f"birth_date: {exc}")
                else:
                    _keep(self.birth_dates, born, birth_date)
            fields["birth_date"] = birth_date
        sent_email = self.cell(cells, self.email)
        if sent_email:
            email = norm.clean_text(sent_email)
            if norm.looks_like_formula(email):
                return None
            try:
                fields["email"] = norm.normalise_email(email)
            except ValueError as exc:
                warnings.append(f"email: {exc}")
                fields["email"] = None
        phone = self.cell(cells, self.phone).strip()
        if phone:
            fields["phone"] = phone
        sent_postcode = self.cell(cells, self.postcode)
        postcode = ""
        if sent_postcode:
            postcode = norm.clean_text(sent_postcode)
            if norm.looks_like_formula(postcode):
                return None
            fields["postcode"] = postcode or None
        default = self.default_country
        sent_country = self.cell(cells, self.country)
        country = self.countries.get(sent_country)
        if country is None:
            try:
                country = norm.normalise_country(sent_country, default) or default
            except ValueError as exc:
                warnings.append(f"country: {exc}")
                country = default
            else:
                if len(self.countries) < COUNTRIES_KEPT:
                    self.countries[sent_country] = country
        fields["country"] = country
        language = self.cell(cells, self.language)
        if language:
            try:
                fields["language"] = norm.normalise_language(language)
            except ValueError as exc:
                warnings.append(f"language: {exc}")
                fields["language"] = None
        opened_on = self.cell(cells, self.opened_on) if self.opened_on >= 0 else self.filled_opened_on
        amount_cell = self.cell(cells, self.amount)
        if not amount_cell or not opened_on:
            return None
        try:
            amount: Decimal = norm.parse_amount(amount_cell)
            fields["amount"] = amount
            opened = self.opened_dates.get(opened_on)
            if opened is None:
                opened = norm.parse_date(opened_on, self.opened_format)
                _keep(self.opened_dates, opened_on, opened)
            fields["opened_on"] = opened
        except ValueError:
            return None
        sent_currency = self.cell(cells, self.currency)
        if sent_currency:
            currency = sent_currency.strip().upper().replace("€", "EUR").strip()
            if not _CURRENCY.fullmatch(currency):
                return None
            fields["currency"] = currency
        norm.contact_by_country(fields, phone, postcode, country, warnings)
        return fields


def constructed(model: type[Line], template: dict[str, object], fields: dict[str, object]) -> Line:
    """``model.model_construct(**fields)`` for fields already validated, without its per-field look for aliases
    (DebtorLine has none): the same ``__dict__`` in the same order (``template`` updated) and the same fields set. A
    test holds it to ``model_construct``. Here, compiled, rather than beside the model: it is called for every row."""
    line = cast(Line, _new(model))
    _set(line, "__dict__", template | fields)
    _set(line, "__pydantic_fields_set__", set(fields))
    _set(line, "__pydantic_extra__", None)
    _set(line, "__pydantic_private__", None)
    return line


# object's own, as pydantic's model_construct calls them (DebtorLine overrides neither), looked up once.
_new: Final = object.__new__
_set: Final = object.__setattr__


def _keep(dates: dict[str, date], cell: str, read: date) -> None:
    """A date read without a problem, kept for the file's later rows. A birth date stays plausible as the days pass
    (only the future is refused), so a date kept is what reading the cell again would give."""
    if len(dates) < DATES_KEPT:
        dates[cell] = read


def _text_cell(column: TextColumn, value: str) -> tuple[bool, str]:
    """(False, "") for a cell the model must judge (a formula, too long); else (True, the cleaned text)."""
    text = norm.clean_text(value)
    if norm.looks_like_formula(text) or 0 <= column.limit < len(text):
        return _UNUSUAL
    return True, text
