"""Fixture provider package: no get_adapter_impl()."""
