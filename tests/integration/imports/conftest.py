"""Integration tests of services/imports: drops into S3 through to the bus, resumption, bad input.

Fixtures shared by the tests of this folder go here."""
