"""Unit tests of ``probe_rnn.data``."""
