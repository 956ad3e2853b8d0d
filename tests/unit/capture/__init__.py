"""Unit tests of ``probe_rnn.capture``."""
