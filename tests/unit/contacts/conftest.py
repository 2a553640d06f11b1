"""Unit tests of services/contacts: the HTTP edge, identities and pagination shared by both sides.

Fixtures shared by the tests of this folder go here."""
