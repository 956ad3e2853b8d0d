"""Unit tests of ``probe_rnn.probing``."""
