"""One phone normaliser for every door a number comes in by: the API, the import, the clients' settings.

phonenumbers reads the number with a country for its national forms (``030/1234567`` in DE), and only a number its
metadata calls *valid* is kept (``is_valid_number``: an assigned range of the right length, not merely a
*possible* length), written in E.164. So the API and the import agree on every number: a reserved drama range
(``+44 7700 900123``) or a short Berlin number (``+49 3012``) is refused by both.
"""

from __future__ import annotations

import re
from functools import lru_cache
from typing import Literal

import phonenumbers
from phonenumbers import phonenumberutil as pnu
from phonenumbers.phonemetadata import PhoneMetadata

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

    The ordinary spelling (digits and the usual separators) is read by ``_read_plainly``; phonenumbers still
    judges validity, and anything else, or any number it does not vouch for, goes through ``normalise_by_library``,
    which alone words a refusal. A test holds both ways to the same result on every region's example numbers.
    """
    region = country.upper() if country else None
    text = value.strip()
    if text.startswith("00"):
        text = "+" + text[2:]
    known_region = region is None or region in phonenumbers.SUPPORTED_REGIONS
    number = _read_plainly(text, region) if known_region else None
    if number is not None and _is_valid(number):
        return f"+{number.country_code}{pnu.national_significant_number(number)}"  # E.164
    return normalise_by_library(value, country)


def normalise_by_library(value: str, country: str | None) -> str:
    """``normalise_phone`` through ``phonenumbers.parse``: every spelling it knows, every refusal worded."""
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


# ---- the ordinary spelling, without phonenumbers' general-purpose reading ----------------------------------------
# phonenumbers.parse looks for a number in any text (letters, extensions, RFC 3966, full-width digits); that search
# was most of an import row's phone cost. A number written only with digits and ``( ) . / -`` and spaces needs
# none of it: the steps below are parse's own for such a number, with its own helpers (national prefix and carrier
# code, length test, Italian leading zeros). Where parse would try something more (an international dialling
# prefix other than 00, the country code written without +), None sends the number to parse itself.
_PLAIN = re.compile(r"\+?[0-9 ()./-]+")
_SEPARATORS = str.maketrans("", "", " ()./-+")
_NOT_THE_NUMBER = (
    pnu.ValidationResult.TOO_SHORT,
    pnu.ValidationResult.IS_POSSIBLE_LOCAL_ONLY,
    pnu.ValidationResult.INVALID_LENGTH,
)


@lru_cache(maxsize=512)
def _dialling(region: str) -> tuple[PhoneMetadata, re.Pattern[str] | None] | None:
    metadata = PhoneMetadata.metadata_for_region(region, None)
    if metadata is None:
        return None
    idd = re.compile(metadata.international_prefix) if metadata.international_prefix else None
    return metadata, idd


def _read_plainly(text: str, region: str | None) -> phonenumbers.PhoneNumber | None:
    """What ``phonenumbers.parse(text, region)`` returns for an ordinary spelling; None: not vouched for."""
    if not _PLAIN.fullmatch(text):
        return None
    digits = text.translate(_SEPARATORS)
    if len(digits) < 3:
        return None
    if text[0] == "+":
        country_code, national = pnu._extract_country_code(digits)
        if country_code == 0:
            return None
        region_of_code = pnu.region_code_for_country_code(country_code)
        metadata = PhoneMetadata.metadata_for_region_or_calling_code(country_code, region_of_code)
    else:
        known = _dialling(region) if region else None
        if known is None:
            return None
        metadata, idd = known
        country_code, national = metadata.country_code or 0, digits
        if (idd is not None and idd.match(digits)) or digits.startswith(str(country_code)):
            return None  # an international prefix or the country code without +: parse's own judgement
    if metadata is None:
        return None
    _, stripped, _ = pnu._maybe_strip_national_prefix_carrier_code(national, metadata)
    if pnu._test_number_length(stripped, metadata) not in _NOT_THE_NUMBER:
        national = stripped
    if not pnu._MIN_LENGTH_FOR_NSN <= len(national) <= pnu._MAX_LENGTH_FOR_NSN:
        return None
    number = phonenumbers.PhoneNumber(country_code=country_code, national_number=int(national))
    pnu._set_italian_leading_zeros_for_phone_number(national, number)
    return number


# ---- validity: is_valid_number with the patterns compiled once per region --------------------------------------
# phonenumbers compiles (through re's cache) and tries a dozen patterns per number; these are the same tests in the
# same order (``_number_type_helper`` and ``region_code_for_number``), with the patterns compiled once.
_Desc = tuple[frozenset[int], re.Pattern[str]]
# Valid means the general description and any one type fits; fixed line and mobile first, the usual ones.
_TYPES = ("fixed_line", "premium_rate", "toll_free", "shared_cost", "voip", "personal_number", "pager", "uan",
          "voicemail")  # fmt: skip


def _desc(desc: object) -> _Desc | None:
    pattern = getattr(desc, "national_number_pattern", None)
    if not pattern:
        return None
    return frozenset(getattr(desc, "possible_length", None) or ()), re.compile(pattern)


def _fits(nsn: str, desc: _Desc | None) -> bool:
    if desc is None:
        return False
    lengths, pattern = desc
    return (not lengths or len(nsn) in lengths) and pattern.fullmatch(nsn) is not None


@lru_cache(maxsize=1024)
def _ranges(country_code: int, region: str) -> tuple[_Desc | None, list[_Desc], re.Pattern[str] | None] | None:
    """The general description, the type descriptions that make a number valid, the leading digits."""
    metadata = PhoneMetadata.metadata_for_region_or_calling_code(country_code, region)
    if metadata is None:
        return None
    kinds = [*_TYPES[:1], *(() if metadata.same_mobile_and_fixed_line_pattern else ("mobile",)), *_TYPES[1:]]
    types = [d for kind in kinds if (d := _desc(getattr(metadata, kind))) is not None]
    leading = re.compile(metadata.leading_digits) if metadata.leading_digits is not None else None
    return _desc(metadata.general_desc), types, leading


def _valid_in(nsn: str, country_code: int, region: str) -> bool:
    ranges = _ranges(country_code, region)
    return ranges is not None and _fits(nsn, ranges[0]) and any(_fits(nsn, d) for d in ranges[1])


def _is_valid(number: phonenumbers.PhoneNumber) -> bool:
    """``phonenumbers.is_valid_number`` for a number without extension."""
    country_code = number.country_code or 0
    regions = pnu.COUNTRY_CODE_TO_REGION_CODE.get(country_code)
    if not regions:
        return False
    nsn = pnu.national_significant_number(number)
    region: str | None = regions[0]
    if len(regions) > 1:  # the first region whose leading digits or ranges fit (region_code_for_number)
        region = None
        for candidate in regions:
            ranges = _ranges(country_code, candidate)
            if ranges is None:
                continue
            leading = ranges[2]
            if (leading.match(nsn) is not None) if leading is not None else _valid_in(nsn, country_code, candidate):
                region = candidate
                break
    if region is None:
        return False
    if region != phonenumbers.REGION_CODE_FOR_NON_GEO_ENTITY:
        metadata = PhoneMetadata.metadata_for_region(region, None)
        if metadata is None or metadata.country_code != country_code:
            return False
    return _valid_in(nsn, country_code, region)
