"""One phone normaliser for every door a number comes in by: the API, the import, the clients' settings.

phonenumbers reads the number with a country for its national forms (``030/1234567`` in DE), and only a number its
metadata calls *valid* is kept (``is_valid_number``: an assigned range of the right length, not merely a
*possible* length), written in E.164. So the API and the import agree on every number: a reserved drama range
(``+44 7700 900123``) or a short Berlin number (``+49 3012``) is refused by both.
"""

from __future__ import annotations

from functools import lru_cache
from typing import Literal

import phonenumbers

PhoneProblem = Literal["phone_country", "not_a_phone_number", "invalid_phone"]


class PhoneRefused(ValueError):
    """Why a number is refused, in words meant for the user (``code`` for machines)."""

    def __init__(self, code: PhoneProblem, message: str) -> None:
        super().__init__(message)
        self.code = code


def known_country(country: str) -> bool:
    return country.upper() in phonenumbers.SUPPORTED_REGIONS


@lru_cache(maxsize=65536)
def normalise_phone(value: str, country: str | None) -> str:
    """Any common national or international spelling → E.164; ``country`` (ISO 3166-1) reads the national ones.

    ``00`` in front is the international prefix of most of our countries and reads as ``+`` whatever the country
    (a German number written ``0049…`` in a French file). An explicit ``+``/``00`` country code wins over ``country``.
    """
    region = country.upper() if country else None
    if region is not None and region not in phonenumbers.SUPPORTED_REGIONS:
        raise PhoneRefused("phone_country", f"{country!r} is not a country with a dialling code")
    text = value.strip()
    if text.startswith("00"):
        text = "+" + text[2:]
    if region is None and not text.startswith("+"):
        raise PhoneRefused(
            "not_a_phone_number", f"{value!r} needs its country: write it with +<country code> or give the country"
        )
    try:
        number = phonenumbers.parse(text, region)
    except phonenumbers.NumberParseException:
        raise PhoneRefused("not_a_phone_number", f"{value!r} is not a phone number") from None
    if not phonenumbers.is_valid_number(number):
        where = f" (read in {region})" if region and not text.startswith("+") else ""
        raise PhoneRefused("invalid_phone", f"{value!r} is not a valid phone number{where}")
    return str(phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164))
