"""Checks against reference implementations, run by hand in their own environments."""
