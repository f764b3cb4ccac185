"""Ratings of policy versions from blind pairwise battles (pure numpy; no database here)."""
