"""Clients side of contacts: business units, clients, client users and their settings."""
