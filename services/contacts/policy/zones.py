"""Where a debtor is in time: the IANA zones of a contact point, without AWS.

A phone's zones come from phonenumbers' ``timezone`` module (by number prefix), an address's from its country,
narrowed by postcode where the country spans several zones and we know the postcode's zone (US ZIP prefixes,
Canadian postcode districts). When nothing narrows it, every zone of the country is returned and the contact
window must hold in all of them (the strictest reading, as the law asks for the debtor's *location*).
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cache
from importlib import resources

import phonenumbers
from phonenumbers import timezone as phone_timezone

_UNKNOWN = "Etc/Unknown"

E, C, M, P = "America/New_York", "America/Chicago", "America/Denver", "America/Los_Angeles"
AZ, AK, HI, PR = "America/Phoenix", "America/Anchorage", "Pacific/Honolulu", "America/Puerto_Rico"

# US ZIP code prefixes (first three digits, inclusive ranges) → the zones of that area. States that straddle a
# zone line keep both zones (the window must hold in both).
_US_ZIP: tuple[tuple[int, int, tuple[str, ...], str], ...] = (
    (5, 5, (E,), "NY"),
    (6, 9, (PR,), "PR"),
    (10, 27, (E,), "MA"),
    (28, 29, (E,), "RI"),
    (30, 38, (E,), "NH"),
    (39, 49, (E,), "ME"),
    (50, 54, (E,), "VT"),
    (55, 55, (E,), "MA"),
    (56, 59, (E,), "VT"),
    (60, 69, (E,), "CT"),
    (70, 89, (E,), "NJ"),
    (100, 149, (E,), "NY"),
    (150, 196, (E,), "PA"),
    (197, 199, (E,), "DE"),
    (200, 205, (E,), "DC"),
    (206, 219, (E,), "MD"),
    (220, 246, (E,), "VA"),
    (247, 268, (E,), "WV"),
    (270, 289, (E,), "NC"),
    (290, 299, (E,), "SC"),
    (300, 319, (E,), "GA"),
    (320, 323, (E,), "FL"),
    (324, 325, (E, C), "FL"),
    (326, 349, (E,), "FL"),
    (350, 369, (C,), "AL"),
    (370, 385, (E, C), "TN"),
    (386, 397, (C,), "MS"),
    (398, 399, (E,), "GA"),
    (400, 427, (E, C), "KY"),
    (430, 459, (E,), "OH"),
    (460, 479, (E, C), "IN"),
    (480, 497, (E,), "MI"),
    (498, 499, (E, C), "MI"),
    (500, 528, (C,), "IA"),
    (530, 549, (C,), "WI"),
    (550, 567, (C,), "MN"),
    (570, 577, (C, M), "SD"),
    (580, 588, (C, M), "ND"),
    (590, 599, (M,), "MT"),
    (600, 629, (C,), "IL"),
    (630, 658, (C,), "MO"),
    (660, 679, (C, M), "KS"),
    (680, 693, (C, M), "NE"),
    (700, 714, (C,), "LA"),
    (716, 729, (C,), "AR"),
    (730, 749, (C,), "OK"),
    (750, 797, (C,), "TX"),
    (798, 799, (M, C), "TX"),
    (800, 816, (M,), "CO"),
    (820, 831, (M,), "WY"),
    (832, 838, (M, P), "ID"),
    (840, 847, (M,), "UT"),
    (850, 865, (AZ,), "AZ"),
    (870, 884, (M,), "NM"),
    (889, 898, (P,), "NV"),
    (900, 961, (P,), "CA"),
    (967, 968, (HI,), "HI"),
    (970, 978, (P,), "OR"),
    (979, 979, (P, M), "OR"),
    (980, 994, (P,), "WA"),
    (995, 999, (AK, "America/Adak"), "AK"),
)

# Canadian postcodes: the first letter names the province or territory.
_CA_POSTCODE: dict[str, tuple[str, ...]] = {
    "A": ("America/St_Johns",),
    "B": ("America/Halifax",),
    "C": ("America/Halifax",),
    "E": ("America/Moncton",),
    "G": ("America/Toronto",),
    "H": ("America/Toronto",),
    "J": ("America/Toronto",),
    "K": ("America/Toronto",),
    "L": ("America/Toronto",),
    "M": ("America/Toronto",),
    "N": ("America/Toronto",),
    "P": ("America/Toronto", "America/Winnipeg"),
    "R": ("America/Winnipeg",),
    "S": ("America/Regina",),
    "T": ("America/Edmonton",),
    "V": ("America/Vancouver",),
    "Y": ("America/Whitehorse",),
}


@dataclass(frozen=True)
class Location:
    """The zones a contact point may be in, and how we know (shown on the policy view)."""

    zones: tuple[str, ...]
    source: str  # "phone_prefix" | "postcode" | "country" | "unknown"
    country: str | None = None
    region: str | None = None  # a US state when the ZIP code names it (Massachusetts has its own preset)


@cache
def country_zones(country: str) -> tuple[str, ...]:
    """Every zone of a country from the IANA zone.tab shipped with ``tzdata`` (one row per zone)."""
    text = resources.files("tzdata.zoneinfo").joinpath("zone.tab").read_text(encoding="utf-8")
    zones = [
        cols[2]
        for line in text.splitlines()
        if line and not line.startswith("#")
        for cols in [line.split("\t")]
        if cols[0] == country.upper()
    ]
    return tuple(sorted(zones))


def us_zip_area(postcode: str) -> tuple[tuple[str, ...], str] | None:
    digits = "".join(ch for ch in postcode if ch.isdigit())
    if len(digits) < 5:
        return None
    prefix = int(digits[:3])
    for low, high, zones, state in _US_ZIP:
        if low <= prefix <= high:
            return zones, state
    return None


def of_address(country: str | None, postcode: str | None) -> Location:
    """An address's zones: by postcode where we can, else every zone of the country."""
    if not country:
        return Location((), "unknown")
    country = country.upper()
    code = (postcode or "").strip().upper()
    if country == "US" and code:
        area = us_zip_area(code)
        if area:
            return Location(area[0], "postcode", country, area[1])
    if country == "CA" and code[:1] in _CA_POSTCODE:
        return Location(_CA_POSTCODE[code[:1]], "postcode", country)
    zones = country_zones(country)
    return Location(zones, "country" if zones else "unknown", country)


def of_phone(e164: str) -> Location:
    """A phone's zones by its prefix; an unknown prefix falls back to every zone of the number's country."""
    try:
        number = phonenumbers.parse(e164, None)
    except phonenumbers.NumberParseException:
        return Location((), "unknown")
    country = phonenumbers.region_code_for_number(number)
    zones = tuple(z for z in phone_timezone.time_zones_for_number(number) if z != _UNKNOWN)
    if zones:
        return Location(tuple(sorted(zones)), "phone_prefix", country)
    fallback = country_zones(country) if country else ()
    return Location(fallback, "country" if fallback else "unknown", country)
