"""StateSource: the Protocol of what probing reads from a store."""

from __future__ import annotations

import numpy as np

from probe_rnn.capture.store import StateStore
from probe_rnn.probing import ProbeSettings, StateSource, probe_stores
from tests.unit.probing.probing_support import ArrayStore, meta_for


def test_stores_and_array_sources_are_state_sources(lstm_stores) -> None:
    assert isinstance(lstm_stores["trained"], StateStore)
    assert isinstance(lstm_stores["trained"], StateSource)
    rng = np.random.default_rng(0)
    y = rng.integers(0, 2, size=60)
    source = ArrayStore(meta_for([f"s{i}" for i in range(60)], [str(v) for v in y]),
                        {"v": np.c_[y + rng.normal(scale=0.1, size=60), rng.normal(size=60)]})
    assert isinstance(source, StateSource)
    found = probe_stores({"trained": source}, ProbeSettings(views=["v"], tasks=["label"],
                                                            folds=3, mdl=False, control=False))
    accuracy = found.table.query("metric == 'accuracy'")["value"].iloc[0]
    assert accuracy > 0.9  # the label is planted in column 0
    assert not isinstance(object(), StateSource)
