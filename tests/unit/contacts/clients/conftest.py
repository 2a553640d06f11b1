"""Unit tests of services/contacts/clients: the client rules (business units, portfolios, rights, settings).

Fixtures shared by the tests of this folder go here."""
