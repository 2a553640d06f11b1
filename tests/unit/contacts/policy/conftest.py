"""Unit tests of services/contacts/policy: the contact policy rules.

Fixtures shared by the tests of this folder go here."""
