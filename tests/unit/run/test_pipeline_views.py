"""run_pipeline checks every requested view against the model's module before any work."""

from __future__ import annotations

import pandas as pd
import pytest

from probe_rnn.errors import ConfigError
from probe_rnn.models import train
from probe_rnn.run.pipeline import run_pipeline
from probe_rnn.run.settings import RunSettings

DF = pd.DataFrame({"text": ["ab", "ba", "abc", "cab", "bca", "ca"] * 4,
                   "label": ["p", "q", "p", "q", "q", "p"] * 4})


@pytest.mark.parametrize(("rnn", "view", "needle"), [
    ("rnn", "gate/L0/fwd/r@-1", "not available"),  # nn.RNN has no gates at all
    ("gru", "gate/L0/fwd/f", "not available"),
    ("lstm", "gate/L1/fwd/f", "not available"),
])
def test_a_gate_the_module_lacks_is_refused_before_any_file(tmp_path, rnn, view, needle) -> None:
    bundle = train(DF, rnn=rnn, hidden=4, embedding_dim=4, epochs=1).bundle
    out = tmp_path / "run"
    with pytest.raises(ConfigError, match=needle) as info:
        run_pipeline(bundle, DF, out, RunSettings(
            views=["output@last", view], tasks=["label"], probes=["logistic"], folds=2,
            umap=False, attribution_rows=0))
    assert len(str(info.value).splitlines()) == 1 and view in str(info.value)
    assert not out.exists()
