"""A foreign model's classes default to 0..n-1: data labelled neg/pos is refused with the flag
that names them (`--labels`), not only 'check the checkpoint'."""

from __future__ import annotations

from types import SimpleNamespace

import pandas as pd
import pytest

from probe_rnn.errors import DataError, Mention
from probe_rnn.run.inputs import check_labels


def test_labels_none_of_the_models_point_at_the_labels_flag() -> None:
    bundle = SimpleNamespace(labels=["0", "1"])
    df = pd.DataFrame({"label": ["neg", "pos", "neg"]})
    with pytest.raises(DataError) as caught:
        check_labels(bundle, df, print)
    assert Mention("labels", "neg,pos") in caught.value.parts  # the CLI: --labels neg,pos
