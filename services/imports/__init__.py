"""Imports service: case files dropped into S3 become case owners, cases and contact points."""

from services.imports import compiled

# The compiled core where it was built from these very sources, else the Python modules (see ``compiled``).
compiled.install()
