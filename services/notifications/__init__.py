"""Notifications service: renders and sends the e-mails the other services' events call for."""
