"""Browser and live-server fixtures come from tests/live.py, loaded for the whole suite."""
