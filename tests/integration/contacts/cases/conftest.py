"""Integration tests of the cases side: case files, contact points, consumers, concurrency.

Fixtures shared by the tests of this folder go here."""
