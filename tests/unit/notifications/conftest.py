"""Unit tests of services/notifications: rendering (golden files), SMS, letters and provider outcomes.

Fixtures shared by the tests of this folder go here."""
