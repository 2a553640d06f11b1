"""Imports service: case files dropped into S3 become case owners, cases and contact points."""
