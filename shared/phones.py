"""One phone normaliser for every door a number comes in by: the API, the import, the clients' settings.

phonenumbers reads the number with a country for its national forms (``030/1234567`` in DE), and only a number its
metadata calls *valid* is kept (``is_valid_number``: an assigned range of the right length, not merely a
*possible* length), written in E.164. So the API and the import agree on every number: a reserved drama range
(``+44 7700 900123``) or a short Berlin number (``+49 3012``) is refused by both.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any, Final, Literal, NamedTuple

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


# The numbers read, kept as they are once full, not evicted: a file's numbers are near-unique (one per debtor), so an
# LRU cache evicted and allocated an entry for nearly every row all through a big file, and the new long-lived entries
# landed among the batch's short-lived objects, pinning memory the batch would otherwise give back (bench/RESULTS.md:
# imports_memory, eighth session). Values seen once it is full are worked out each time.
# Refusals are kept too (their code and words): the library words each one, ~50 µs, and a file with bad numbers
# repeats them with its debtors. Plain dicts, a native lookup in the compiled core: by country, then the number as
# sent, a string key (a tuple key cost an allocation, its hash and a tuple comparison on every row).
_READ_CACHE_SIZE: Final = 1 << 16


class _Refusal(NamedTuple):
    code: PhoneProblem
    message: str


class _ReadNumbers:
    """``normalise_phone``'s cache: country (``""`` for none) → number as sent → E.164 or the refusal."""

    def __init__(self) -> None:
        self.by_country: dict[str, dict[str, str | _Refusal]] = {}
        self.size = 0

    def clear(self) -> None:
        self.by_country.clear()
        self.size = 0


_read = _ReadNumbers()


def forget_read_numbers() -> None:
    """Empty ``normalise_phone``'s cache (an import's stage begins with its own file's numbers)."""
    _read.clear()


def normalise_phone(value: str, country: str | None) -> str:
    """``read_phone`` of ``value``, remembered (``_read``), its refusal too."""
    numbers = _read.by_country.get(country or "")
    if numbers is None:
        numbers = _read.by_country.setdefault(country or "", {})
    known = numbers.get(value)
    if known is None:
        try:
            known = read_phone(value, country)
        except PhoneRefused as exc:
            known = _Refusal(exc.code, str(exc))
        if _read.size < _READ_CACHE_SIZE:
            numbers[value] = known
            _read.size += 1
    if isinstance(known, str):
        return known
    raise PhoneRefused(known.code, known.message)


def read_phone(value: str, country: str | None) -> str:
    """Any common national or international spelling → E.164; ``country`` (ISO 3166-1) reads the national ones.

    ``00`` in front is the international prefix of most of our countries and reads as ``+`` whatever the country
    (a German number written ``0049…`` in a French file). An explicit ``+``/``00`` country code wins over ``country``.

    The ordinary spelling (digits and the usual separators) of a number is read by ``_read_plainly`` with each
    country's table (``_Country``) built from phonenumbers' metadata: a valid number in E.164, one in no valid range
    refused in ``normalise_by_library``'s words; anything else, or any number the table does not vouch for, goes
    through ``normalise_by_library``, which words every other refusal. Tests hold both ways to the same result (or the
    same refusal) on every region's example and invalid example numbers and on arbitrary digits.
    """
    region = country.upper() if country else None
    text = value.strip()
    if text.startswith("00"):
        text = "+" + text[2:]
    known_region = region is None or region in phonenumbers.SUPPORTED_REGIONS
    e164 = _read_plainly(text, region) if known_region else None
    if e164:
        return e164
    if e164 == "":  # read as parse reads it, in no valid range: refused as normalise_by_library words it
        raise _invalid(value, region, text)
    return normalise_by_library(value, country)


def _invalid(value: str, region: str | None, text: str) -> PhoneRefused:
    """A number parse reads but ``is_valid_number`` refuses (``text``: as read, 00 written +)."""
    where = f" (read in {region})" if region and not text.startswith("+") else ""
    return PhoneRefused("invalid_phone", f"{value!r} is not a valid phone number{where}")


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
        raise _invalid(value, region, text)
    return str(phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164))


# ---- the ordinary spelling of a valid number, read with each country's table -------------------------------------
# phonenumbers.parse looks for a number in any text (letters, extensions, RFC 3966, full-width digits), and
# is_valid_number tries a dozen patterns one by one through its helpers; together they were most of an import row's
# validation. A number written only with digits and ``( ) . / -`` and spaces needs none of the search: below are
# parse's own steps for such a number (international prefix, country code, national prefix and carrier code, the
# length test) and is_valid_number's own test (the country's region by leading digits, its general description,
# any one type), each country's part of the metadata read once into a ``_Country``. Where parse would try something
# more (an international dialling prefix other than 00, the country code written without +), None sends the number
# to parse itself.
_PLAIN = re.compile(r"\+?[0-9 ()./-]+")
_SEPARATORS = b" ()./-+"  # deleted from the number's ASCII bytes (bytes.translate is several times str.translate)
# Valid means the general description and any one type fits (``_number_type_helper``).
_TYPES = ("premium_rate", "toll_free", "shared_cost", "voip", "personal_number", "pager", "uan", "voicemail",
          "fixed_line", "mobile")  # fmt: skip


def _valid_ranges(metadata: PhoneMetadata) -> dict[int, re.Pattern[str]]:
    """Length of a national significant number → one pattern of the numbers of that length the metadata calls valid:
    the general description's pattern (as a look-ahead) and the union of the patterns of every type that has numbers
    of that length. A length with no entry has no valid number."""
    general = metadata.general_desc
    if general is None or not general.national_number_pattern:
        return {}
    descs = [getattr(metadata, kind) for kind in _TYPES]
    types = [d for d in descs if d is not None and d.national_number_pattern]
    all_lengths = {n for d in (general, *types) for n in (d.possible_length or ())}
    table: dict[int, re.Pattern[str]] = {}
    for length in sorted(all_lengths):
        if general.possible_length and length not in general.possible_length:
            continue
        union = [d.national_number_pattern for d in types if not d.possible_length or length in d.possible_length]
        if union:
            alternatives = "|".join(f"(?:{p})" for p in union)
            table[length] = re.compile(f"(?=(?:{general.national_number_pattern})\\Z)(?:{alternatives})")
    return table


@dataclass(frozen=True, slots=True)
class _Region:
    """What validity needs of one region: its leading digits (shared country codes) and its valid ranges."""

    leading: re.Pattern[str] | None
    valid: dict[int, re.Pattern[str]]

    def fits(self, nsn: str) -> bool:
        pattern = self.valid.get(len(nsn))
        return pattern is not None and pattern.fullmatch(nsn) is not None


@dataclass(frozen=True, slots=True)
class _Country:
    """One region's metadata as reading a national number needs it."""

    metadata: PhoneMetadata
    country_code: int
    idd: re.Pattern[str] | None
    national_prefix: re.Pattern[str] | None  # ``national_prefix_for_parsing``
    transforms: bool  # a national-prefix transform rule (AR, BR, MX, ...): phonenumbers' own helper strips it
    general: re.Pattern[str] | None
    lengths: tuple[int, ...]  # the general description's possible lengths, sorted
    local_only: frozenset[int]

    def national(self, digits: str) -> str:
        """``digits`` without the national prefix and carrier code, as parse strips them."""
        if self.transforms:
            stripped = _strip_national_prefix(digits, self.metadata)[1]
        else:
            stripped = digits
            prefix = self.national_prefix.match(digits) if self.national_prefix is not None and digits else None
            if prefix is not None:
                stripped = digits[prefix.end() :]
                # kept whole when it is itself viable and the stripped number is not (the stripped one is looked at
                # first: viable as nearly every number is, it settles the question in one match)
                general = self.general
                if general is not None and general.fullmatch(stripped) is None and general.fullmatch(digits):
                    stripped = digits
        # parse keeps the stripped number unless its length is too short, local only or no possible length
        length = len(stripped)
        if not self.lengths or length in self.local_only:
            return digits
        if length in self.lengths or length > self.lengths[-1]:
            return stripped
        return digits


# Typed as Any: its stub says tuple[str, str, bool], but the carrier code it returns first may be None, and the
# compiled reader checks the declared types of what it is handed.
_strip_national_prefix: Any = pnu._maybe_strip_national_prefix_carrier_code

_COUNTRIES: dict[str, _Country | None] = {}
_NON_GEO: dict[int, _Country | None] = {}
_VALIDITY: dict[int, tuple[tuple[str, _Region], ...]] = {}


def _country(region: str) -> _Country | None:
    """The region's reading table, built on first use (``PhoneMetadata`` loads a region's metadata lazily too)."""
    if region in _COUNTRIES:
        return _COUNTRIES[region]
    country = _build_country(PhoneMetadata.metadata_for_region(region, None))
    _COUNTRIES[region] = country
    return country


def _build_country(metadata: PhoneMetadata | None) -> _Country | None:
    if metadata is None:
        return None
    general = metadata.general_desc
    pattern = general.national_number_pattern if general is not None else None
    return _Country(
        metadata=metadata,
        country_code=metadata.country_code or 0,
        idd=re.compile(metadata.international_prefix) if metadata.international_prefix else None,
        national_prefix=re.compile(metadata.national_prefix_for_parsing)
        if metadata.national_prefix_for_parsing
        else None,
        transforms=bool(metadata.national_prefix_transform_rule),
        general=re.compile(pattern) if pattern else None,
        lengths=tuple(sorted(general.possible_length or ())) if general is not None else (),
        local_only=frozenset(general.possible_length_local_only or ()) if general is not None else frozenset(),
    )


def _non_geo(country_code: int) -> _Country | None:
    if country_code not in _NON_GEO:
        _NON_GEO[country_code] = _build_country(PhoneMetadata.metadata_for_nongeo_region(country_code, None))
    return _NON_GEO[country_code]


def _regions(country_code: int) -> tuple[tuple[str, _Region], ...]:
    """The regions sharing ``country_code`` in phonenumbers' order, each with its valid ranges, built on first use."""
    regions = _VALIDITY.get(country_code)
    if regions is None:
        built = []
        for region in pnu.COUNTRY_CODE_TO_REGION_CODE.get(country_code, ()):
            metadata = PhoneMetadata.metadata_for_region_or_calling_code(country_code, region)
            if metadata is None:
                continue
            leading = re.compile(metadata.leading_digits) if metadata.leading_digits is not None else None
            own = region == phonenumbers.REGION_CODE_FOR_NON_GEO_ENTITY or metadata.country_code == country_code
            built.append((region, _Region(leading, _valid_ranges(metadata) if own else {})))
        regions = _VALIDITY[country_code] = tuple(built)
    return regions


def _valid(country_code: int, nsn: str) -> bool:
    """``is_valid_number`` for a number without extension: the first region of the country code whose leading
    digits match, or (without leading digits) whose ranges hold the number (``region_code_for_number``), must hold
    it."""
    regions = _regions(country_code)
    if len(regions) == 1:
        return regions[0][1].fits(nsn)
    for _, region in regions:
        if region.leading is not None:
            if region.leading.match(nsn) is not None:
                return region.fits(nsn)
        elif region.fits(nsn):
            return True
    return False


def _read_plainly(text: str, region: str | None) -> str | None:
    """E.164 of the valid number ``phonenumbers.parse(text, region)`` reads; "" when the number parse reads is in no
    valid range (``is_valid_number`` refuses it: a tenth of the numbers in some clients' files, each ~50 µs through
    the library); None: not vouched for either way."""
    if not _PLAIN.fullmatch(text):
        return None
    digits = text.encode("ascii").translate(None, _SEPARATORS).decode("ascii")  # _PLAIN: ASCII only
    if len(digits) < 3:
        return None
    if text[0] == "+":
        country_code, national = pnu._extract_country_code(digits)
        if country_code == 0:
            return None
        regions = pnu.COUNTRY_CODE_TO_REGION_CODE[country_code]
        main = regions[0]
        if main == phonenumbers.REGION_CODE_FOR_NON_GEO_ENTITY:
            country = _non_geo(country_code)
        else:
            country = _country(main)
    else:
        country = _country(region) if region else None
        if country is None:
            return None
        country_code, national = country.country_code, digits
        if (country.idd is not None and country.idd.match(digits)) or digits.startswith(str(country_code)):
            return None  # an international prefix or the country code without +: parse's own judgement
    if country is None:
        return None
    national = country.national(national)
    if not pnu._MIN_LENGTH_FOR_NSN <= len(national) <= pnu._MAX_LENGTH_FOR_NSN:
        return None
    return f"+{country_code}{national}" if _valid(country_code, national) else ""
