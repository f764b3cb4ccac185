"""Importing preference data: JSON Lines parsers per format and the transactional bulk writer."""
