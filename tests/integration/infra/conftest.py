"""Integration tests of infra/: the local stack's fidelity to AWS and the CLI.

Fixtures shared by the tests of this folder go here."""
