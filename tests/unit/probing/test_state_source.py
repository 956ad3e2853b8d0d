"""StateSource: the Protocol of what probing reads from a store; a source's journal identity
is the hash of its manifest, or its object id without one."""

from __future__ import annotations

import hashlib
import json

import numpy as np
import pytest

from probe_rnn.capture.store import StateStore
from probe_rnn.probing import ProbeSettings, StateSource, probe_stores, run_probes
from probe_rnn.probing.cells import store_identity
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


class _Manifest:
    def __init__(self, data: dict) -> None:
        self.data = data

    def to_dict(self) -> dict:
        return dict(self.data)


def _source(manifest: object = None) -> ArrayStore:
    rng = np.random.default_rng(1)
    y = rng.integers(0, 2, size=60)
    source = ArrayStore(meta_for([f"s{i}" for i in range(60)], [str(v) for v in y]),
                        {"v": np.c_[y + rng.normal(scale=0.5, size=60), rng.normal(size=60)]})
    if manifest is not None:
        source.manifest = manifest  # type: ignore[attr-defined]
    return source


@pytest.mark.parametrize("member", ["views", "meta", "kind", "tokens", "sentence_masked"])
def test_an_object_without_one_member_is_not_a_state_source(member: str) -> None:
    members = {"views": [], "meta": None, "kind": lambda self, n: "sentence",
               "tokens": lambda self, n: None, "sentence_masked": lambda self, n: None}
    complete = type("Complete", (), members)()
    partial = type("Partial", (), {k: v for k, v in members.items() if k != member})()
    assert isinstance(complete, StateSource)
    assert not isinstance(partial, StateSource)


def test_a_source_with_a_manifest_has_the_manifests_hash_as_identity() -> None:
    manifest = {"format": "x", "rows": 60, "sha256": {"a.npy": "00"}}
    want = hashlib.sha256(json.dumps(manifest, sort_keys=True).encode()).hexdigest()
    assert store_identity(_source(manifest)) == want
    assert store_identity(_source(_Manifest(manifest))) == want  # an object with to_dict()
    assert store_identity(_source({**manifest, "rows": 61})) != want
    bare = _source()
    assert store_identity(bare) == f"unsaved:{id(bare)}"


def test_cells_of_a_source_are_reused_only_through_a_manifest(tmp_path) -> None:
    kw = {"views": ["v"], "tasks": ["label"], "folds": 3, "mdl": False, "control": False}
    manifest = {"format": "planted", "seed": 1}
    first = run_probes({"trained": _source(manifest)}, journal=tmp_path / "a", **kw)
    again = run_probes({"trained": _source(manifest)}, journal=tmp_path / "a", **kw)
    assert first.attrs["cells"] == 1 and again.attrs["reused_cells"] == 1
    one, two = _source(), _source()  # both alive: their ids differ
    run_probes({"trained": one}, journal=tmp_path / "b", **kw)
    other = run_probes({"trained": two}, journal=tmp_path / "b", **kw)
    assert other.attrs["reused_cells"] == 0  # another object: another identity
