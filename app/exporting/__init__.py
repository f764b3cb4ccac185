"""Exporting labels: the row builders, majority aggregation, and streaming JSONL and Parquet writers."""
