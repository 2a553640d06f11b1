"""Integration tests of services/contacts through its API and bus consumer, on moto's server.

Fixtures shared by the tests of this folder go here."""
