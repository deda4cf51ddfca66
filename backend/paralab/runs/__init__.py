"""Runs: the persistent history (SQLite) and its exports."""
