"""Unit tests of ``probe_rnn.report``."""
