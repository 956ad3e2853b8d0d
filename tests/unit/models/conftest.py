"""Fixtures of the models tests (helpers live in models_support.py, importable by name)."""

from models_support import _one_torch_thread, bundle, tokenizer  # noqa: F401
