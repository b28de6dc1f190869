"""Placeholder until the CSV/JSONL connectors land (issue 2)."""
