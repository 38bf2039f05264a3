"""Bundled models and their held-out test splits (package data)."""
