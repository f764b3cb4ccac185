"""Fixtures for these tests come from tests/live.py, loaded for the whole suite."""
