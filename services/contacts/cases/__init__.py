"""Cases side of contacts: case owners, cases, contact points, notes, attachments and the audit trail."""
