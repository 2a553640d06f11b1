"""Contacts service: clients, users, settings, case owners, cases and contact points."""
