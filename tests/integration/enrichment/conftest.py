"""Integration tests of services/enrichment: the schedule, the bus copies, the bureau adapter.

Fixtures shared by the tests of this folder go here."""
