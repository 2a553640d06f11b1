"""Unit tests of infra/: the SAM template and the one declaration of each function's environment.

Fixtures shared by the tests of this folder go here."""
