"""The matching engine: which case owner does a new row belong to? A Fellegi–Sunter model, not a list of rules.

* **Blocking.** Every row yields a few *block keys* (``ref:``, ``email:``, ``phone:``, ``dob:<date>|<initial>``
  per name token, ``addr:<country>|<postcode>|<street>``, ``name:<tokens>|<postcode>``, ``name:<tokens>``). The
  match-key index maps a key to the (few) case owners carrying it: the cost per row is a handful of key lookups,
  whatever the number of case owners (in DynamoDB ``MATCH#<client>#<key>`` items read with BatchGetItem, never a
  scan). A key shared by ``MAX_OWNERS_PER_KEY`` owners (an office switchboard, a common name) is *saturated* and
  no longer used to find candidates.
* **Comparing.** Each candidate is compared field by field (``compare``): given and family name with
  Jaro–Winkler levels (both orientations: swapped names), birth date exact / one part off / different, address,
  e-mail, phone, company name. Each level has a match weight ``log2(m/u)`` (``WEIGHTS``: m = how often the level
  occurs between two records of one debtor, u = between two different debtors; measured on the quality bench's
  generated registry data, see bench/RESULTS.md); the score is their sum.
* **Deciding.** Score ≥ ``AUTO_SCORE``: the row joins the case owner. ``REVIEW_SCORE`` ≤ score < ``AUTO_SCORE``, or a
  strong score with a *veto* (a different birth date; a different given name: twins, a couple): the row gets its
  own case owner and the pair goes to the client's review queue (``Decision.review``). Below: a new case owner.
* **No chaining.** Names are always compared with the case owner's *identities*: the first-seen name, plus names
  a person confirmed (an accepted review). A name that was itself accepted by similarity never becomes a
  reference, so Bauer → Mauer → Maurer cannot walk from one to the other. Contact details (e-mails, phones,
  addresses, birth dates) of matched rows are kept as evidence; they never stand in for a name. Names that differ
  in their digits (Hans Meier1, Hans Meier2) disagree.

Exactly once across a crash: every index entry carries a *tag* ``<import_id>#<row>`` of the row that added it.
A batch that is run again after a crash ignores the entries its own rows (row ≥ the batch's first row) added,
so it sees the index exactly as a clean run did and takes the same decisions; new case owner ids are derived
from the import id and row number, so they are the same too. An import's first run (the stage records that it
started before its first write) cannot meet such entries and skips the filter (``Matcher(rerun=False)``).
"""

from __future__ import annotations

import hashlib
import math
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import date
from typing import Final, Protocol, final

from rapidfuzz.distance import JaroWinkler

from services.imports import normalise as norm
from services.imports.domain import NAMESPACE, DebtorLine, ImportSettings

MAX_OWNERS_PER_KEY = 20
MAX_VALUES_PER_FIELD = 50
PROFILE_FIELDS = ("identities", "emails", "phones", "birth_dates", "addresses", "refs")

# (m, u) per comparison level: m = P(level | same debtor), u = P(level | different debtors).
M_U: dict[str, dict[str, tuple[float, float]]] = {
    "family": {
        "exact": (0.88, 0.005),
        "close": (0.07, 0.001),  # Jaro–Winkler ≥ 0.92: a typo, an OCR error
        "alike": (0.03, 0.004),  # ≥ 0.88
        "different": (0.02, 0.99),
        "other_number": (0.0001, 0.01),
    },
    "given": {
        "exact": (0.84, 0.01),
        "close": (0.06, 0.002),
        "alike": (0.04, 0.02),  # ≥ 0.80: Amy / Ami, Jonathan / Jon
        "initial": (0.02, 0.004),  # one side only an initial that fits
        "different": (0.04, 0.964),
        "other_number": (0.0001, 0.01),
    },
    "company": {"exact": (0.9, 0.001), "close": (0.08, 0.002), "different": (0.02, 0.997)},
    "birth_date": {
        "exact": (0.88, 0.0005),
        "one_part_off": (0.10, 0.01),  # day or month or one year digit mistyped, day and month exchanged
        "different": (0.02, 0.9895),
    },
    "address": {
        "same": (0.70, 0.0005),  # street (≥ 0.92) and postcode
        "street_or_postcode_off": (0.12, 0.004),
        "same_postcode": (0.05, 0.02),
        "different": (0.13, 0.9755),  # people move
    },
    "email": {"same": (0.90, 0.00002), "different": (0.10, 0.99998)},
    "phone": {"same": (0.85, 0.0001), "different": (0.15, 0.9999)},
}
WEIGHTS: dict[str, dict[str, float]] = {
    name: {level: math.log2(m / u) for level, (m, u) in levels.items()} for name, levels in M_U.items()
}
# Measured (bench/RESULTS.md): no pair of two people without a veto scored above 17.2 on FEBRL 2 and the
# generated registry data; pairs of one person below the automatic threshold go to the review band.
AUTO_SCORE = 18.0
REVIEW_SCORE = 14.5
_DIGITS = re.compile(r"\d+")


@final
class OwnerProfile:
    """What the index knows about a case owner, every value with the tag of the row that added it.

    ``identities`` are ``given|family`` (a person) or ``#company``: the first-seen one and confirmed ones only.
    A plain class, not a dataclass: compiled, its constructor is native (one or two per row).
    """

    def __init__(
        self,
        case_owner_id: str,
        origin: str,
        merged_into: str | None = None,  # merged into another case owner (an accepted review): matches go there
        identities: dict[str, str] | None = None,
        emails: dict[str, str] | None = None,
        phones: dict[str, str] | None = None,
        birth_dates: dict[str, str] | None = None,
        addresses: dict[str, str] | None = None,
        refs: dict[str, str] | None = None,
    ) -> None:
        self.case_owner_id, self.origin, self.merged_into = case_owner_id, origin, merged_into
        self.identities: dict[str, str] = {} if identities is None else identities
        self.emails: dict[str, str] = {} if emails is None else emails
        self.phones: dict[str, str] = {} if phones is None else phones
        self.birth_dates: dict[str, str] = {} if birth_dates is None else birth_dates
        self.addresses: dict[str, str] = {} if addresses is None else addresses
        self.refs: dict[str, str] = {} if refs is None else refs

    def __eq__(self, other: object) -> bool:
        return isinstance(other, OwnerProfile) and self.to_item() == other.to_item()

    def __repr__(self) -> str:
        return f"OwnerProfile({self.to_item()!r})"

    def to_item(self) -> dict[str, object]:
        merged = {"merged_into": self.merged_into} if self.merged_into else {}
        return {"case_owner_id": self.case_owner_id, "origin": self.origin, **merged} | {
            f: dict(getattr(self, f)) for f in PROFILE_FIELDS
        }

    @classmethod
    def from_item(cls, item: Mapping[str, object]) -> OwnerProfile:
        return cls(
            case_owner_id=str(item["case_owner_id"]),
            origin=str(item["origin"]),
            merged_into=str(item["merged_into"]) if item.get("merged_into") else None,
            **{f: {str(k): str(v) for k, v in dict(item.get(f) or {}).items()} for f in PROFILE_FIELDS},  # type: ignore[call-overload]
        )

    def copy(self) -> OwnerProfile:
        return OwnerProfile(
            self.case_owner_id, self.origin, self.merged_into, self.identities.copy(), self.emails.copy(),
            self.phones.copy(), self.birth_dates.copy(), self.addresses.copy(), self.refs.copy(),
        )  # fmt: skip

    @classmethod
    def first_seen(cls, case_owner_id: str, tag: str, f: RowFeatures) -> OwnerProfile:
        # what add_identity and add_evidence would add to an empty profile, one value a field (one per new owner)
        identity, email, phone, born, address, ref = f.identity, f.email, f.phone, f.birth_date, f.address, f.ref
        return OwnerProfile(  # by name, not ``cls``: compiled, the native constructor
            case_owner_id, tag, None, {identity: tag} if identity else {}, {email: tag} if email else {},
            {phone: tag} if phone else {}, {born: tag} if born else {}, {address: tag} if address else {},
            {ref: tag} if ref else {},
        )  # fmt: skip

    def add_identity(self, f: RowFeatures, tag: str) -> bool:
        key = f.identity
        if key and key not in self.identities and len(self.identities) < MAX_VALUES_PER_FIELD:
            self.identities[key] = tag
            return True
        return False

    def add_evidence(self, f: RowFeatures, tag: str) -> bool:
        changed = _add(self.emails, f.email, tag)
        changed = _add(self.phones, f.phone, tag) or changed
        changed = _add(self.birth_dates, f.birth_date, tag) or changed
        changed = _add(self.addresses, f.address, tag) or changed
        return _add(self.refs, f.ref, tag) or changed

    def lacks_evidence(self, f: RowFeatures) -> bool:
        """Whether ``add_evidence`` would change anything."""
        return (
            _lacks(self.emails, f.email)
            or _lacks(self.phones, f.phone)
            or _lacks(self.birth_dates, f.birth_date)
            or _lacks(self.addresses, f.address)
            or _lacks(self.refs, f.ref)
        )


def _lacks(values: dict[str, str], value: str | None) -> bool:
    return bool(value) and value not in values and len(values) < MAX_VALUES_PER_FIELD


def _add(values: dict[str, str], value: str | None, tag: str) -> bool:
    if value and value not in values and len(values) < MAX_VALUES_PER_FIELD:
        values[value] = tag
        return True
    return False


class MatchIndex(Protocol):
    """The match-key index of one client (DynamoDB in the service, a dict in tests and benchmarks)."""

    def get_keys(self, keys: Iterable[str]) -> dict[str, dict[str, str]]: ...

    def get_profiles(self, owner_ids: Iterable[str]) -> dict[str, OwnerProfile]: ...

    def put(self, keys: Mapping[str, dict[str, str]], profiles: Mapping[str, OwnerProfile]) -> None: ...


class InMemoryMatchIndex:
    """The index in memory (tests, benchmarks). It hands out and keeps the very objects it is given, no copies: what
    it returns must not be changed (``Matcher`` and ``confirm_merge`` copy what they change), as what it is given must
    not be changed after ``put``. The copies that stand for DynamoDB's (de)serialisation are not made here; what the
    real index costs per row is measured on its own (bench/RESULTS.md)."""

    def __init__(self) -> None:
        self.keys: dict[str, dict[str, str]] = {}
        self.profiles: dict[str, OwnerProfile] = {}
        self.lookups = 0

    def get_keys(self, keys: Iterable[str]) -> dict[str, dict[str, str]]:
        out = {}
        for k in keys:
            self.lookups += 1
            holders = self.keys.get(k)
            if holders is not None:
                out[k] = holders
        return out

    def get_profiles(self, owner_ids: Iterable[str]) -> dict[str, OwnerProfile]:
        out = {}
        for i in owner_ids:
            self.lookups += 1
            profile = self.profiles.get(i)
            if profile is not None:
                out[i] = profile
        return out

    def put(self, keys: Mapping[str, dict[str, str]], profiles: Mapping[str, OwnerProfile]) -> None:
        self.keys.update(keys)
        self.profiles.update(profiles)


@final
class RowFeatures:
    """The matching view of a debtor line (folded; nothing here is stored as the client's data), with what its
    comparisons need worked out once per row: the identity, the block keys, the birth date's and the address's parts.
    """

    def __init__(
        self,
        tokens: str,
        family: str,
        given: str,
        company: str,
        email: str | None,
        phone: str | None,
        birth_date: str | None,
        address: str | None,
        postcode: str | None,
        ref: str | None,
    ) -> None:
        self.tokens, self.family, self.given, self.company = tokens, family, given, company
        self.email, self.phone, self.birth_date, self.address, self.postcode, self.ref = (
            email, phone, birth_date, address, postcode, ref,
        )  # fmt: skip
        self.identity = f"{given}|{family}" if family else f"#{company}" if company else ""
        self._born: tuple[str, str, str] | None = None  # split when a comparison first needs them
        self._place: _Place | None = None
        self.keys: tuple[str, ...] = tuple(self.block_keys())  # the block keys

    @classmethod
    def of(cls, line: DebtorLine) -> RowFeatures:
        # A pydantic model keeps its fields in its __dict__: read there, each costs a dict lookup, where an attribute
        # goes through BaseModel's __getattr__ hook (~4x the instructions, compiled; ten a row).
        fields = line.__dict__
        family = given = company = ""
        last_name: str | None = fields["last_name"]
        if last_name:  # a person: the tokens of both names (norm.name_tokens), each name folded once
            first_name: str | None = fields["first_name"]
            family, given = norm.fold(last_name), norm.fold(first_name) if first_name else ""
            if given and family and " " not in given and " " not in family:  # one token each (folded: no spaces)
                joined = f"{given} {family}" if given <= family else f"{family} {given}"
            else:
                joined = " ".join(sorted(given.split() + family.split()))
        else:
            company = joined = " ".join(norm.name_tokens(fields["company_name"]))
        country: str = fields["country"]
        postcode: str | None = fields["postcode"]
        street: str | None = fields["street"]
        email: str | None = fields["email"]
        born: date | None = fields["birth_date"]
        ref: str | None = fields["client_case_number"]
        phone: str | None = fields["phone"]
        # The class by name, not ``cls``: compiled, that is the native constructor, not a Python call with keywords.
        return RowFeatures(
            tokens=joined,
            family=family,
            given=given,
            company=company,
            email=norm.email_key(email) if email else None,
            phone=phone,
            birth_date=_iso_day(born) if born else None,
            address=f"{country}|{postcode}|{_folded_street(street)}" if street and postcode else None,
            postcode=f"{country}|{postcode}" if postcode else None,
            ref=norm.clean_text(ref).casefold() if ref else None,
        )

    def born(self) -> tuple[str, str, str]:
        """The birth date's parts (asked only of a row with a birth date)."""
        if self._born is None:
            assert self.birth_date
            self._born = _date_parts(self.birth_date)
        return self._born

    def place(self) -> _Place:
        """The address's parts (asked only of a row with an address)."""
        if self._place is None:
            assert self.address
            self._place = _place(self.address)
        return self._place

    def block_keys(self) -> list[str]:
        tokens, birth_date, postcode = self.tokens, self.birth_date, self.postcode
        keys = []
        if self.ref:
            keys.append(f"ref:{self.ref}")
        if self.email:
            keys.append(f"email:{self.email}")
        if self.phone:
            keys.append(f"phone:{self.phone}")
        if birth_date and tokens:
            for initial in _initials(tokens):
                keys.append(f"dob:{birth_date}|{initial}")
        if self.address:
            keys.append(f"addr:{self.address}")
        if tokens:
            keys.append(f"name:{tokens}")
            if postcode:
                keys.append(f"name:{tokens}|{postcode}")
        return keys


def _initials(tokens: str) -> list[str]:
    """The distinct first letters of the name's tokens, sorted. The tokens come sorted (``RowFeatures.of``), so
    their first letters do too: each is kept unless it repeats the one before, without a set and a sort."""
    initials: list[str] = []
    last = ""
    for token in tokens.split():
        initial = token[0]
        if initial != last:
            if initial < last:  # not sorted after all: the general way
                return sorted({t[0] for t in tokens.split()})
            initials.append(initial)
            last = initial
    return initials


def _folded_street(street: str) -> str:
    """``norm.fold(street)``, with a house number at either end kept out of ``fold``'s cache.

    Street names repeat (a few thousand in a client's file), a street with its number hardly ever: folded whole,
    nearly every row's street missed the cache (and filled it). A number of ASCII letters and digits starting with
    a digit ("12", "7b") folds to itself in lower case, and the space beside it joins whatever the name's end or start
    folds to, so ``fold(name + " " + number) == fold(name) + " " + number.lower()`` whenever ``fold(name)`` is not
    empty (the test holds the two to the same result); otherwise the street is folded whole.
    """
    name, _, number = street.rpartition(" ")
    if number and number[0].isdigit() and number.isascii() and number.isalnum():
        folded = norm.fold(name) if name else ""
        if folded:
            return f"{folded} {number.lower()}"
    else:
        number, _, name = street.partition(" ")
        if name and number and number[0].isdigit() and number.isascii() and number.isalnum():
            folded = norm.fold(name)
            if folded:
                return f"{number.lower()} {folded}"
    return norm.fold(street)


# "00" … "99": a day's month and day without the format machinery
_TWO_DIGITS: Final = tuple(f"{i:02d}" for i in range(100))


def _iso_day(day: date) -> str:
    """``day.isoformat()``, built from its parts (one birth date a row; ``isoformat`` formats through printf)."""
    if type(day) is not date:  # a datetime would add its time
        return day.isoformat()
    year = day.year
    return f"{str(year) if year >= 1000 else str(year).zfill(4)}-{_TWO_DIGITS[day.month]}-{_TWO_DIGITS[day.day]}"


# ---- comparing ----------------------------------------------------------------------------------------------
#
# A comparison runs for every candidate of every row, so it works on small ints, not strings: each field's level is
# an index into the field's level names (``_NAME_LEVELS`` …), ABSENT when the field is not compared, and its weight
# an index into a tuple of ``WEIGHTS``. The names appear only in what leaves the module (``Comparison.levels``).

ABSENT: Final = -1
# given, family and company names
EXACT: Final = 0
CLOSE: Final = 1
ALIKE: Final = 2
INITIAL: Final = 3
DIFFERENT: Final = 4
OTHER_NUMBER: Final = 5
_NAME_LEVELS: Final = ("exact", "close", "alike", "initial", "different", "other_number")
# birth date
BORN_SAME: Final = 0
BORN_ONE_PART_OFF: Final = 1
BORN_DIFFERENT: Final = 2
_BIRTH_LEVELS: Final = ("exact", "one_part_off", "different")
# address (the order is the order of preference: the best of a case owner's addresses is the lowest)
PLACE_SAME: Final = 0
PLACE_OFF: Final = 1
PLACE_POSTCODE: Final = 2
PLACE_DIFFERENT: Final = 3
_ADDRESS_LEVELS: Final = ("same", "street_or_postcode_off", "same_postcode", "different")
# e-mail and phone
CONTACT_SAME: Final = 0
CONTACT_DIFFERENT: Final = 1
_CONTACT_LEVELS: Final = ("same", "different")


def _weights(name: str, levels: tuple[str, ...]) -> list[float]:
    return [WEIGHTS[name].get(level, 0.0) for level in levels]


_W_GIVEN: Final = _weights("given", _NAME_LEVELS)
_W_FAMILY: Final = _weights("family", _NAME_LEVELS)
_W_COMPANY: Final = _weights("company", _NAME_LEVELS)
_W_BIRTH: Final = _weights("birth_date", _BIRTH_LEVELS)
_W_ADDRESS: Final = _weights("address", _ADDRESS_LEVELS)
_W_EMAIL: Final = _weights("email", _CONTACT_LEVELS)
_W_PHONE: Final = _weights("phone", _CONTACT_LEVELS)
# The most the names can add: what a candidate's other fields must make up for before its names are compared.
_W_PERSON_MAX: Final = _W_GIVEN[EXACT] + _W_FAMILY[EXACT]
_W_FAMILY_MAX: Final = _W_FAMILY[EXACT]
_W_COMPANY_MAX: Final = _W_COMPANY[EXACT]
# A score is rounded to two decimals: a bound this far below a threshold cannot reach it.
_ROUNDING: Final = 0.01

_Place = tuple[str, str, str, tuple[str, ...]]


def _date_parts(iso: str) -> tuple[str, str, str]:
    year, month, day = iso.split("-")
    return year, month, day


def _place(address: str) -> _Place:
    """Country, postcode, street name (letters only) and house numbers of an address key, split once (when a row is
    read, when a case owner is read)."""
    country, postcode, street = address.split("|", 2)
    return country, postcode, _DIGITS.sub("", street).replace(" ", ""), tuple(_DIGITS.findall(street))


def _name_level(a: str, b: str, close: float, alike: float, initials: bool) -> int:
    """Level of two folded names; ABSENT when one is missing."""
    if not a or not b:
        return ABSENT
    if a == b:
        return EXACT
    # Names of letters alone (nearly all) have no digits to compare: two string checks instead of two regex scans.
    lettered = a.replace(" ", "").isalpha() and b.replace(" ", "").isalpha()
    if not lettered and _DIGITS.findall(a) != _DIGITS.findall(b):
        return OTHER_NUMBER  # Hans Meier1 and Hans Meier2 are two people, however alike the letters
    if initials and (len(a) == 1 or len(b) == 1):
        return INITIAL if a[0] == b[0] else DIFFERENT
    sim: float = JaroWinkler.similarity(a, b)
    if sim < close and not (a.isalnum() and b.isalnum()):  # else neither has a space: one token each
        ta, tb = [t for t in a.split() if len(t) > 1], [t for t in b.split() if len(t) > 1]
        if ta and tb and (len(ta) > 1 or len(tb) > 1):
            # a double-barrelled or an extra name: the best pair of tokens, slightly discounted
            pair = 0.0
            for x in ta:
                for y in tb:
                    pair = max(pair, JaroWinkler.similarity(x, y))
            sim = max(sim, 0.97 * pair)
    if sim >= close:
        return CLOSE
    if sim >= alike:
        return ALIKE
    return DIFFERENT


# Names repeat a lot in a client's data (a few thousand given names, tens of thousands of family names), so the
# level of a pair of folded names is kept: the comparison features of the pairs that come up again. Bounded small,
# and once full kept as it is, not emptied: what a 1M-row file keeps must not outgrow what a 100k-row file keeps, and
# a cache emptied and refilled all through a big file left its peak memory growing with the file (imports_memory).
_NAME_CACHE_SIZE: Final = 1 << 13
_family_levels: dict[tuple[str, str], int] = {}
_given_levels: dict[tuple[str, str], int] = {}


def _family_level(a: str, b: str) -> int:
    pair = (a, b)
    level = _family_levels.get(pair)
    if level is None:
        level = _name_level(a, b, 0.92, 0.88, False)
        if len(_family_levels) < _NAME_CACHE_SIZE:
            _family_levels[pair] = level
    return level


def _given_level(a: str, b: str) -> int:
    pair = (a, b)
    level = _given_levels.get(pair)
    if level is None:
        if a and b and a != b and _gendered_pair(a, b):
            level = DIFFERENT  # Nicole and Nicola, Peter and Petra: a couple, not a typo
        else:
            level = _name_level(a, b, 0.92, 0.80, True)
        if len(_given_levels) < _NAME_CACHE_SIZE:
            _given_levels[pair] = level
    return level


def _gendered_pair(a: str, b: str) -> bool:
    """The masculine and feminine form of one given name (Daniel/Daniela, Nicole/Nicola, Alexander/Alexandra)."""
    if a.rstrip("aeio") == b.rstrip("aeio") and len(a.rstrip("aeio")) >= 3:
        return True
    return len(a) == len(b) and a[:-2] == b[:-2] and {a[-2:], b[-2:]} == {"er", "ra"}


def _names_weight(given: int, family: int) -> float:
    weight = 0.0
    if given != ABSENT:
        weight += _W_GIVEN[given]
    if family != ABSENT:
        weight += _W_FAMILY[family]
    return weight


def _one_character_off(a: str, b: str) -> bool:
    if len(a) != len(b):
        return False
    off = 0
    for i in range(len(a)):
        if a[i] != b[i]:
            off += 1
    return off == 1


def _birth_date_level(a: tuple[str, str, str], b: tuple[str, str, str]) -> int:
    """Two different birth dates."""
    ya, ma, da = a
    yb, mb, db = b
    if ya == yb and ma == db and da == mb:
        return BORN_ONE_PART_OFF  # day and month exchanged
    same = int(ya == yb) + int(ma == mb) + int(da == db)
    if same == 2 and (ya == yb or _one_character_off(ya, yb)):
        return BORN_ONE_PART_OFF
    return BORN_DIFFERENT


def _address_level(a: _Place, b: _Place) -> int:
    """Street name (letters), house number and postcode; one of them off still says a lot."""
    country_a, postcode_a, name_a, numbers_a = a
    country_b, postcode_b, name_b, numbers_b = b
    if country_a != country_b:
        return PLACE_DIFFERENT
    if name_a == name_b:
        street = street_alike = True
    else:
        sim: float = JaroWinkler.similarity(name_a, name_b)
        street, street_alike = sim >= 0.92, sim >= 0.85
    number = numbers_a == numbers_b or not numbers_a or not numbers_b
    same_postcode = postcode_a == postcode_b
    if street and number and same_postcode:
        return PLACE_SAME
    if (street and number) or (street_alike and same_postcode):
        return PLACE_OFF
    if same_postcode:
        return PLACE_POSTCODE
    return PLACE_DIFFERENT


def _split_identities(identities: dict[str, str]) -> tuple[list[tuple[str, str]], list[str]]:
    """A profile's identities as (given, family) of each person and the name of each company, in its order."""
    people: list[tuple[str, str]] = []
    companies: list[str] = []
    for identity in identities:
        if identity.startswith("#"):
            companies.append(identity[1:])
        else:
            given, _, family = identity.partition("|")
            people.append((given, family))
    return people, companies


@final
class _Owner:
    """A case owner as the matcher compares rows with it: its profile and the comparison forms of its identities,
    birth dates and addresses, worked out once, when a row first needs them (not per comparison), and kept in step
    as evidence is added."""

    def __init__(self, profile: OwnerProfile, own: bool) -> None:
        self.profile = profile
        self.own = own  # the profile is the matcher's to change (else the index's: copied before a change)
        # Worked out when a row first needs them: most case owners read or created are never compared by name (a
        # new one, a candidate left early, a row with the very same name), and many never by address or birth date.
        self._people: list[tuple[str, str]] | None = None
        self._companies: list[str] | None = None
        self._births: list[tuple[str, str, str]] | None = None
        self._places: list[_Place] | None = None

    def people(self) -> list[tuple[str, str]]:
        """(given, family) of each person identity, in the profile's order."""
        if self._people is None:
            self._people, self._companies = _split_identities(self.profile.identities)
        return self._people

    def companies(self) -> list[str]:
        if self._companies is None:
            self._people, self._companies = _split_identities(self.profile.identities)
        return self._companies

    def births(self) -> list[tuple[str, str, str]]:
        if self._births is None:
            self._births = [_date_parts(d) for d in self.profile.birth_dates]
        return self._births

    def places(self) -> list[_Place]:
        if self._places is None:
            self._places = [_place(a) for a in self.profile.addresses]
        return self._places

    def add_evidence(self, f: RowFeatures, tag: str) -> bool:
        """True when the profile changed (it is then the matcher's own: a copy if it was the index's)."""
        if not self.profile.lacks_evidence(f):
            return False
        if not self.own:
            self.profile, self.own = self.profile.copy(), True
        self.profile.add_evidence(f, tag)
        self._births = self._places = None
        return True


@final
class _Scored:
    """A comparison as the matcher keeps it: the level of each field (ABSENT: not compared), score and veto."""

    def __init__(self, given: int, family: int, company: int, birth: int, address: int, email: int, phone: int) -> None:
        self.given, self.family, self.company, self.birth = given, family, company, birth
        self.address, self.email, self.phone = address, email, phone
        # summed in this order, the order of ``Comparison.levels``
        total = 0.0
        if given != ABSENT:
            total += _W_GIVEN[given]
        if family != ABSENT:
            total += _W_FAMILY[family]
        if company != ABSENT:
            total += _W_COMPANY[company]
        if birth != ABSENT:
            total += _W_BIRTH[birth]
        if address != ABSENT:
            total += _W_ADDRESS[address]
        if email != ABSENT:
            total += _W_EMAIL[email]
        if phone != ABSENT:
            total += _W_PHONE[phone]
        self.score: float = round(total, 2)
        self.veto: str | None = None
        born_same = birth == BORN_SAME
        if given == OTHER_NUMBER or family == OTHER_NUMBER:
            self.veto = "numbered_name"
        elif birth == BORN_DIFFERENT:
            self.veto = "birth_date"  # mother and daughter, father and son of one name at one address
        elif given == DIFFERENT and not born_same:
            self.veto = "given_name"  # a couple: one flat, one phone, one family name (twins share a birth date)
        elif (family == DIFFERENT and not born_same) or company == DIFFERENT:
            self.veto = "name"  # a new family name (a marriage) only with the same birth date
        elif family == ALIKE and not (born_same or email == CONTACT_SAME or phone == CONTACT_SAME):
            self.veto = "weak_name"  # Mauer or Maurer at one address: only a birth date, e-mail or phone tells

    def reviewable(self) -> bool:
        """Worth a person's look: below the automatic threshold, or strong but with a veto a person can lift.

        A different birth date or a numbered namesake is not (two people); a different given or family name is,
        where the rest is strong.
        """
        if self.veto is None:
            return REVIEW_SCORE <= self.score < AUTO_SCORE
        return self.veto in ("given_name", "name", "weak_name") and self.score >= REVIEW_SCORE

    def levels(self) -> dict[str, str]:
        levels: dict[str, str] = {}
        for name, level, names in (
            ("given", self.given, _NAME_LEVELS),
            ("family", self.family, _NAME_LEVELS),
            ("company", self.company, _NAME_LEVELS),
            ("birth_date", self.birth, _BIRTH_LEVELS),
            ("address", self.address, _ADDRESS_LEVELS),
            ("email", self.email, _CONTACT_LEVELS),
            ("phone", self.phone, _CONTACT_LEVELS),
        ):
            if level != ABSENT:
                levels[name] = names[level]
        return levels

    def comparison(self) -> Comparison:
        return Comparison(self.levels(), self.score, self.veto)

    def rule(self) -> str:
        """A short word for the report: the agreeing fields besides the names, e.g. ``model:name+birth_date``
        (``name~``: the names only alike)."""
        names = "name" if self.family in (EXACT, CLOSE) or self.company != ABSENT else "name~"
        agreeing = [names]  # in the order of their names
        if self.address == PLACE_SAME:
            agreeing.append("address")
        if self.birth == BORN_SAME:
            agreeing.append("birth_date")
        if self.company in (EXACT, CLOSE):
            agreeing.append("company")
        if self.email == CONTACT_SAME:
            agreeing.append("email")
        if self.phone == CONTACT_SAME:
            agreeing.append("phone")
        return "model:" + "+".join(agreeing)


def _compare(f: RowFeatures, o: _Owner, email_common: bool, phone_common: bool, floor: float | None) -> _Scored | None:
    """A row against one case owner, field by field. With a ``floor`` (the matcher): None, without comparing the
    names, where the result could not change the decision: a different birth date (a veto no review lifts), or an
    upper bound of the score below ``floor`` (the other fields' weights plus the most the names could add)."""
    p = o.profile
    birth = ABSENT
    if f.birth_date:
        if f.birth_date in p.birth_dates:
            birth = BORN_SAME
        elif p.birth_dates:
            birth = BORN_DIFFERENT
            for born in o.births():
                birth = min(birth, _birth_date_level(f.born(), born))
    if birth == BORN_DIFFERENT and floor is not None:
        return None
    address = ABSENT
    if f.address:
        if f.address in p.addresses:
            address = PLACE_SAME
        elif p.addresses:
            address = PLACE_DIFFERENT
            for place in o.places():
                address = min(address, _address_level(f.place(), place))
    email = ABSENT
    if f.email and p.emails and not email_common:
        email = CONTACT_SAME if f.email in p.emails else CONTACT_DIFFERENT
    phone = ABSENT
    if f.phone and p.phones and not phone_common:
        phone = CONTACT_SAME if f.phone in p.phones else CONTACT_DIFFERENT
    if floor is not None:
        bound = _W_PERSON_MAX if f.given else _W_FAMILY_MAX if f.family else _W_COMPANY_MAX if f.company else 0.0
        bound += _W_BIRTH[birth] if birth != ABSENT else 0.0
        bound += _W_ADDRESS[address] if address != ABSENT else 0.0
        bound += _W_EMAIL[email] if email != ABSENT else 0.0
        bound += _W_PHONE[phone] if phone != ABSENT else 0.0
        if bound < floor:
            return None
    given = family = company = ABSENT
    if f.family:
        if f.identity in p.identities:  # the very name: exact on both, no identity or orientation compares better
            given, family = (EXACT if f.given else ABSENT), EXACT
        elif people := o.people():
            best = 0.0
            first = True
            for other_given, other_family in people:
                g, fam = _given_level(f.given, other_given), _family_level(f.family, other_family)
                weight = _names_weight(g, fam)
                if f.given and other_given:  # swapped first and last names: the orientation that agrees best
                    swapped_g, swapped_fam = _given_level(f.family, other_given), _family_level(f.given, other_family)
                    swapped = _names_weight(swapped_g, swapped_fam)
                    if swapped > weight:
                        g, fam, weight = swapped_g, swapped_fam, swapped
                if first or weight > best:
                    given, family, best, first = g, fam, weight, False
        else:
            family = DIFFERENT  # a company against a person
    elif f.company:
        if companies := o.companies():
            sim = 0.0
            for c in companies:
                if c == f.company:
                    sim = 1.0
                    break
                sim = max(sim, JaroWinkler.similarity(f.company, c))
            company = EXACT if sim == 1.0 else CLOSE if sim >= 0.94 else DIFFERENT
        else:
            company = DIFFERENT
    return _Scored(given, family, company, birth, address, email, phone)


@dataclass(frozen=True)
class Comparison:
    """A row against one case owner: the level of each field, the summed match weight, and a veto if any."""

    levels: dict[str, str]
    score: float
    veto: str | None = None


def compare(f: RowFeatures, p: OwnerProfile, common: frozenset[str] = frozenset()) -> Comparison:
    """Field-level comparison of a row with a case owner's identities and evidence.

    ``common``: fields whose value the row shares with too many case owners (a switchboard number, an office
    e-mail) to say anything; they are left out.
    """
    scored = _compare(f, _Owner(p, own=False), "email" in common, "phone" in common, None)
    assert scored is not None  # without a floor every candidate is compared
    return scored.comparison()


@dataclass(frozen=True)
class Review:
    """An uncertain pair for the client's review queue: the row's (new) case owner may be ``candidate``."""

    candidate: str
    score: float
    levels: dict[str, str]


@final
class Decision:
    """Where a row goes. A plain class, not a dataclass: compiled, its constructor is native (one per row)."""

    def __init__(
        self, row: int, case_owner_id: str, matched_by: str, owner_new: bool, score: float = 0.0,
        review: Review | None = None,
    ) -> None:  # fmt: skip
        self.row, self.case_owner_id, self.matched_by, self.owner_new = row, case_owner_id, matched_by, owner_new
        self.score, self.review = score, review

    def _fields(self) -> tuple[int, str, str, bool, float, Review | None]:
        return self.row, self.case_owner_id, self.matched_by, self.owner_new, self.score, self.review

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Decision) and self._fields() == other._fields()

    def __repr__(self) -> str:
        return (
            f"Decision(row={self.row!r}, case_owner_id={self.case_owner_id!r}, matched_by={self.matched_by!r}, "
            f"owner_new={self.owner_new!r}, score={self.score!r}, review={self.review!r})"
        )


def new_case_owner_id(client_id: str, import_id: str, row: int) -> str:
    """Deterministic, so that a re-run of the same import creates the same case owners: ``uuid5(NAMESPACE, …)``,
    written out here without building a UUID object (one per new case owner)."""
    x = hashlib.sha1(_NAMESPACE_BYTES + f"{client_id}|owner|{import_id}|{row}".encode()).hexdigest()
    # the first 16 bytes in hex, with what uuid5 sets: version 5 (13th digit), RFC 4122's variant (17th: 8, 9, a, b)
    return f"{x[:8]}-{x[8:12]}-5{x[13:16]}-{_VARIANT[x[16]]}{x[17:20]}-{x[20:32]}"


_VARIANT: Final = {h: "89ab"[int(h, 16) & 3] for h in "0123456789abcdef"}
_NAMESPACE_BYTES = NAMESPACE.bytes


def tag_for(import_id: str, row: int) -> str:
    """``f"{import_id}#{row:09d}"``, without the format machinery (one a row): the digits of 10⁹ + row but its 1."""
    digits = str(1_000_000_000 + row)[1:] if 0 <= row < 1_000_000_000 else str(row).zfill(9)
    return import_id + "#" + digits


class _Hidden:
    """Entries a batch must not see: those its own rows (row ≥ the batch's first row) added in an earlier, crashed
    run. Tags are ``<import_id>#<row, 9 digits>``, so this is a prefix test and one string comparison."""

    def __init__(self, import_id: str, batch_start: int) -> None:
        self.prefix, self.cutoff = f"{import_id}#", tag_for(import_id, batch_start)

    def __call__(self, tag: str) -> bool:
        return tag >= self.cutoff and tag.startswith(self.prefix)

    def drop(self, tagged: dict[str, str]) -> dict[str, str]:
        """``tagged`` without hidden entries (the same dict when there is none: the usual case)."""
        for t in tagged.values():
            if t >= self.cutoff and t.startswith(self.prefix):
                return {v: t for v, t in tagged.items() if not self(t)}
        return tagged

    def visible(self, profile: OwnerProfile) -> OwnerProfile:
        """``profile`` without hidden entries (a copy when it has some; the same profile when not)."""
        p = profile
        for values in (p.identities, p.emails, p.phones, p.birth_dates, p.addresses, p.refs):
            if self.drop(values) is not values:
                visible = p.copy()
                for name in PROFILE_FIELDS:
                    setattr(visible, name, self.drop(getattr(visible, name)))
                return visible
        return p


class Matcher:
    """Matches the rows of one import, batch by batch, against one client's index.

    ``match_batch`` reads all keys of the batch at once, then the candidates' profiles at once, decides row by
    row (rows of the same batch see each other through the overlay) and ``flush`` writes what changed.
    """

    def __init__(
        self, index: MatchIndex, client_id: str, import_id: str, settings: ImportSettings, rerun: bool = True
    ) -> None:
        """``rerun=False``: the caller knows no earlier run of this import wrote to the index (its first run), so
        there is nothing its batches must not see (``_Hidden``) and the filter is skipped."""
        self.index, self.client_id, self.import_id, self.settings = index, client_id, import_id, settings
        self.rerun = rerun
        self.match_on_ref = settings.match_on_client_case_number  # read once, not per row
        self._keys: dict[str, dict[str, str]] = {}
        self._owners: dict[str, _Owner] = {}
        self._dirty_keys: dict[str, dict[str, str]] = {}  # the keys to write, with their holders
        self._dirty_profiles: set[str] = set()

    def match_batch(self, lines: list[tuple[int, DebtorLine]]) -> list[Decision]:
        if not lines:
            return []
        hidden = _Hidden(self.import_id, lines[0][0]) if self.rerun else None
        features = [(row, RowFeatures.of(line)) for row, line in lines]
        wanted = {k for _, f in features for k in f.keys}
        if self._keys:  # kept from an earlier batch (no ``forget``): not read again
            wanted.difference_update(self._keys)
        if hidden is None:
            self._keys.update(self.index.get_keys(wanted))
        else:
            for key, found in self.index.get_keys(wanted).items():
                self._keys[key] = hidden.drop(found)
        # The profiles the rows can be compared with: a saturated key names no candidate (``_candidates``), except a
        # client case number (``match_on_client_case_number`` takes its earliest holder, however many there are).
        candidates: set[str] = set()
        for _, f in features:
            for k in f.keys:
                holders = self._keys.get(k)
                if holders is not None and (len(holders) < MAX_OWNERS_PER_KEY or k.startswith("ref:")):
                    candidates.update(holders)
        self._load(candidates, hidden)
        # A case owner merged into another (an accepted review) is found through its keys; matches go to the
        # surviving one, whose profile holds both identities.
        self._load({o.profile.merged_into for o in self._owners.values() if o.profile.merged_into}, hidden)
        return [self._decide(row, f) for row, f in features]

    def _load(self, owner_ids: set[str], hidden: _Hidden | None) -> None:
        for owner_id, profile in self.index.get_profiles(owner_ids - self._owners.keys()).items():
            if hidden is None:
                self._owners[owner_id] = _Owner(profile, own=False)
            elif not hidden(profile.origin):
                self._owners[owner_id] = _Owner(hidden.visible(profile), own=False)

    def _candidates(self, held: list[dict[str, str] | None]) -> list[str]:
        """The case owners a row's keys name (``held``: each key's holders), merges followed, sorted."""
        seen: dict[str, None] = {}
        for owners in held:
            if owners is None or len(owners) >= MAX_OWNERS_PER_KEY:
                continue  # saturated key: too common to say anything
            for owner_id in owners:
                owner = self._owners.get(owner_id)
                for _ in range(5):  # follow merges (a chain of accepted reviews), never in a circle
                    if owner is None or not owner.profile.merged_into:
                        break
                    owner = self._owners.get(owner.profile.merged_into)
                if owner is not None and not owner.profile.merged_into:
                    seen[owner.profile.case_owner_id] = None
        return sorted(seen)

    def _decide(self, row: int, f: RowFeatures) -> Decision:
        keys = f.keys
        # Each key's case owners as this row finds them, read once: nothing below changes them before the row's own
        # entries are added at the end (a row's keys are distinct).
        held = [self._keys.get(key) for key in keys]
        tag = tag_for(self.import_id, row)
        chosen: tuple[str, str, float] | None = None
        review: Review | None = None
        if self.match_on_ref and f.ref:
            owners = sorted(
                ((o, t) for o, t in self._keys.get(f"ref:{f.ref}", {}).items() if o in self._owners),
                key=lambda kv: kv[1],
            )
            if owners:
                chosen = (owners[0][0], "client_case_number", 100.0)
        else:
            candidates = self._candidates(held)
            if candidates:
                chosen, review = self._compare_candidates(f, candidates, held)
        if chosen is None:
            owner_id = new_case_owner_id(self.client_id, self.import_id, row)
            self._owners[owner_id] = _Owner(OwnerProfile.first_seen(owner_id, tag, f), own=True)
            self._dirty_profiles.add(owner_id)
            decision = Decision(row, owner_id, "new", True, review.score if review else 0.0, review)
        else:
            owner_id, rule, score = chosen
            owner = self._owners[owner_id]
            owner_new = owner.profile.origin.startswith(self.import_id + "#")
            decision = Decision(row, owner_id, rule, owner_new, score)
            if owner.add_evidence(f, tag):
                self._dirty_profiles.add(owner_id)
        for i in range(len(keys)):
            key, holders = keys[i], held[i]
            if holders is None:
                self._keys[key] = self._dirty_keys[key] = {owner_id: tag}
            elif owner_id not in holders and len(holders) < MAX_OWNERS_PER_KEY:
                if key not in self._dirty_keys:  # the index's (read, or written by an earlier flush): copied first
                    holders = self._keys[key] = self._dirty_keys[key] = dict(holders)
                holders[owner_id] = tag
        return decision

    def _compare_candidates(
        self, f: RowFeatures, candidates: list[str], held: list[dict[str, str] | None]
    ) -> tuple[tuple[str, str, float] | None, Review | None]:
        """The best automatic match among the candidates (the first of the highest score), else the best reviewable
        one. A candidate that cannot beat what is found already is not compared to the end (``_compare``)."""
        # fields whose value the row shares with too many case owners (a switchboard, an office e-mail) say nothing
        email_common = phone_common = False
        for i in range(len(held)):
            owners = held[i]
            if owners is not None and len(owners) >= MAX_OWNERS_PER_KEY:
                email_common |= f.keys[i].startswith("email:")
                phone_common |= f.keys[i].startswith("phone:")
        best: _Scored | None = None
        best_owner = ""
        doubt: _Scored | None = None
        doubt_owner = ""
        for owner_id in candidates:
            floor = (REVIEW_SCORE if best is None else best.score) - _ROUNDING
            c = _compare(f, self._owners[owner_id], email_common, phone_common, floor)
            if c is None:
                continue
            if c.veto is None and c.score >= AUTO_SCORE:
                if best is None or c.score > best.score:
                    best, best_owner = c, owner_id
            elif c.reviewable() and (doubt is None or c.score > doubt.score):
                doubt, doubt_owner = c, owner_id
        if best is not None:
            return (best_owner, best.rule(), best.score), None
        if doubt is not None:
            return None, Review(doubt_owner, doubt.score, doubt.levels())
        return None, None

    def flush(self) -> int:
        """Write the keys and profiles this batch changed; returns how many items were written. What is written is
        the index's from here on (an in-memory index keeps the very objects): changed again only as a copy."""
        keys = self._dirty_keys
        profiles = {}
        for owner_id in self._dirty_profiles:
            owner = self._owners[owner_id]
            profiles[owner_id], owner.own = owner.profile, False
        self.index.put(keys, profiles)
        self._dirty_keys = {}  # what was written is the index's now (the in-memory one keeps this very dict)
        self._dirty_profiles.clear()
        return len(keys) + len(profiles)

    def forget(self) -> None:
        """Drop the read cache between batches so memory stays flat on big files."""
        self._keys.clear()
        self._owners.clear()


def confirm_merge(index: MatchIndex, surviving: str, merged: str, tag: str) -> bool:
    """A person confirmed that two case owners are one (an accepted review): the surviving one takes the merged
    one's identities (names a person confirmed may be compared with) and evidence; the merged one points to it.
    Idempotent. False when either is unknown to the index (nothing imported for it)."""
    profiles = index.get_profiles([surviving, merged])
    if surviving not in profiles or merged not in profiles or surviving == merged:
        return False
    target, source = profiles[surviving].copy(), profiles[merged].copy()  # the index's own are not changed
    for name in PROFILE_FIELDS:
        values = getattr(target, name)
        for value in getattr(source, name):
            if value not in values and len(values) < MAX_VALUES_PER_FIELD:
                values[value] = tag
    source.merged_into = surviving
    index.put({}, {surviving: target, merged: source})
    return True


def profile_keys(profile: OwnerProfile) -> set[str]:
    """The block keys the index may hold for a case owner, rebuilt from what its profile keeps (an erasure removes
    the owner from each). A key of a name variant the profile did not keep is not rebuilt: without the profile,
    which an erasure deletes, such a key can no longer link a row to the owner (``_candidates`` skips it)."""
    keys = {f"email:{v}" for v in profile.emails} | {f"phone:{v}" for v in profile.phones}
    keys |= {f"addr:{v}" for v in profile.addresses} | {f"ref:{v}" for v in profile.refs}
    postcodes = {"|".join(a.split("|")[:2]) for a in profile.addresses}
    for identity in profile.identities:
        given, _, family = identity.partition("|")
        tokens = identity.removeprefix("#") if identity.startswith("#") else " ".join(norm.name_tokens(given, family))
        if not tokens:
            continue
        keys.add(f"name:{tokens}")
        keys |= {f"name:{tokens}|{p}" for p in postcodes}
        keys |= {f"dob:{d}|{i}" for d in profile.birth_dates for i in {t[0] for t in tokens.split()}}
    return keys
