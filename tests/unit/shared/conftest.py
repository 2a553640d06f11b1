"""Unit tests of shared/: the event catalogue and the bus client.

Fixtures shared by the tests of this folder go here."""
