"""StoreManifest is manifest.json: a captured store's file is exactly the typed manifest's
to_dict (keys in the writer's order), a manifest written before reads back unchanged (so the
journal identity hashed from it stays the same), and bad manifests are one-line StoreErrors."""

from __future__ import annotations

import hashlib
import json

import pytest

from probe_rnn.capture.manifest import (
    MANIFEST,
    STORE_FORMAT,
    STORE_FORMAT_VERSION,
    StoreManifest,
    ViewSpec,
    describe_kernel_check,
    kernel_error,
)
from probe_rnn.capture.run_capture import capture_states
from probe_rnn.capture.store import StateStore
from probe_rnn.errors import StoreError
from probe_rnn.probing.cells import store_identity
from tests.unit.capture.store_support import make_bundle, make_table

#: The key order the writer has always used (store_writer before StoreManifest).
WRITER_ORDER = ["format", "format_version", "created", "versions", "model", "data", "module",
                "module_type", "dtype", "capture", "kernel_check", "views", "files", "sha256"]


def test_a_captured_store_writes_the_typed_manifest(tmp_path) -> None:
    store = capture_states(make_bundle(), make_table(), tmp_path / "s", batch_size=8)
    text = (tmp_path / "s" / MANIFEST).read_text()
    parsed = json.loads(text)
    assert list(parsed) == WRITER_ORDER
    assert list(parsed["views"]["output@last"]) == ["file", "kind", "shape", "dtype"]
    assert store.manifest.to_dict() == parsed and text == json.dumps(parsed, indent=2)
    assert isinstance(store.manifest.views["output@last"], ViewSpec)
    assert store.manifest.n_rows == len(make_table()) == store.n_rows
    assert store.dims["output@last"] == parsed["views"]["output@last"]["shape"][-1]
    # the journal identity is the hash of the file's JSON, as before the typed manifest
    old = hashlib.sha256(json.dumps(parsed, sort_keys=True).encode()).hexdigest()
    assert store_identity(store) == old == store_identity(StateStore(tmp_path / "s"))


def test_an_old_manifest_round_trips_without_gaining_keys() -> None:
    old = {"format": STORE_FORMAT, "format_version": 1, "data": {"rows": 2, "tokens": 5},
           "views": {"h": {"file": "views/h.npy", "kind": "sentence", "shape": [2, 3]}},
           "files": {"meta": "meta.parquet"}, "from_a_fork": 1}
    manifest = StoreManifest.from_dict(json.loads(json.dumps(old)))
    assert manifest.sha256 is None and manifest.views["h"].dtype is None
    assert manifest.kernel_check is None and manifest.max_kernel_error is None  # not recorded
    assert json.dumps(manifest.to_dict()) == json.dumps(old)


def test_the_kernel_check_is_described_from_the_manifest() -> None:
    check = {"max_abs_error": 2.9802322e-08, "outputs": {"output": 0.0, "h_n": 2.9802322e-08},
             "rows": 64}
    manifest = StoreManifest.from_dict({"format": STORE_FORMAT, "kernel_check": check,
                                        "views": {"h": {"file": "h", "kind": "sentence",
                                                        "shape": [2, 3]}}})
    assert manifest.max_kernel_error == 2.9802322e-08
    assert manifest.to_dict()["kernel_check"] == check
    assert kernel_error(check) == "2.98e-08" and kernel_error(None) == "not recorded"
    assert describe_kernel_check(check) == ("largest |difference| from the fused kernel "
                                            "2.98e-08 (output, h_n over 64 rows)")
    assert describe_kernel_check(None).startswith("no fused-kernel check recorded")


@pytest.mark.parametrize(("manifest", "needle"), [
    ({"format": "other"}, "not a probe-rnn state store manifest"),
    ({"format": STORE_FORMAT, "format_version": STORE_FORMAT_VERSION + 1, "views": {}},
     "written by a newer probe-rnn"),
    ({"format": STORE_FORMAT, "views": {"h": {"file": "x", "kind": "sentence"}}},
     "lists no views"),
])
def test_bad_manifests_are_one_line_store_errors(tmp_path, manifest, needle) -> None:
    (tmp_path / MANIFEST).write_text(json.dumps(manifest))
    with pytest.raises(StoreError, match=needle) as info:
        StateStore(tmp_path)
    assert "\n" not in str(info.value)
