"""Unit tests of ``probe_rnn.interventions``."""
