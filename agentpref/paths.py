"""Paths that come from data files: resolved, and kept inside the folder they belong to."""
