"""Integration tests of services/notifications: e-mails through SES, channels, deliveries.

Fixtures shared by the tests of this folder go here."""
