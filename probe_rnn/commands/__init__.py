"""The commands of the ``probe-rnn`` CLI (:mod:`probe_rnn.cli` registers them on its app).

``models`` (plugins, datasets, train, inspect), ``runs`` (probe, demo, report,
compare-readouts), ``states`` (capture, attribute); ``common`` holds the shared options,
loaders and consoles, ``output`` how results are printed.
"""
