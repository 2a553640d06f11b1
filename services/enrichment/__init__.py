"""Enrichment service: skip tracing of stale cases on a schedule, with a cost ledger."""
