"""Integration tests of shared/: the bus, the outbox and consumers reading events of another version.

Fixtures shared by the tests of this folder go here."""
