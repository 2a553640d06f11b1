"""Unit tests of services/contacts/cases: contact point rules, observations, attachments, case lifecycle.

Fixtures shared by the tests of this folder go here."""
