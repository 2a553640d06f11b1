"""Data protection in contacts: restriction and objection (GDPR Art. 18 and 21)."""
