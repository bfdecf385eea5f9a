"""Generators of the package's data files from published sources (run by hand, never at run time)."""
