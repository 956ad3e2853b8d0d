"""Unit tests of ``probe_rnn.models``."""
