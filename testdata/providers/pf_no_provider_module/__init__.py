"""Fixture provider package: no provider.py at all."""
