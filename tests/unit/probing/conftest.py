"""Fixtures of the probing tests (helpers live in probing_support.py, importable by name)."""

from tests.unit.probing.probing_support import lstm_stores  # noqa: F401
