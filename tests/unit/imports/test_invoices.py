"""The run's scratch index of invoice numbers first seen (``services.imports.invoices``)."""

from __future__ import annotations

import os

from services.imports.invoices import LOOKUP_CHUNK, InvoicesSeen


def test_first_rows_answers_the_known_keys_with_their_first_row_and_line() -> None:
    with InvoicesSeen() as seen:
        seen.remember({"inv-1": (2, 3), "inv-2": (5, 7)})
        assert seen.first_rows(["inv-2", "inv-3", "inv-1", "inv-2"]) == {"inv-1": (2, 3), "inv-2": (5, 7)}


def test_a_key_remembered_again_keeps_its_earliest_row_in_whatever_order_they_come() -> None:
    # A resumed stage rebuilds the index from the staged rows, which come back in case-owner order.
    with InvoicesSeen() as seen:
        seen.remember([("inv-1", 40, 41), ("inv-2", 9, 10)])
        seen.remember([("inv-1", 12, 13), ("inv-2", 30, 31), ("inv-1", 20, 21)])
        assert seen.first_rows(["inv-1", "inv-2"]) == {"inv-1": (12, 13), "inv-2": (9, 10)}
        assert len(seen) == 2


def test_more_keys_than_one_statement_binds_are_looked_up_in_chunks() -> None:
    keys = [f"inv-{n}" for n in range(3 * LOOKUP_CHUNK + 7)]
    with InvoicesSeen() as seen:
        seen.remember({k: (n, n + 1) for n, k in enumerate(keys) if n % 2 == 0})
        found = seen.first_rows(keys)
    assert found == {k: (n, n + 1) for n, k in enumerate(keys) if n % 2 == 0}


def test_the_scratch_file_is_gone_after_the_run_even_when_it_failed() -> None:
    try:
        with InvoicesSeen() as seen:
            path = seen.path
            assert os.path.exists(path)
            raise RuntimeError("the run dies")
    except RuntimeError:
        pass
    assert not os.path.exists(path)
