"""Fixtures of the models tests (helpers live in models_support.py, importable by name)."""

from tests.unit.models.models_support import bundle, tokenizer  # noqa: F401
