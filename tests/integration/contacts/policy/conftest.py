"""Integration tests of the contact policy: the gate through the API, the schedule, delivery outcomes.

Fixtures shared by the tests of this folder go here."""
