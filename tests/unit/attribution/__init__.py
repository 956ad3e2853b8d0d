"""Unit tests of ``probe_rnn.attribution``."""
