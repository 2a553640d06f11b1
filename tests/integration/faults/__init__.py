"""Fault suite: handlers killed between their last write and their publish, then retried (issues 10 and 16)."""
