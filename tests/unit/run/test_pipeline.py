"""probe() runs the model once per row for capture and diagnosis, and encodes each text
once: the diagnosis it writes is the capture's, measured on the very states it stored. It
checks every requested view against the model's module before any work."""

from __future__ import annotations

import pandas as pd
import pytest

from probe_rnn.capture import diagnose
from probe_rnn.errors import ConfigError
from probe_rnn.models import Architecture, TrainBudget, train
from probe_rnn.models.batch_dependence import check_batch_dependence
from probe_rnn.run.pipeline import probe
from probe_rnn.run.settings import RunSettings

DF = pd.DataFrame({"text": ["ab", "ba", "abc", "cab", "bcab", "ca", "a", "bbbbca"] * 5,
                   "label": ["p", "q", "p", "q", "q", "p", "q", "p"] * 5})


def test_capture_and_diagnosis_run_the_model_once_per_row(tmp_path) -> None:
    bundle = train(DF, Architecture(rnn="lstm", layers=2, bidirectional=True, hidden=4,
                                embedding_dim=4), TrainBudget(epochs=1), seed=0).bundle
    # the batch-dependence check's few extra forwards run before any work, and once: run it
    # here, so that the pipeline's capture and diagnosis alone are counted below
    assert check_batch_dependence(bundle, DF["text"])["per_row"] is True
    forwarded: list[int] = []
    bundle.model.register_forward_pre_hook(
        lambda module, args: forwarded.append(int(args[0].shape[0])))
    encoded: list[int] = []
    encode = bundle.adapter.encode
    bundle.adapter.encode = lambda texts: (encoded.append(len(texts)), encode(texts))[1]
    out = tmp_path / "run"
    probe(bundle, DF, out, RunSettings(
        views=["output@last", "h_n/L1/fwd"], tasks=["label"], probes=["logistic"], folds=2,
        umap=False, attribution_rows=0, random_baseline=False, report=False,
        keep_duplicates=True, interventions=False))  # 8 texts x 5: every held-out row
    # repeats a training text; the interventions stage, which runs the model again, is off
    captured = pd.read_parquet(out / "states" / "meta.parquet")
    assert sum(forwarded) == len(captured) == len(DF)
    assert sum(encoded) == len(DF)

    del bundle.adapter.encode  # the adapter's own again
    written = pd.read_csv(out / "diagnosis.csv")
    alone = diagnose(bundle, captured[["text"]], batch_size=256)  # the capture's batches
    assert list(written["check"]) == list(alone["check"])
    pd.testing.assert_series_equal(written["value"], alone["value"], check_exact=False,
                                   rtol=1e-12, atol=0)
    assert list(written["explanation"]) == list(alone["explanation"])


VIEWS_DF = pd.DataFrame({"text": ["ab", "ba", "abc", "cab", "bca", "ca"] * 4,
                   "label": ["p", "q", "p", "q", "q", "p"] * 4})


@pytest.mark.parametrize(("rnn", "view", "needle"), [
    ("rnn", "gate/L0/fwd/r@-1", "not available"),  # nn.RNN has no gates at all
    ("gru", "gate/L0/fwd/f", "not available"),
    ("lstm", "gate/L1/fwd/f", "not available"),
])
def test_a_gate_the_module_lacks_is_refused_before_any_file(tmp_path, rnn, view, needle) -> None:
    bundle = train(VIEWS_DF, Architecture(rnn=rnn, hidden=4, embedding_dim=4),
                   TrainBudget(epochs=1)).bundle
    out = tmp_path / "run"
    with pytest.raises(ConfigError, match=needle) as info:
        probe(bundle, VIEWS_DF, out, RunSettings(
            views=["output@last", view], tasks=["label"], probes=["logistic"], folds=2,
            umap=False, attribution_rows=0))
    assert len(str(info.value).splitlines()) == 1 and view in str(info.value)
    assert not out.exists()
