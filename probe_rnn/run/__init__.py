"""The ``probe`` run: one home for what turns a model and a table into a run folder.

In the order a run goes: ``settings`` (:class:`~probe_rnn.run.settings.RunSettings`, what to
compute, validated once) -> ``out_folder`` and ``lock`` (claim the folder, one run at a time)
-> ``inputs`` (every name, label and card checked before any work) -> ``stages`` (capture,
diagnosis, probing, attribution, report; each a function of the run's context) ->
``bookkeeping`` (what each stage leaves, what a previous run left reusable, ``run.json``'s stage
records) -> ``pipeline`` (:func:`~probe_rnn.run.pipeline.probe` and
:func:`~probe_rnn.run.pipeline.probe`, the stages in sequence) -> ``demo`` (the bundled
demo, the same run on the bundled names model).

The run folder's layout (file names, ``run.json``) is :mod:`probe_rnn.run_folder`, below every
stage, since the report reads what the run wrote.
"""
