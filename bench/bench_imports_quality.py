"""Matching quality on generated debtors with known duplicates: pairwise precision and recall.

People are drawn from Faker de_DE, fr_FR and en_GB pools. Each person gets a first record, and some get further
records with one disturbance each, as real registries have them: a typo or an OCR misreading (rn → m, cl → d) in
a name, first and last name swapped (also with a typo), the given name replaced (an initial, another name) or
blank, the phone spelled otherwise, the e-mail in other case or left out, the address abbreviated or a new one
(moved), the birth date in another format (DD.MM.YYYY, YYYYMMDD, DD/MM/YYYY), or several fields left out.
Hard negatives are mixed in: relatives (same family name, address and phone, other given name and birth date),
namesakes (same name, nothing else in common), father and son of one name at one address (two birth dates),
chains of near-names at one address (Bauer, Mauer, Maurer: three people) and numbered namesakes (Meier1 …).
A false merge is the worst error, so precision is reported first, false and chained merges are counted.
"""

from __future__ import annotations

import itertools
import random
from collections import Counter, defaultdict
from dataclasses import replace
from datetime import date, timedelta

from rapidfuzz.distance import JaroWinkler

from bench.bench_imports_core import Person, make_people
from bench.harness import Report
from services.imports import domain
from services.imports.domain import DebtorLine, ImportSettings, RowRejected, validate
from services.imports.matching import InMemoryMatchIndex, Matcher

CALLING = {"DE": "49", "FR": "33", "GB": "44"}


def typo(rng: random.Random, text: str) -> str:
    if len(text) < 4:
        return text
    i = rng.randrange(1, len(text) - 1)
    kind = rng.choice(["swap", "drop", "replace"])
    if kind == "swap":
        return text[:i] + text[i + 1] + text[i] + text[i + 2 :]
    if kind == "drop":
        return text[:i] + text[i + 1 :]
    return text[:i] + rng.choice("aeiourstn") + text[i + 1 :]


def other_phone(rng: random.Random, p: Person) -> str:
    digits = "".join(c for c in p.phone if c.isdigit())[1:]
    return rng.choice(
        [f"+{CALLING[p.country]} {digits[:3]} {digits[3:]}", f"00{CALLING[p.country]}{digits}",
         f"0{digits[:3]}/{digits[3:]}", f"(0{digits[:2]}) {digits[2:]}", f"+{CALLING[p.country]}-{digits}"]
    )  # fmt: skip


def record(p: Person, fields: dict[str, str | None] | None = None) -> dict[str, str]:
    raw: dict[str, str | None] = {
        "first_name": p.first, "last_name": p.last, "birth_date": p.dob.isoformat(), "email": p.email,
        "phone": p.phone, "street": p.street, "postcode": p.postcode, "city": p.city, "country": p.country,
    }  # fmt: skip
    raw.update(fields or {})
    return {k: v for k, v in raw.items() if v}


DISTURBANCES = ("typo", "ocr", "swapped", "swapped_typo", "given_replaced", "given_blank", "phone_format",
                "email_case", "email_missing", "street_abbrev", "dob_format", "moved", "sparse")  # fmt: skip
OCR = (("m", "rn"), ("rn", "m"), ("cl", "d"), ("d", "cl"), ("h", "li"), ("li", "h"), ("w", "vv"), ("e", "c"),
       ("n", "ri"), ("u", "ii"), ("o", "a"), ("l", "i"))  # fmt: skip
INITIAL_OR_OTHER = ("initial", "other")


def ocr(rng: random.Random, text: str) -> str:
    """One misread glyph group, as a scanner reads a printed name (rn → m, cl → d, li → h …)."""
    options = [(a, b) for a, b in OCR if a in text[1:]]
    if not options:
        return typo(rng, text)
    a, b = rng.choice(options)
    i = text.index(a, 1)
    return text[:i] + b + text[i + len(a) :]


def near_names(rng: random.Random, last: str) -> tuple[str, str] | None:
    """Two further family names, each one edit from the one before and not a typo of it by any measure
    (Jaro–Winkler < 0.92, like Bauer/Mauer 0.87 and Mauer/Maurer 0.91): only short names have such neighbours."""
    if not 4 <= len(last) <= 7 or not last.isalpha():
        return None
    near = ("M" if last[0] != "M" else "B") + last[1:]
    i = rng.randrange(2, len(near))
    nearer = near[:i] + rng.choice("rnl") + near[i:]
    folded = [domain.norm.fold(x) for x in (last, near, nearer)]
    if any(JaroWinkler.similarity(a, b) >= 0.92 for a, b in itertools.pairwise(folded)):
        return None
    return near, nearer


def variant(rng: random.Random, p: Person, kind: str) -> dict[str, str]:
    if kind == "typo":
        return record(p, {"last_name": typo(rng, p.last)} if rng.random() < 0.5 else {"first_name": typo(rng, p.first)})
    if kind == "ocr":
        return record(p, {"last_name": ocr(rng, p.last)} if rng.random() < 0.5 else {"first_name": ocr(rng, p.first)})
    if kind == "swapped":
        return record(p, {"first_name": p.last, "last_name": p.first})
    if kind == "swapped_typo":
        return record(p, {"first_name": typo(rng, p.last), "last_name": p.first})
    if kind == "given_replaced":  # an initial, or another given name (a second name, a nickname)
        other = f"{p.first[0]}." if rng.random() < 0.5 else rng.choice(["Hannelore", "Bob", "Marie", "Jean", "Kim"])
        return record(p, {"first_name": other})
    if kind == "given_blank":
        return record(p, {"first_name": None, "email": None, "phone": None})
    if kind == "moved":  # a new address and phone; the birth date and e-mail are still the person's
        return record(p, {"street": "Neue Gasse 7", "postcode": "99084", "city": "Erfurt", "country": "DE",
                          "phone": None})  # fmt: skip
    if kind == "phone_format":
        return record(p, {"phone": other_phone(rng, p), "email": None})
    if kind == "email_case":
        return record(p, {"email": p.email.upper(), "phone": None})
    if kind == "email_missing":
        return record(p, {"email": None})
    if kind == "street_abbrev":
        street = p.street.replace("straße", "str.").replace("Straße", "Str.").replace("rue", "r.")
        return record(p, {"street": street.upper(), "email": None, "phone": None})
    if kind == "dob_format":
        spelled = p.dob.strftime(rng.choice(["%d.%m.%Y", "%Y%m%d", "%d/%m/%Y"]))
        return record(p, {"birth_date": spelled, "email": None, "phone": None, "street": None})
    # sparse: name and one contact detail only
    keep = rng.choice(["email", "phone"])
    return record(p, {k: None for k in ("birth_date", "street", "postcode", "city", "email", "phone") if k != keep})


def build(n: int, seed: int = 9) -> list[tuple[str, str, dict[str, str]]]:
    """(truth id, disturbance, raw record) in file order."""
    rng = random.Random(seed)
    people = make_people(n, seed)
    out: list[tuple[str, str, dict[str, str]]] = []
    for p in people:
        out.append((f"p{p.pid}", "first", record(p)))
        if rng.random() < 0.6:
            for kind in rng.sample(DISTURBANCES, rng.randint(1, 3)):
                out.append((f"p{p.pid}", kind, variant(rng, p, kind)))
        if rng.random() < 0.1:  # a relative: same family name, address and phone; own given name and birth date
            other = people[(p.pid + 7) % n]
            relative = replace(p, first=other.first, dob=p.dob - timedelta(days=rng.randint(7000, 12000)),
                               email=f"x{p.pid}@example.org")  # fmt: skip
            out.append((f"r{p.pid}", "relative", record(relative)))
        if rng.random() < 0.05:  # a namesake: same name, another person altogether
            stranger = people[(p.pid + 13) % n]
            namesake = replace(stranger, pid=-1, first=p.first, last=p.last, dob=date(1950, 1, 1))
            out.append((f"n{p.pid}", "namesake", record(namesake, {"email": f"n{p.pid}@example.org"})))
        if rng.random() < 0.03:  # father and son: one name, one address and phone, two birth dates (both given)
            son = replace(p, dob=p.dob - timedelta(days=rng.randint(8000, 12000)), email=f"sr{p.pid}@example.org")
            out.append((f"s{p.pid}", "namesake_at_address", record(son)))
        if rng.random() < 0.05 and (chain := near_names(rng, p.last)):
            # a chain of near-names at one address: Bauer, Mauer, Maurer are three people
            for step, name in enumerate(chain, start=1):
                link = {"last_name": name, "birth_date": None, "email": None, "phone": None}
                out.append((f"c{p.pid}.{step}", "chain", record(p, link)))
        if rng.random() < 0.01:  # numbered namesakes at one address (test rows, a shared flat): all different
            for k in range(1, 6):
                numbered = {"last_name": f"{p.last}{k}", "birth_date": None, "email": None, "phone": None}
                out.append((f"h{p.pid}.{k}", "numbered", record(p, numbered)))
    rng.shuffle(out)
    return out


def pairs(groups: Counter[str] | Counter[tuple[str, str]]) -> int:
    return sum(c * (c - 1) // 2 for c in groups.values())


def evaluate(n: int) -> dict[str, float]:
    data = build(n)
    lines: list[tuple[int, str, str, DebtorLine]] = []
    for i, (truth, kind, raw) in enumerate(data, start=1):
        try:
            line, _ = validate(raw | {"invoice_number": f"I{i}", "amount": "10", "opened_on": "2026-01-01"})
        except RowRejected:
            continue
        lines.append((i, truth, kind, line))
    matcher = Matcher(InMemoryMatchIndex(), "client", "quality", ImportSettings())
    owner_of: dict[int, str] = {}
    for start in range(0, len(lines), 500):
        batch = lines[start : start + 500]
        for d in matcher.match_batch([(i, line) for i, _, _, line in batch]):
            owner_of[d.row] = d.case_owner_id
        matcher.flush()
        matcher.forget()
    truth_groups = Counter(t for _, t, _, _ in lines)
    owner_groups = Counter(owner_of[i] for i, _, _, _ in lines)
    both = Counter((t, owner_of[i]) for i, t, _, _ in lines)
    true_pairs, predicted, correct = pairs(truth_groups), pairs(owner_groups), pairs(both)
    people_per_owner: dict[str, set[str]] = defaultdict(set)
    for i, t, _, _ in lines:
        people_per_owner[owner_of[i]].add(t)
    # recall per disturbance: was the record put with (one of) its person's other records?
    first_owner = {t: owner_of[i] for i, t, k, _ in lines if k == "first"}
    by_kind: dict[str, list[bool]] = defaultdict(list)
    for i, t, kind, _ in lines:
        if kind in DISTURBANCES:
            by_kind[kind].append(owner_of[i] == first_owner.get(t))
    # A chained merge: a person and the far end of a chain of their near-names (Bauer … Maurer) in one case owner.
    chained = sum(1 for s in people_per_owner.values() if any(f"c{t[1:]}.2" in s for t in s if t[0] == "p"))
    result = {
        "chained_merges": chained,
        "records": len(lines),
        "people": len(truth_groups),
        "precision": correct / predicted if predicted else 1.0,
        "recall": correct / true_pairs if true_pairs else 1.0,
        "false_merges": sum(len(s) > 1 for s in people_per_owner.values()),
    }
    result.update({f"recall_{k}": sum(v) / len(v) for k, v in by_kind.items() if v})
    return result


def run(report: Report, quick: bool) -> None:
    n = 1_000 if quick else 5_000
    r = evaluate(n)
    note = f"{int(r['records']):,} records of {int(r['people']):,} people (de_DE, fr_FR, en_GB)"
    report.add("matching precision (pairwise)", r["precision"], "ratio", note=f"{r['precision']:.5f}; {note}")
    report.add("matching recall (pairwise)", r["recall"], "ratio", note=note)
    report.add("false merges (case owners holding two people)", r["false_merges"], "count", note=note)
    report.add("chained merges (Bauer and Maurer in one case owner)", r["chained_merges"], "count",
               note="chains Bauer, Mauer, Maurer at one address: three people")  # fmt: skip
    for kind in DISTURBANCES:
        if f"recall_{kind}" in r:
            report.add(
                f"recall, disturbance {kind}", r[f"recall_{kind}"], "ratio", note="joined the person's first record"
            )
