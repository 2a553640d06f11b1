"""Unit tests of services/enrichment: due dates, providers, budget and offline checks.

Fixtures shared by the tests of this folder go here."""
