"""Integration tests of the clients side: business units, clients, users and their rights.

Fixtures shared by the tests of this folder go here."""
