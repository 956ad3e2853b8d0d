"""Unit tests: ``tests/unit/<package>/test_<module>.py`` mirrors ``probe_rnn/<package>/<module>``.
"""
