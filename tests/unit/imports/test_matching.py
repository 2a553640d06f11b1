"""The matching engine against the in-memory match-key index."""

from __future__ import annotations

import random
import uuid
from datetime import date, datetime, timedelta
from typing import Any

from bench.bench_imports_quality import build
from services.imports.domain import NAMESPACE, DebtorLine, ImportSettings, RowRejected, constructed_line, validate
from services.imports.matching import (
    AUTO_SCORE,
    MAX_OWNERS_PER_KEY,
    REVIEW_SCORE,
    Decision,
    InMemoryMatchIndex,
    Matcher,
    OwnerProfile,
    RowFeatures,
    _compare,
    _folded_street,
    _Owner,
    compare,
    confirm_merge,
    new_case_owner_id,
    profile_keys,
    tag_for,
)
from services.imports.normalise import fold_uncached, name_tokens

BASE = {"invoice_number": "INV", "amount": "1", "opened_on": "2026-01-01"}


def line(**fields: Any) -> DebtorLine:
    return validate(BASE | fields)[0]


ANNA: dict[str, Any] = {
    "first_name": "Anna", "last_name": "Schmidt", "email": "anna.schmidt@example.de", "phone": "+49 30 1234567",
    "street": "Hauptstraße 5", "postcode": "10115", "birth_date": "1980-04-01",
}  # fmt: skip


def seeded(index: InMemoryMatchIndex, *people: dict[str, Any], settings: ImportSettings | None = None) -> list[str]:
    m = Matcher(index, "c", "seed", settings or ImportSettings())
    decisions = m.match_batch([(i + 1, line(**p)) for i, p in enumerate(people)])
    m.flush()
    return [d.case_owner_id for d in decisions]


def match(index: InMemoryMatchIndex, settings: ImportSettings | None = None, **fields: Any) -> tuple[str, str]:
    m = Matcher(index, "c", "next", settings or ImportSettings())
    d = m.match_batch([(1, line(**fields))])[0]
    return d.case_owner_id, d.matched_by


def test_agreeing_fields_are_named_in_matched_by() -> None:
    index = InMemoryMatchIndex()
    (anna,) = seeded(index, ANNA)
    assert match(index, first_name="Anna", last_name="Schmidt", email="ANNA.SCHMIDT@example.de") == (
        anna,
        "model:name+email",
    )
    assert match(index, first_name="Anna", last_name="Schmidt", phone="030 1234567") == (anna, "model:name+phone")
    assert match(index, first_name="Anna", last_name="Schmidt", birth_date="01.04.1980") == (
        anna,
        "model:name+birth_date",
    )
    assert match(index, first_name="Anna", last_name="Schmidt", street="Hauptstrasse 5", postcode="10115") == (
        anna,
        "model:name+address",
    )
    assert match(index, first_name="Anna", last_name="Schmitd", birth_date="1980-04-01") == (
        anna,
        "model:name+birth_date",
    )


def test_swapped_names_and_other_phone_spelling_still_match() -> None:
    index = InMemoryMatchIndex()
    (anna,) = seeded(index, ANNA)
    assert match(index, first_name="Schmidt", last_name="Anna", phone="+49 (0)30 123 45 67") == (
        anna,
        "model:name+phone",
    )
    # swapped and a typo
    assert match(index, first_name="Schmitd", last_name="Anna", birth_date="1980-04-01")[0] == anna


def test_a_blank_given_name_does_not_block_a_match() -> None:
    index = InMemoryMatchIndex()
    (anna,) = seeded(index, ANNA)
    blank: dict[str, Any] = {"last_name": "Schmidt", "birth_date": "1980-04-01"}
    blank |= {"street": "Hauptstraße 5", "postcode": "10115"}
    assert match(index, **blank)[0] == anna


def test_doubt_means_a_new_case_owner() -> None:
    index = InMemoryMatchIndex()
    (anna,) = seeded(index, ANNA)
    # same phone and flat, other given name: her husband
    assert match(index, first_name="Peter", last_name="Schmidt", phone="030 1234567", street="Hauptstraße 5",
                 postcode="10115")[1] == "new"  # fmt: skip
    # a shared family e-mail with a different name
    assert match(index, first_name="Lena", last_name="Weber", email="anna.schmidt@example.de")[1] == "new"
    # same name and address, different birth date: mother and daughter
    assert match(index, first_name="Anna", last_name="Schmidt", street="Hauptstraße 5", postcode="10115",
                 birth_date="2004-02-02")[1] == "new"  # fmt: skip
    # a name alone is never enough
    assert match(index, first_name="Anna", last_name="Schmidt")[1] == "new"
    assert anna
    # the feminine form of his name at his flat and phone: his wife, not a typo
    seeded(index, {"first_name": "Daniel", "last_name": "Weber", "phone": "+49 89 7654321"})
    assert match(index, first_name="Daniela", last_name="Weber", phone="089 7654321")[1] == "new"
    assert match(index, first_name="Petra", last_name="Weber", phone="089 7654321")[1] == "new"


def decide(index: InMemoryMatchIndex, **fields: Any) -> Decision:
    return Matcher(index, "c", "next", ImportSettings()).match_batch([(1, line(**fields))])[0]


def test_an_uncertain_pair_gets_its_own_case_owner_and_goes_to_review() -> None:
    index = InMemoryMatchIndex()
    (anna,) = seeded(index, ANNA)
    # the name agrees, the birth date is one digit off, nothing else: a person should look
    d = decide(index, first_name="Anna", last_name="Schmidt", birth_date="1980-04-07")
    assert d.matched_by == "new" and d.case_owner_id != anna
    assert d.review is not None and d.review.candidate == anna
    assert REVIEW_SCORE <= d.review.score < AUTO_SCORE
    assert d.review.levels == {"given": "exact", "family": "exact", "birth_date": "one_part_off"}
    # a certain match or a certain stranger is not queued
    assert decide(index, **ANNA).review is None
    assert decide(index, first_name="Jean", last_name="Dupont", birth_date="1980-04-01").review is None
    # a new family name (a marriage?) with her birth date, next door: a person decides
    married = decide(index, first_name="Anna", last_name="Weber", birth_date="1980-04-01", street="Hauptstraße 9",
                     postcode="10115")  # fmt: skip
    assert married.matched_by == "new" and married.review is not None
    assert married.review.levels == {"given": "exact", "family": "different", "birth_date": "exact",
                                     "address": "street_or_postcode_off"}  # fmt: skip


def test_names_never_chain_bauer_mauer_maurer() -> None:
    """Each name is compared with the first-seen one, never with a name that was itself accepted by similarity."""
    at = {"street": "Lindenweg 3", "postcode": "50667"}
    index = InMemoryMatchIndex()
    m = Matcher(index, "c", "seed", ImportSettings())
    bauer, mauer, maurer = m.match_batch([(1, line(first_name="Peter", last_name="Bauer", **at)),
                                          (2, line(first_name="Peter", last_name="Mauer", **at)),
                                          (3, line(first_name="Peter", last_name="Maurer", **at))])  # fmt: skip
    assert len({bauer.case_owner_id, mauer.case_owner_id, maurer.case_owner_id}) == 3
    # Mauer/Maurer may be one letter mistyped: a person decides; Bauer is never offered for Maurer
    assert mauer.review is None
    assert maurer.review is not None and maurer.review.candidate == mauer.case_owner_id
    # typos of the first-seen name do join it, and still do not let the next near-name in
    index = InMemoryMatchIndex()
    owners = seeded(index, {"first_name": "Peter", "last_name": "Bauer", **at},
                    {"first_name": "Peter", "last_name": "Baur", **at},
                    {"first_name": "Peter", "last_name": "Braun", **at})  # fmt: skip
    assert owners[0] == owners[1] != owners[2]


def test_nine_hundred_numbered_namesakes_at_one_address_stay_apart() -> None:
    at: dict[str, Any] = {"street": "Am Markt 1", "postcode": "04109", "phone": "+49 341 1234567"}
    at["email"] = "info@example.de"
    index = InMemoryMatchIndex()
    owners = seeded(index, *({"first_name": "Hans", "last_name": f"Meier{n}", **at} for n in range(1, 901)))
    assert len(set(owners)) == 900
    # and the same one again still finds itself
    assert match(index, first_name="Hans", last_name="Meier77", **at)[0] == owners[76]


def test_compare_levels() -> None:
    anna = RowFeatures.of(line(**ANNA))
    profile = OwnerProfile.first_seen("o", "t#1", anna)
    assert compare(anna, profile).levels == {
        "given": "exact", "family": "exact", "birth_date": "exact", "address": "same", "email": "same",
        "phone": "same",
    }  # fmt: skip
    other = RowFeatures.of(line(first_name="Ana", last_name="Schmidt-Meyer", birth_date="1980-01-04",
                                street="Hauptstr. 5", postcode="10117"))  # fmt: skip
    c = compare(other, profile)
    assert c.levels == {"given": "close", "family": "close", "birth_date": "one_part_off",
                        "address": "street_or_postcode_off"}  # fmt: skip
    assert c.veto is None


def test_rows_of_one_file_see_each_other() -> None:
    index = InMemoryMatchIndex()
    m = Matcher(index, "c", "imp", ImportSettings())
    d = m.match_batch([(1, line(**ANNA)), (2, line(**ANNA)), (3, line(first_name="X", last_name="Y"))])
    assert d[0].case_owner_id == d[1].case_owner_id != d[2].case_owner_id
    assert d[1].matched_by.startswith("model:") and d[0].matched_by == d[2].matched_by == "new"
    assert all(x.owner_new for x in d)


def test_client_case_number_decides_alone_when_the_client_says_so() -> None:
    settings = ImportSettings(match_on_client_case_number=True)
    index = InMemoryMatchIndex()
    (owner,) = seeded(index, ANNA | {"client_case_number": "K-1"}, settings=settings)
    assert match(index, settings, last_name="Whatever", client_case_number="K-1") == (owner, "client_case_number")
    assert match(index, settings, **(ANNA | {"client_case_number": "K-2"}))[1] == "new"
    assert match(index, **(ANNA | {"client_case_number": "K-2"}))[0] == owner  # setting off: the model decides


def test_a_rerun_batch_decides_exactly_like_the_first_run() -> None:
    index = InMemoryMatchIndex()
    seeded(index, ANNA)
    rows = [(10, line(**ANNA)), (11, line(first_name="Jean", last_name="Dupont", email="j@d.fr")),
            (12, line(first_name="Jean", last_name="Dupont", email="j@d.fr"))]  # fmt: skip
    first = Matcher(index, "c", "imp", ImportSettings())
    before = first.match_batch(rows)
    first.flush()  # the batch's writes landed, then the crash: the checkpoint was not written
    after = Matcher(index, "c", "imp", ImportSettings()).match_batch(rows)
    assert before == after
    assert [d.matched_by for d in after] == ["model:name+address+birth_date+email+phone", "new", "model:name+email"]


def _registry_lines(rows: int) -> list[tuple[int, DebtorLine]]:
    lines = []
    for i, (_, _, raw) in enumerate(build(rows), start=1):
        try:
            lines.append((i, validate(raw | {"invoice_number": f"I{i}", "amount": "1", "opened_on": "2026-01-01"})[0]))
        except RowRejected:
            continue
    return lines


def _run(index: InMemoryMatchIndex, lines: list[tuple[int, DebtorLine]], rerun: bool, batch: int = 50) -> list[Any]:
    matcher = Matcher(index, "c", "imp", ImportSettings(), rerun=rerun)
    decisions = []
    for n in range(0, len(lines), batch):
        decisions += matcher.match_batch(lines[n : n + batch])
        matcher.flush()
        matcher.forget()
    return decisions


def test_a_first_run_without_the_rerun_filter_decides_as_with_it() -> None:
    """``rerun=False`` (an import's first run) only skips work: registry-like rows (relatives, namesakes, typos),
    in batches that see each other's owners, get the same decisions, owners, scores and reviews."""
    lines = _registry_lines(600)
    with_filter, without = InMemoryMatchIndex(), InMemoryMatchIndex()
    seeded(with_filter, ANNA)
    seeded(without, ANNA)
    decided = _run(with_filter, lines, rerun=True)
    assert _run(without, lines, rerun=False) == decided
    assert with_filter.keys == without.keys
    assert {o: p.to_item() for o, p in with_filter.profiles.items()} == {
        o: p.to_item() for o, p in without.profiles.items()
    }
    assert sum(d.matched_by != "new" for d in decided) > 100 and any(d.review for d in decided)


def test_a_rerun_needs_the_filter() -> None:
    """What ``rerun=True`` is for: a batch run again over its own crashed run's writes decides otherwise without it
    (so the stage must never skip the filter on a re-run; tests/integration/imports/test_resume.py)."""
    lines = _registry_lines(100)
    index = InMemoryMatchIndex()
    clean = _run(index, lines, rerun=False)  # the crashed run got as far as writing every batch, no checkpoint
    assert _run(index, lines, rerun=True) == clean
    assert _run(index, lines, rerun=False) != clean


def test_lookups_per_row_do_not_grow_with_the_number_of_case_owners() -> None:
    def lookups(existing: int) -> int:
        index = InMemoryMatchIndex()
        seeded(index, *({"first_name": f"P{i}", "last_name": f"N{i}", "email": f"p{i}@x.de"} for i in range(existing)))
        index.lookups = 0
        match(index, **ANNA)
        return index.lookups

    assert lookups(10) == lookups(2000)


def test_a_saturated_key_is_ignored() -> None:
    index = InMemoryMatchIndex()
    given = "Anna Peter Lena Otto Maria Jonas Emma Felix Clara Hugo Ida Karl Lisa Max Nina Olaf Paula Rudi Sofia Tim"
    given += " Ute Vera Willi Xaver"
    seeded(index, *({"first_name": g, "last_name": "Call", "phone": "+49 30 999999"} for g in given.split()))
    assert len(index.keys["phone:+4930999999"]) == MAX_OWNERS_PER_KEY
    # Xaver Call was never added to the saturated key; Anna Call is there but the key no longer speaks
    assert match(index, first_name="Anna", last_name="Call", phone="+49 30 999999")[1] == "new"


def test_an_accepted_review_sends_later_rows_to_the_surviving_case_owner() -> None:
    index = InMemoryMatchIndex()
    (anna,) = seeded(index, ANNA)
    # Anna under her new family name, next door: her own case owner, and a review
    m = Matcher(index, "c", "later", ImportSettings())
    (married,) = m.match_batch([(1, line(first_name="Anna", last_name="Weber", birth_date="1980-04-01",
                                         street="Hauptstraße 9", postcode="10115"))])  # fmt: skip
    m.flush()
    assert married.review is not None and married.review.candidate == anna
    assert confirm_merge(index, anna, married.case_owner_id, "merge-e1#000000000")
    assert confirm_merge(index, anna, married.case_owner_id, "merge-e1#000000000")  # again: same state
    assert index.profiles[married.case_owner_id].merged_into == anna
    assert set(index.profiles[anna].identities) == {"anna|schmidt", "anna|weber"}
    # found through the merged owner's address, compared with her confirmed new name: the surviving owner
    assert match(index, first_name="Anna", last_name="Weber", street="Hauptstraße 9", postcode="10115") == (
        anna,
        "model:name+address",
    )
    assert not confirm_merge(index, anna, "unknown", "merge-e2#000000000")


def test_an_erasure_finds_every_key_a_first_seen_row_wrote_from_the_profile() -> None:
    rows = [
        line(
            first_name="Erika",
            last_name="Müller-Lüdenscheidt",
            birth_date="1980-02-29",
            street="Weg 1",
            postcode="10115",
            email="Erika@Example.de",
            phone="+49 151 23456789",
            client_case_number="K-1",
        ),
        line(company_name="Bäckerei Schmidt GmbH", postcode="80331", street="Markt 2"),
    ]
    for row in rows:
        features = RowFeatures.of(row)
        profile = OwnerProfile.first_seen("o-1", "import-1#2", features)
        assert len(features.keys) >= 3
        assert set(features.keys) <= profile_keys(profile), set(features.keys) - profile_keys(profile)


def test_new_case_owner_ids_are_uuid5_of_the_client_import_and_row() -> None:
    cases = [("c", "i", 1), ("client-ü", "0d7c1a52-33f4", 999_999_999), ("", "", 0)]
    cases += [("c", "imp", row) for row in range(2, 400)]  # every variant digit (8, 9, a, b) many times over
    for client, import_id, row in cases:
        expected = uuid.uuid5(NAMESPACE, f"{client}|owner|{import_id}|{row}")
        assert new_case_owner_id(client, import_id, row) == str(expected)


def _snapshot(index: InMemoryMatchIndex) -> tuple[dict[str, dict[str, str]], dict[str, dict[str, object]]]:
    return {k: dict(v) for k, v in index.keys.items()}, {o: p.to_item() for o, p in index.profiles.items()}


def test_the_matcher_changes_nothing_the_index_handed_it_or_was_given() -> None:
    """The in-memory index hands out its own objects and keeps those it is given (no copies): the matcher copies a
    key or a profile before it changes it, and what it flushed is the index's from then on."""
    index = InMemoryMatchIndex()
    (anna,) = seeded(index, ANNA)
    before = _snapshot(index)
    m = Matcher(index, "c", "next", ImportSettings())
    decisions = m.match_batch([
        (1, line(**(ANNA | {"email": "anna@new.de", "phone": "+49 30 7654321"}))),  # new evidence for her profile
        (2, line(first_name="Otto", last_name="Schmidt", street=ANNA["street"], postcode=ANNA["postcode"])),
    ])  # fmt: skip
    assert decisions[0].case_owner_id == anna != decisions[1].case_owner_id
    assert _snapshot(index) == before  # read, changed, not yet written
    m.flush()
    written = _snapshot(index)
    assert "anna@new.de" in written[1][anna]["emails"]  # type: ignore[operator]
    assert set(written[0]["addr:DE|10115|hauptstrasse 5"]) == {anna, decisions[1].case_owner_id}
    # the same matcher, without forgetting: it changes copies of what it wrote, not the index's objects
    assert m.match_batch([(3, line(**(ANNA | {"email": "anna@third.de", "street": "Weg 2"})))])[0].case_owner_id == anna
    assert _snapshot(index) == written
    m.flush()
    assert "anna@third.de" in index.profiles[anna].emails


def test_a_candidate_left_before_its_names_are_compared_could_not_have_changed_the_decision() -> None:
    """The matcher stops comparing a candidate with a different birth date (a veto no review lifts) or whose score
    cannot reach the floor even with the best names: on registry-like pairs (namesakes, relatives, typos, swapped
    names), each candidate left early is one the whole comparison finds neither automatic nor reviewable."""
    features = _registry_features(400)
    owners = [_Owner(OwnerProfile.first_seen(f"o{i}", f"t#{i}", f), own=True) for i, f in enumerate(features)]
    left = compared = 0
    for i, f in enumerate(features):
        for owner in owners[max(0, i - 12) : i]:  # a person's variants, relatives and namesakes lie close together
            whole = _compare(f, owner, False, False, None)
            assert whole is not None
            for floor in (REVIEW_SCORE - 0.01, AUTO_SCORE - 0.01, whole.score - 0.01):
                early = _compare(f, owner, False, False, floor)
                if early is None:
                    left += 1
                    assert whole.veto == "birth_date" or whole.score < floor, (f.identity, whole.levels())
                    if floor == REVIEW_SCORE - 0.01:
                        assert not whole.reviewable() and not (whole.veto is None and whole.score >= AUTO_SCORE)
                else:
                    compared += 1
                    assert early.levels() == whole.levels() and early.score == whole.score
    assert left > 1000 and compared > 1000


def _registry_features(n: int) -> list[RowFeatures]:
    """Rows of the quality bench's registry-like data (typos, swapped and blank names, companies, sparse rows)."""
    features = []
    for i, (_, _, raw) in enumerate(build(n), start=1):
        try:
            features.append(RowFeatures.of(validate(raw | {"invoice_number": f"I{i}", "amount": "1",
                                                           "opened_on": "2026-01-01"})[0]))  # fmt: skip
        except RowRejected:
            continue
    return features


def test_block_keys_give_each_initial_once_in_order_and_no_key_twice() -> None:
    """A row's ``dob:`` keys carry the distinct first letters of its name tokens, sorted (read from the sorted tokens
    without a set), and a row's keys are distinct (the matcher reads each key's holders once a row)."""
    features = _registry_features(400)
    names = [("Zoe Anna", "Adams"), ("Hans", "Meier1"), ("Émile", "Zola"), ("Ann-Kathrin", "Abel")]
    features += [RowFeatures.of(line(first_name=g, last_name=f, birth_date="1980-04-01")) for g, f in names]
    for f in features:
        assert len(set(f.keys)) == len(f.keys), f.keys
        if f.birth_date and f.tokens:
            initials = [k.rpartition("|")[2] for k in f.keys if k.startswith("dob:")]
            assert initials == sorted({t[0] for t in f.tokens.split()}), (f.tokens, initials)
    # tokens not in order (never so from RowFeatures.of) still give the sorted initials
    unsorted = RowFeatures("zoe anna adams", "adams", "zoe anna", "", None, None, "1980-04-01", None, None, None)
    assert [k for k in unsorted.keys if k.startswith("dob:")] == ["dob:1980-04-01|a", "dob:1980-04-01|z"]


def test_a_birth_date_is_keyed_in_iso_form() -> None:
    for born in ["1980-04-01", "1931-01-09", "2001-12-31", "1999-10-09"]:
        assert RowFeatures.of(line(last_name="Schmidt", birth_date=born)).birth_date == born
    from services.imports.matching import _iso_day

    day = date(1, 1, 1)
    while day.year < 2100:  # every month and day, years of one to four digits
        assert _iso_day(day) == day.isoformat()
        day += timedelta(days=97 if day.year < 1800 else 1)
    assert _iso_day(datetime(1980, 4, 1, 12, 30)) == "1980-04-01T12:30:00"  # a datetime keeps its time, as before


def test_a_first_seen_profile_holds_what_adding_the_row_to_an_empty_profile_would() -> None:
    every_field = [line(**(ANNA | {"client_case_number": "K-1"})), line(company_name="Bäckerei Schmidt GmbH")]
    for i, f in enumerate(_registry_features(300) + [RowFeatures.of(x) for x in every_field]):
        empty = OwnerProfile(f"o{i}", f"t#{i}")
        empty.add_identity(f, f"t#{i}")
        empty.add_evidence(f, f"t#{i}")
        assert OwnerProfile.first_seen(f"o{i}", f"t#{i}", f).to_item() == empty.to_item()


def test_a_case_owner_s_names_are_split_only_when_a_row_compares_them() -> None:
    """Most case owners the matcher reads or creates are never compared by name (new ones, candidates left early, a
    row with the very same name): their identities are split into given and family names on first use only."""
    anna = RowFeatures.of(line(**ANNA))
    owner = _Owner(OwnerProfile.first_seen("o", "t#1", anna), own=True)
    assert _compare(anna, owner, False, False, None) is not None
    assert owner._people is None  # the very name: nothing to split
    typo = RowFeatures.of(line(**(ANNA | {"last_name": "Schmitt"})))
    whole = _compare(typo, owner, False, False, None)
    assert whole is not None and whole.levels()["family"] == "close"
    assert owner.people() == [("anna", "schmidt")] and owner.companies() == []


def test_a_street_folds_as_a_whole_when_its_house_number_is_kept_out_of_the_cache() -> None:
    """The address key folds a street's name and its house number apart (the name's fold is cached, the pair's
    would hardly ever be reused): always what folding the whole street gives."""
    streets = {"Hauptstraße 5", "12 Rue de l'Église", "Am Markt 1a", "Weg 12-14", "Straße", "Str. 7", "7 ", " 7"}
    streets |= {"- 7", "7 -", "İstiklal 3", "ΣΟΦΙΑ 2", "Rue 12 bis", "Allee ²", "Weg Ⅻ", "A 1 2", "1 2 3", "7b Weg 9"}
    rng = random.Random(9)
    alphabet = list("aZ ß.-/'ÄöüéÈçØıİΣσ̈0129ⅫＡ²\u00a0,") + [" "] * 6
    streets |= {"".join(rng.choice(alphabet) for _ in range(rng.randint(1, 14))) for _ in range(20_000)}
    for street in streets:
        assert _folded_street(street) == fold_uncached(street), street
    assert RowFeatures.of(line(last_name="X", street="Hauptstraße 5", postcode="10115")).address == (
        "DE|10115|hauptstrasse 5"
    )


def test_features_read_alike_from_a_validated_line_and_one_built_as_the_plain_path_builds_it() -> None:
    validated = line(**(ANNA | {"client_case_number": "K-7"}))
    built = constructed_line({k: v for k, v in validated.__dict__.items() if k in validated.model_fields_set})
    a, b = RowFeatures.of(validated), RowFeatures.of(built)
    assert a.keys == b.keys and a.identity == b.identity and a.address == b.address and a.birth_date == b.birth_date
    assert "ref:k-7" in a.keys and "dob:1980-04-01|a" in a.keys


def test_a_row_tag_is_the_import_and_the_row_in_nine_digits() -> None:
    for row in [0, 1, 7, 42, 999_999_999, 1_000_000_000, 12_345_678_901, -1, *range(100, 100_000, 997)]:
        assert tag_for("imp", row) == f"imp#{row:09d}"


def test_a_name_s_tokens_are_sorted_whatever_the_column_and_however_many() -> None:
    """One token each is joined in order without a split and a sort; more (or a blank given name) the general way:
    both as ``norm.name_tokens`` gives them, which the index's name keys and an erasure's keys are built from."""
    names = [("Anna", "Schmidt"), ("Schmidt", "Anna"), ("Anna", "Anna"), ("", "Weber"), ("Anna Lena", "Weber"),
             ("Zoe", "de la Cruz"), ("Émile", "Zola"), ("Ann-Kathrin", "Abel"), ("A", "B")]  # fmt: skip
    for given, family in names:
        f = RowFeatures.of(line(last_name=family, **({"first_name": given} if given else {})))
        assert f.tokens == " ".join(name_tokens(given, family)), (given, family)
