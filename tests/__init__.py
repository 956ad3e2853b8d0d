"""The probe-rnn test suite as a package: helpers are imported as ``tests.<folder>.<module>``."""
