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
from the import id and row number, so they are the same too.
"""

from __future__ import annotations

import hashlib
import math
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from functools import cached_property, lru_cache
from typing import Protocol

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


@dataclass
class OwnerProfile:
    """What the index knows about a case owner, every value with the tag of the row that added it.

    ``identities`` are ``given|family`` (a person) or ``#company``: the first-seen one and confirmed ones only.
    """

    case_owner_id: str
    origin: str
    merged_into: str | None = None  # merged into another case owner (an accepted review): matches go there
    identities: dict[str, str] = field(default_factory=dict)
    emails: dict[str, str] = field(default_factory=dict)
    phones: dict[str, str] = field(default_factory=dict)
    birth_dates: dict[str, str] = field(default_factory=dict)
    addresses: dict[str, str] = field(default_factory=dict)
    refs: dict[str, str] = field(default_factory=dict)

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
        profile = cls(case_owner_id, tag)
        profile.add_identity(f, tag)
        profile.add_evidence(f, tag)
        return profile

    def add_identity(self, f: RowFeatures, tag: str) -> bool:
        key = f.identity
        if key and key not in self.identities and len(self.identities) < MAX_VALUES_PER_FIELD:
            self.identities[key] = tag
            return True
        return False

    def add_evidence(self, f: RowFeatures, tag: str) -> bool:
        changed = False
        for name, value in (
            ("emails", f.email),
            ("phones", f.phone),
            ("birth_dates", f.birth_date),
            ("addresses", f.address),
            ("refs", f.ref),
        ):
            values = getattr(self, name)
            if value and value not in values and len(values) < MAX_VALUES_PER_FIELD:
                values[value] = tag
                changed = True
        return changed


class MatchIndex(Protocol):
    """The match-key index of one client (DynamoDB in the service, a dict in tests and benchmarks)."""

    def get_keys(self, keys: Iterable[str]) -> dict[str, dict[str, str]]: ...

    def get_profiles(self, owner_ids: Iterable[str]) -> dict[str, OwnerProfile]: ...

    def put(self, keys: Mapping[str, dict[str, str]], profiles: Mapping[str, OwnerProfile]) -> None: ...


class InMemoryMatchIndex:
    def __init__(self) -> None:
        self.keys: dict[str, dict[str, str]] = {}
        self.profiles: dict[str, OwnerProfile] = {}
        self.lookups = 0

    def get_keys(self, keys: Iterable[str]) -> dict[str, dict[str, str]]:
        out = {}
        for k in keys:
            self.lookups += 1
            if k in self.keys:
                out[k] = dict(self.keys[k])
        return out

    def get_profiles(self, owner_ids: Iterable[str]) -> dict[str, OwnerProfile]:
        out = {}
        for i in owner_ids:
            self.lookups += 1
            if i in self.profiles:
                out[i] = self.profiles[i].copy()
        return out

    def put(self, keys: Mapping[str, dict[str, str]], profiles: Mapping[str, OwnerProfile]) -> None:
        self.keys.update({k: dict(v) for k, v in keys.items()})
        self.profiles.update({o: p.copy() for o, p in profiles.items()})


@dataclass(frozen=True)
class RowFeatures:
    """The matching view of a debtor line (folded; nothing here is stored as the client's data)."""

    tokens: str
    family: str
    given: str
    company: str
    email: str | None
    phone: str | None
    birth_date: str | None
    address: str | None
    postcode: str | None
    ref: str | None

    @classmethod
    def of(cls, line: DebtorLine) -> RowFeatures:
        person = bool(line.last_name)
        tokens = norm.name_tokens(line.first_name, line.last_name) if person else norm.name_tokens(line.company_name)
        address = None
        if line.street and line.postcode:
            address = f"{line.country}|{line.postcode}|{norm.fold(line.street)}"
        return cls(
            tokens=" ".join(tokens),
            family=norm.fold(line.last_name or "") if person else "",
            given=norm.fold(line.first_name or "") if person else "",
            company="" if person else " ".join(tokens),
            email=norm.email_key(line.email) if line.email else None,
            phone=line.phone,
            birth_date=line.birth_date.isoformat() if line.birth_date else None,
            address=address,
            postcode=f"{line.country}|{line.postcode}" if line.postcode else None,
            ref=norm.clean_text(line.client_case_number).casefold() if line.client_case_number else None,
        )

    @property
    def identity(self) -> str:
        if self.family:
            return f"{self.given}|{self.family}"
        return f"#{self.company}" if self.company else ""

    @cached_property
    def keys(self) -> tuple[str, ...]:
        """The block keys, computed once per row."""
        return tuple(self.block_keys())

    def block_keys(self) -> list[str]:
        keys = []
        if self.ref:
            keys.append(f"ref:{self.ref}")
        if self.email:
            keys.append(f"email:{self.email}")
        if self.phone:
            keys.append(f"phone:{self.phone}")
        if self.birth_date and self.tokens:
            keys.extend(f"dob:{self.birth_date}|{i}" for i in sorted({t[0] for t in self.tokens.split()}))
        if self.address:
            keys.append(f"addr:{self.address}")
        if self.tokens:
            keys.append(f"name:{self.tokens}")
            if self.postcode:
                keys.append(f"name:{self.tokens}|{self.postcode}")
        return keys


# ---- comparing ----------------------------------------------------------------------------------------------


def _name_level(a: str, b: str, close: float, alike: float, initials: bool) -> str | None:
    """Level of two folded names; None when one is missing."""
    if not a or not b:
        return None
    if a == b:
        return "exact"
    if _DIGITS.findall(a) != _DIGITS.findall(b):
        return "other_number"  # Hans Meier1 and Hans Meier2 are two people, however alike the letters
    if initials and (len(a) == 1 or len(b) == 1):
        return "initial" if a[0] == b[0] else "different"
    sim = JaroWinkler.similarity(a, b)
    ta, tb = [t for t in a.split() if len(t) > 1], [t for t in b.split() if len(t) > 1]
    if sim < close and ta and tb and (len(ta) > 1 or len(tb) > 1):
        # a double-barrelled or an extra name: the best pair of tokens, slightly discounted
        sim = max(sim, 0.97 * max(JaroWinkler.similarity(x, y) for x in ta for y in tb))
    if sim >= close:
        return "close"
    if sim >= alike:
        return "alike"
    return "different"


# Names repeat a lot in a client's data (a few thousand given names, tens of thousands of family names), so the
# level of a pair of folded names is kept: the comparison features of the pairs that come up again. Bounded small
# (an entry is ~250 bytes): what a 1M-row file keeps must not outgrow what a 100k-row file keeps.
@lru_cache(maxsize=1 << 13)
def _family_level(a: str, b: str) -> str | None:
    return _name_level(a, b, 0.92, 0.88, initials=False)


@lru_cache(maxsize=1 << 13)
def _given_level(a: str, b: str) -> str | None:
    if a and b and a != b and _gendered_pair(a, b):
        return "different"  # Nicole and Nicola, Peter and Petra: a couple, not a typo
    return _name_level(a, b, 0.92, 0.80, initials=True)


def _gendered_pair(a: str, b: str) -> bool:
    """The masculine and feminine form of one given name (Daniel/Daniela, Nicole/Nicola, Alexander/Alexandra)."""
    if a.rstrip("aeio") == b.rstrip("aeio") and len(a.rstrip("aeio")) >= 3:
        return True
    return len(a) == len(b) and a[:-2] == b[:-2] and {a[-2:], b[-2:]} == {"er", "ra"}


def _person_names(given: str, family: str, identity: str) -> dict[str, str]:
    """The name levels against one identity, in the orientation that agrees best (swapped first/last names)."""
    other_given, _, other_family = identity.partition("|")
    levels = {"given": _given_level(given, other_given), "family": _family_level(family, other_family)}
    if given and other_given:
        swapped = {"given": _given_level(family, other_given), "family": _family_level(given, other_family)}
        if _names_weight(swapped) > _names_weight(levels):
            levels = swapped
    return {k: v for k, v in levels.items() if v}


def _names_weight(levels: Mapping[str, str | None]) -> float:
    return sum(WEIGHTS[k][v] for k, v in levels.items() if v)


def _birth_date_level(a: str, b: str) -> str:
    if a == b:
        return "exact"
    ya, ma, da = a.split("-")
    yb, mb, db = b.split("-")
    if (ya, ma, da) == (yb, db, mb):
        return "one_part_off"  # day and month exchanged
    same = (ya == yb) + (ma == mb) + (da == db)
    if same == 2 and (ya == yb or sum(x != y for x, y in zip(ya, yb, strict=True)) == 1):
        return "one_part_off"
    return "different"


def _postcode_level(a: str, b: str) -> str:
    if a == b:
        return "same"
    if len(a) == len(b) and (sum(x != y for x, y in zip(a, b, strict=True)) == 1 or sorted(a) == sorted(b)):
        return "one_off"  # one digit mistyped or two exchanged
    return "different"


@lru_cache(maxsize=1 << 12)
def _address_parts(address: str) -> tuple[str, str, str, tuple[str, ...]]:
    """Country, postcode, street name (letters only) and house numbers of an address key, split once (a case
    owner's addresses are compared with each row that finds it)."""
    country, postcode, street = address.split("|", 2)
    return country, postcode, _DIGITS.sub("", street).replace(" ", ""), tuple(_DIGITS.findall(street))


def _address_level(a: str, b: str) -> str:
    """Street name (letters), house number and postcode; one of them off still says a lot."""
    if a == b:
        return "same"
    country_a, postcode_a, name_a, numbers_a = _address_parts(a)
    country_b, postcode_b, name_b, numbers_b = _address_parts(b)
    if country_a != country_b:
        return "different"
    street = name_a == name_b or JaroWinkler.similarity(name_a, name_b) >= 0.92
    street_alike = street or JaroWinkler.similarity(name_a, name_b) >= 0.85
    number = numbers_a == numbers_b or not numbers_a or not numbers_b
    postcode = _postcode_level(postcode_a, postcode_b)
    if street and number and postcode == "same":
        return "same"
    if (street and number) or (street_alike and postcode == "same"):
        return "street_or_postcode_off"
    if postcode == "same":
        return "same_postcode"
    return "different"


_ORDER = {
    "birth_date": ("exact", "one_part_off", "different"),
    "address": ("same", "street_or_postcode_off", "same_postcode", "different"),
}


def _best(levels: Iterable[str], order: tuple[str, ...]) -> str:
    return min(levels, key=order.index)


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
    levels: dict[str, str] = {}
    if f.family:
        people = [i for i in p.identities if not i.startswith("#")]
        if f.identity in p.identities:  # the very name: exact on both, no identity or orientation compares better
            levels.update({"given": "exact", "family": "exact"} if f.given else {"family": "exact"})
        elif people:
            best = max((_person_names(f.given, f.family, i) for i in people), key=_names_weight)
            levels.update(best)
        else:
            levels["family"] = "different"  # a company against a person
    elif f.company:
        companies = [i[1:] for i in p.identities if i.startswith("#")]
        if companies:
            sim = max(1.0 if c == f.company else JaroWinkler.similarity(f.company, c) for c in companies)
            levels["company"] = "exact" if sim == 1.0 else "close" if sim >= 0.94 else "different"
        else:
            levels["company"] = "different"
    if f.birth_date in p.birth_dates:
        levels["birth_date"] = "exact"
    elif f.birth_date and p.birth_dates:
        levels["birth_date"] = _best((_birth_date_level(f.birth_date, d) for d in p.birth_dates), _ORDER["birth_date"])
    if f.address in p.addresses:
        levels["address"] = "same"
    elif f.address and p.addresses:
        levels["address"] = _best((_address_level(f.address, a) for a in p.addresses), _ORDER["address"])
    if f.email and p.emails and "email" not in common:
        levels["email"] = "same" if f.email in p.emails else "different"
    if f.phone and p.phones and "phone" not in common:
        levels["phone"] = "same" if f.phone in p.phones else "different"
    score = sum(WEIGHTS[k][v] for k, v in levels.items())
    veto = None
    born_same = levels.get("birth_date") == "exact"
    if "other_number" in (levels.get("given"), levels.get("family")):
        veto = "numbered_name"
    elif levels.get("birth_date") == "different":
        veto = "birth_date"  # mother and daughter, father and son of one name at one address
    elif levels.get("given") == "different" and not born_same:
        veto = "given_name"  # a couple: one flat, one phone, one family name (twins share a birth date: accepted)
    elif (levels.get("family") == "different" and not born_same) or levels.get("company") == "different":
        veto = "name"  # a new family name (a marriage) only with the same birth date
    elif levels.get("family") == "alike" and not (born_same or "same" in (levels.get("email"), levels.get("phone"))):
        veto = "weak_name"  # Mauer or Maurer at one address: only a birth date, e-mail or phone tells
    return Comparison(levels, round(score, 2), veto)


@dataclass(frozen=True)
class Review:
    """An uncertain pair for the client's review queue: the row's (new) case owner may be ``candidate``."""

    candidate: str
    score: float
    levels: dict[str, str]


@dataclass(frozen=True)
class Decision:
    row: int
    case_owner_id: str
    matched_by: str
    owner_new: bool
    score: float = 0.0
    review: Review | None = None


def new_case_owner_id(client_id: str, import_id: str, row: int) -> str:
    """Deterministic, so that a re-run of the same import creates the same case owners: ``uuid5(NAMESPACE, …)``,
    written out here without building a UUID object (one per new case owner)."""
    digest = bytearray(hashlib.sha1(_NAMESPACE_BYTES + f"{client_id}|owner|{import_id}|{row}".encode()).digest()[:16])
    digest[6] = (digest[6] & 0x0F) | 0x50  # version 5
    digest[8] = (digest[8] & 0x3F) | 0x80  # RFC 4122 variant
    x = digest.hex()
    return f"{x[:8]}-{x[8:12]}-{x[12:16]}-{x[16:20]}-{x[20:]}"


_NAMESPACE_BYTES = NAMESPACE.bytes


def tag_for(import_id: str, row: int) -> str:
    return f"{import_id}#{row:09d}"


def reviewable(c: Comparison) -> bool:
    """Worth a person's look: below the automatic threshold, or strong but with a veto a person can lift.

    A different birth date or a numbered namesake is not (two people); a different given or family name is, where
    the rest is strong.
    """
    if c.veto is None:
        return REVIEW_SCORE <= c.score < AUTO_SCORE
    return c.veto in ("given_name", "name", "weak_name") and c.score >= REVIEW_SCORE


def rule_of(c: Comparison) -> str:
    """A short word for the report: the strongest agreeing fields, e.g. ``model:name+birth_date``."""
    agreeing = [k for k, v in c.levels.items() if v in ("exact", "same", "close") and k not in ("given", "family")]
    names = "name" if c.levels.get("family") in ("exact", "close") or c.levels.get("company") else "name~"
    return "model:" + "+".join([names, *sorted(agreeing)])


class _Hidden:
    """Entries a batch must not see: those its own rows (row ≥ the batch's first row) added in an earlier, crashed
    run. Tags are ``<import_id>#<row, 9 digits>``, so this is a prefix test and one string comparison."""

    def __init__(self, import_id: str, batch_start: int) -> None:
        self.prefix, self.cutoff = f"{import_id}#", tag_for(import_id, batch_start)

    def __call__(self, tag: str) -> bool:
        return tag >= self.cutoff and tag.startswith(self.prefix)

    def drop(self, tagged: dict[str, str]) -> dict[str, str]:
        """``tagged`` without hidden entries (the same dict when there is none: the usual case)."""
        if any(t >= self.cutoff and t.startswith(self.prefix) for t in tagged.values()):
            return {v: t for v, t in tagged.items() if not self(t)}
        return tagged


class Matcher:
    """Matches the rows of one import, batch by batch, against one client's index.

    ``match_batch`` reads all keys of the batch at once, then the candidates' profiles at once, decides row by
    row (rows of the same batch see each other through the overlay) and ``flush`` writes what changed.
    """

    def __init__(self, index: MatchIndex, client_id: str, import_id: str, settings: ImportSettings) -> None:
        self.index, self.client_id, self.import_id, self.settings = index, client_id, import_id, settings
        self._keys: dict[str, dict[str, str]] = {}
        self._profiles: dict[str, OwnerProfile] = {}
        self._dirty_keys: set[str] = set()
        self._dirty_profiles: set[str] = set()

    def match_batch(self, lines: list[tuple[int, DebtorLine]]) -> list[Decision]:
        if not lines:
            return []
        hidden = _Hidden(self.import_id, lines[0][0])
        features = [(row, RowFeatures.of(line)) for row, line in lines]
        wanted = {k for _, f in features for k in f.keys} - self._keys.keys()
        for key, owners in self.index.get_keys(wanted).items():
            self._keys[key] = hidden.drop(owners)
        # The profiles the rows can be compared with: a saturated key names no candidate (``_candidates``), except a
        # client case number (``match_on_client_case_number`` takes its earliest holder, however many there are).
        candidates = {
            o
            for _, f in features
            for k in f.keys
            if len(owners := self._keys.get(k, {})) < MAX_OWNERS_PER_KEY or k.startswith("ref:")
            for o in owners
        }
        self._load(candidates, hidden)
        # A case owner merged into another (an accepted review) is found through its keys; matches go to the
        # surviving one, whose profile holds both identities.
        self._load({p.merged_into for p in self._profiles.values() if p.merged_into}, hidden)
        return [self._decide(row, f) for row, f in features]

    def _load(self, owner_ids: set[str], hidden: _Hidden) -> None:
        for owner_id, profile in self.index.get_profiles(owner_ids - self._profiles.keys()).items():
            if not hidden(profile.origin):
                for name in PROFILE_FIELDS:
                    setattr(profile, name, hidden.drop(getattr(profile, name)))
                self._profiles[owner_id] = profile

    def _candidates(self, keys: tuple[str, ...]) -> list[str]:
        seen: dict[str, None] = {}
        for key in keys:
            owners = self._keys.get(key, {})
            if len(owners) >= MAX_OWNERS_PER_KEY:
                continue  # saturated key: too common to say anything
            for owner_id in owners:
                profile = self._profiles.get(owner_id)
                for _ in range(5):  # follow merges (a chain of accepted reviews), never in a circle
                    if profile is None or not profile.merged_into:
                        break
                    profile = self._profiles.get(profile.merged_into)
                if profile is not None and not profile.merged_into:
                    seen[profile.case_owner_id] = None
        return sorted(seen)

    def _decide(self, row: int, f: RowFeatures) -> Decision:
        keys = f.keys
        tag = tag_for(self.import_id, row)
        chosen: tuple[str, str, float] | None = None
        review: Review | None = None
        if self.settings.match_on_client_case_number and f.ref:
            owners = sorted(
                ((o, t) for o, t in self._keys.get(f"ref:{f.ref}", {}).items() if o in self._profiles),
                key=lambda kv: kv[1],
            )
            if owners:
                chosen = (owners[0][0], "client_case_number", 100.0)
        else:
            best: tuple[float, str, Comparison] | None = None
            doubt: tuple[float, str, Comparison] | None = None
            candidates = self._candidates(keys)
            common = frozenset(
                k.partition(":")[0] for k in keys if len(self._keys.get(k, ())) >= MAX_OWNERS_PER_KEY
            ) if candidates else frozenset()  # fmt: skip
            for owner_id in candidates:
                c = compare(f, self._profiles[owner_id], common)
                if c.veto is None and c.score >= AUTO_SCORE:
                    if best is None or c.score > best[0]:
                        best = (c.score, owner_id, c)
                elif reviewable(c) and (doubt is None or c.score > doubt[0]):
                    doubt = (c.score, owner_id, c)
            if best is not None:
                chosen = (best[1], rule_of(best[2]), best[0])
            elif doubt is not None:
                review = Review(doubt[1], doubt[0], doubt[2].levels)
        if chosen is None:
            owner_id = new_case_owner_id(self.client_id, self.import_id, row)
            self._profiles[owner_id] = OwnerProfile.first_seen(owner_id, tag, f)
            self._dirty_profiles.add(owner_id)
            decision = Decision(row, owner_id, "new", True, review.score if review else 0.0, review)
        else:
            owner_id, rule, score = chosen
            owner_new = self._profiles[owner_id].origin.startswith(self.import_id + "#")
            decision = Decision(row, owner_id, rule, owner_new, score)
            if self._profiles[owner_id].add_evidence(f, tag):
                self._dirty_profiles.add(owner_id)
        for key in keys:
            holders = self._keys.setdefault(key, {})
            if owner_id not in holders and len(holders) < MAX_OWNERS_PER_KEY:
                holders[owner_id] = tag
                self._dirty_keys.add(key)
        return decision

    def flush(self) -> int:
        """Write the keys and profiles this batch changed; returns how many items were written."""
        keys = {k: self._keys[k] for k in self._dirty_keys}
        profiles = {o: self._profiles[o] for o in self._dirty_profiles}
        self.index.put(keys, profiles)
        self._dirty_keys.clear()
        self._dirty_profiles.clear()
        return len(keys) + len(profiles)

    def forget(self) -> None:
        """Drop the read cache between batches so memory stays flat on big files."""
        self._keys.clear()
        self._profiles.clear()


def confirm_merge(index: MatchIndex, surviving: str, merged: str, tag: str) -> bool:
    """A person confirmed that two case owners are one (an accepted review): the surviving one takes the merged
    one's identities (names a person confirmed may be compared with) and evidence; the merged one points to it.
    Idempotent. False when either is unknown to the index (nothing imported for it)."""
    profiles = index.get_profiles([surviving, merged])
    if surviving not in profiles or merged not in profiles or surviving == merged:
        return False
    target, source = profiles[surviving], profiles[merged]
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
