"""Unit tests of ``probe_rnn.commands``."""
