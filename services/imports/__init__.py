"""Imports service: case files dropped into S3 become case owners, cases and contact points."""

import shared  # noqa: F401  # chooses the compiled core or the Python modules before any of them is imported
