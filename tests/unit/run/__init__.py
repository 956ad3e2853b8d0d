"""Unit tests of ``probe_rnn.run``."""
