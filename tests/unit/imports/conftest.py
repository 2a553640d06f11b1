"""Unit tests of services/imports: parsing, normalising, validating and matching debtor files.

Fixtures shared by the tests of this folder go here."""
