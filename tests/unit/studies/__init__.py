"""Unit tests of ``probe_rnn.studies``."""
