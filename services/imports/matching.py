"""The matching engine: which case owner does a new row belong to?

Blocking, then rules, then a fuzzy score inside the block only:

* Every row yields a few *block keys* (``ref:``, ``email:``, ``phone:``, ``dob:<date>|<initials>``,
  ``addr:<country>|<postcode>|<street>``, ``name:<tokens>|<postcode>``). The match-key index maps a key to the
  (few) case owners carrying it: the cost per row is a handful of key lookups, whatever the number of case owners
  (in DynamoDB ``MATCH#<client>#<key>`` items read with BatchGetItem, never a scan). A key shared by more than
  ``MAX_OWNERS_PER_KEY`` owners (an office switchboard) is *saturated* and no longer used to match.
* The candidates' profiles (names, e-mails, phones, birth dates, addresses seen so far) are then checked rule by
  rule; the first rule that holds is recorded as ``matched_by``:
  ``client_case_number`` (only with the client setting: the reference alone decides),
  ``email`` (same e-mail, names alike), ``phone+family_name`` (same E.164 phone and family name, no conflicting
  given name), ``name+birth_date``, ``name+postcode+street`` (exact folded names), then
  ``fuzzy:<attribute>`` (names ≥ ``FUZZY_NAME_SCORE`` by rapidfuzz and one strong attribute in common).
* A false merge (two people under one case owner) is the worst error, so doubt means a new case owner: different
  birth dates never merge, different given names never merge (Anna and Peter Schmidt share a phone and a flat),
  a shared e-mail with a different name does not merge.

Exactly once across a crash: every index entry carries a *tag* ``<import_id>#<row>`` of the row that added it.
A batch that is run again after a crash ignores the entries its own rows (row ≥ the batch's first row) added,
so it sees the index exactly as a clean run did and takes the same decisions; new case owner ids are derived
from the import id and row number, so they are the same too.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Protocol

from rapidfuzz import fuzz

from services.imports import normalise as norm
from services.imports.domain import NAMESPACE, DebtorLine, ImportSettings

MAX_OWNERS_PER_KEY = 20
FUZZY_NAME_SCORE = 88.0
ALIKE_NAME_SCORE = 80.0
GIVEN_NAME_CONFLICT = 70.0
GIVEN_NAME_SWAPPED = 85.0
PROFILE_FIELDS = ("names", "families", "givens", "emails", "phones", "birth_dates", "addresses", "refs")


@dataclass
class OwnerProfile:
    """What the index knows about a case owner: every value with the tag of the row that added it."""

    case_owner_id: str
    origin: str
    names: dict[str, str] = field(default_factory=dict)
    families: dict[str, str] = field(default_factory=dict)
    givens: dict[str, str] = field(default_factory=dict)
    emails: dict[str, str] = field(default_factory=dict)
    phones: dict[str, str] = field(default_factory=dict)
    birth_dates: dict[str, str] = field(default_factory=dict)
    addresses: dict[str, str] = field(default_factory=dict)
    refs: dict[str, str] = field(default_factory=dict)

    def to_item(self) -> dict[str, object]:
        return {"case_owner_id": self.case_owner_id, "origin": self.origin} | {
            f: dict(getattr(self, f)) for f in PROFILE_FIELDS
        }

    @classmethod
    def from_item(cls, item: Mapping[str, object]) -> OwnerProfile:
        return cls(
            case_owner_id=str(item["case_owner_id"]),
            origin=str(item["origin"]),
            **{f: {str(k): str(v) for k, v in dict(item.get(f) or {}).items()} for f in PROFILE_FIELDS},  # type: ignore[call-overload]
        )


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
                p = self.profiles[i]
                out[i] = OwnerProfile(p.case_owner_id, p.origin, **{f: dict(getattr(p, f)) for f in PROFILE_FIELDS})
        return out

    def put(self, keys: Mapping[str, dict[str, str]], profiles: Mapping[str, OwnerProfile]) -> None:
        self.keys.update({k: dict(v) for k, v in keys.items()})
        self.profiles.update(profiles)


@dataclass(frozen=True)
class RowFeatures:
    """The matching view of a debtor line (folded; nothing here is stored as the client's data)."""

    tokens: str
    family: str
    given: str
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
            email=norm.email_key(line.email) if line.email else None,
            phone=line.phone,
            birth_date=line.birth_date.isoformat() if line.birth_date else None,
            address=address,
            postcode=f"{line.country}|{line.postcode}" if line.postcode else None,
            ref=norm.clean_text(line.client_case_number).casefold() if line.client_case_number else None,
        )

    def block_keys(self) -> list[str]:
        keys = []
        if self.ref:
            keys.append(f"ref:{self.ref}")
        if self.email:
            keys.append(f"email:{self.email}")
        if self.phone:
            keys.append(f"phone:{self.phone}")
        if self.birth_date and self.tokens:
            initials = "".join(sorted(t[0] for t in self.tokens.split()))
            keys.append(f"dob:{self.birth_date}|{initials}")
        if self.address:
            keys.append(f"addr:{self.address}")
        if self.tokens and self.postcode:
            keys.append(f"name:{self.tokens}|{self.postcode}")
        return keys


@dataclass(frozen=True)
class Decision:
    row: int
    case_owner_id: str
    matched_by: str
    owner_new: bool
    score: float = 0.0


def new_case_owner_id(client_id: str, import_id: str, row: int) -> str:
    """Deterministic, so that a re-run of the same import creates the same case owners."""
    return str(uuid.uuid5(NAMESPACE, f"{client_id}|owner|{import_id}|{row}"))


def tag_for(import_id: str, row: int) -> str:
    return f"{import_id}#{row:09d}"


def _swapped(row: RowFeatures, p: OwnerProfile) -> bool:
    """The row has first and last name exchanged relative to the case owner's profile (typos allowed)."""
    if not (row.family and row.given and p.givens and p.families):
        return False
    alike = GIVEN_NAME_SWAPPED
    return any(fuzz.ratio(row.family, g) >= alike for g in p.givens) and any(
        fuzz.ratio(row.given, f) >= alike for f in p.families
    )


def _given_conflict(row: RowFeatures, p: OwnerProfile) -> bool:
    """Both sides name a given name and none is alike: Anna and Peter Schmidt share a phone and a flat."""
    if not row.given or not p.givens or _swapped(row, p):
        return False
    return all(fuzz.ratio(row.given, g) < GIVEN_NAME_CONFLICT for g in p.givens)


def judge(row: RowFeatures, p: OwnerProfile) -> tuple[str, float] | None:
    """The rule that puts ``row`` under case owner ``p``, with a name score; None when in doubt."""
    if row.birth_date and p.birth_dates and row.birth_date not in p.birth_dates:
        return None
    if _given_conflict(row, p):
        return None
    score = max((fuzz.ratio(row.tokens, n) for n in p.names), default=0.0) if row.tokens else 0.0
    exact_name = row.tokens in p.names
    if row.email and row.email in p.emails and score >= ALIKE_NAME_SCORE:
        return "email", score
    family_alike = bool(row.family) and (row.family in p.families or _swapped(row, p))
    if row.phone and row.phone in p.phones and family_alike and score >= ALIKE_NAME_SCORE:
        return "phone+family_name", score
    if exact_name and row.birth_date and row.birth_date in p.birth_dates:
        return "name+birth_date", score
    if exact_name and row.address and row.address in p.addresses:
        return "name+postcode+street", score
    if score >= FUZZY_NAME_SCORE:
        for attribute, mine, theirs in (
            ("email", row.email, p.emails),
            ("phone", row.phone, p.phones),
            ("birth_date", row.birth_date, p.birth_dates),
            ("address", row.address, p.addresses),
        ):
            if mine and mine in theirs:
                return f"fuzzy:{attribute}", score
    return None


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

    def _visible(self, tag: str, batch_start: int) -> bool:
        mine, _, row = tag.partition("#")
        return mine != self.import_id or int(row) < batch_start

    def match_batch(self, lines: list[tuple[int, DebtorLine]]) -> list[Decision]:
        if not lines:
            return []
        start = lines[0][0]
        features = [(row, RowFeatures.of(line)) for row, line in lines]
        wanted = {k for _, f in features for k in f.block_keys()} - self._keys.keys()
        for key, owners in self.index.get_keys(wanted).items():
            self._keys[key] = {o: t for o, t in owners.items() if self._visible(t, start)}
        candidates = {o for _, f in features for k in f.block_keys() for o in self._keys.get(k, {})}
        for owner_id, profile in self.index.get_profiles(candidates - self._profiles.keys()).items():
            if self._visible(profile.origin, start):
                for name in PROFILE_FIELDS:
                    values = getattr(profile, name)
                    setattr(profile, name, {v: t for v, t in values.items() if self._visible(t, start)})
                self._profiles[owner_id] = profile
        return [self._decide(row, f) for row, f in features]

    def _decide(self, row: int, f: RowFeatures) -> Decision:
        keys = f.block_keys()
        chosen: tuple[str, str, float] | None = None
        if self.settings.match_on_client_case_number and f.ref:
            owners = sorted(
                ((o, t) for o, t in self._keys.get(f"ref:{f.ref}", {}).items() if o in self._profiles),
                key=lambda kv: kv[1],
            )
            if owners:
                chosen = (owners[0][0], "client_case_number", 100.0)
        else:
            best: tuple[int, float, str, str] | None = None
            seen: set[str] = set()
            for key in keys:
                owners_of_key = self._keys.get(key, {})
                if len(owners_of_key) >= MAX_OWNERS_PER_KEY:
                    continue  # saturated key: too common to say anything
                for owner_id in sorted(owners_of_key):
                    if owner_id in seen or owner_id not in self._profiles:
                        continue
                    seen.add(owner_id)
                    verdict = judge(f, self._profiles[owner_id])
                    if verdict is None:
                        continue
                    rule, score = verdict
                    rank = 0 if rule.startswith("fuzzy") else 1
                    if best is None or (rank, score) > (best[0], best[1]):
                        best = (rank, score, owner_id, rule)
            if best is not None:
                chosen = (best[2], best[3], best[1])
        tag = tag_for(self.import_id, row)
        if chosen is None:
            owner_id = new_case_owner_id(self.client_id, self.import_id, row)
            self._profiles[owner_id] = OwnerProfile(owner_id, tag)
            decision = Decision(row, owner_id, "new", True, 0.0)
        else:
            owner_id, rule, score = chosen
            owner_new = self._profiles[owner_id].origin.startswith(self.import_id + "#")
            decision = Decision(row, owner_id, rule, owner_new, score)
        self._remember(owner_id, f, keys, tag)
        return decision

    def _remember(self, owner_id: str, f: RowFeatures, keys: list[str], tag: str) -> None:
        p = self._profiles[owner_id]
        swapped = _swapped(f, p)
        for name, value in (
            ("names", f.tokens),
            ("families", None if swapped else f.family),
            ("givens", None if swapped else f.given),
            ("emails", f.email),
            ("phones", f.phone),
            ("birth_dates", f.birth_date),
            ("addresses", f.address),
            ("refs", f.ref),
        ):
            values = getattr(p, name)
            if value and value not in values and len(values) < 50:
                values[value] = tag
                self._dirty_profiles.add(owner_id)
        for key in keys:
            owners = self._keys.setdefault(key, {})
            if owner_id not in owners and len(owners) < MAX_OWNERS_PER_KEY:
                owners[owner_id] = tag
                self._dirty_keys.add(key)

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
