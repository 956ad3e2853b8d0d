"""StateStore reads what capture wrote: views equal direct recording, positions index exactly,
the manifest's checksums match every file."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch

from probe_rnn.capture.recorder import record
from probe_rnn.capture.run_capture import capture_states
from probe_rnn.capture.views import sentence_view
from probe_rnn.errors import StoreError
from probe_rnn.models.bundle import ModelBundle
from tests.unit.capture.store_support import make_bundle, make_table


def reference(bundle: ModelBundle, texts: list[str], batch_size: int) -> list[tuple]:
    """States of each batch computed directly with ``record`` (no store involved), in one
    block as capture does (so the first call is the checked one, later ones replay)."""
    batches = []
    with torch.no_grad(), record(bundle.model, modules=["rnn"], verify="first") as rec:
        for start in range(0, len(texts), batch_size):
            batch = bundle.adapter.encode(texts[start : start + batch_size])
            logits = bundle.adapter.forward(bundle.model, batch)
            st = rec["rnn"]
            batches.append((batch, logits, st.hidden, st.cell, st))
    return batches


@pytest.mark.parametrize("dtype", ["float32", "float16"])
def test_round_trip_matches_direct_record(tmp_path: Path, dtype: str) -> None:
    bundle, df = make_bundle(), make_table()
    store = capture_states(bundle, df, tmp_path / "s", dtype=dtype, batch_size=7)
    tol = {"atol": 0, "rtol": 0} if dtype == "float32" else {"atol": 2e-3, "rtol": 2e-3}
    texts = df["text"].tolist()
    offsets = store.offsets()
    assert store.n_rows == len(df) and offsets[-1] == sum(len(t) for t in texts)
    for i, (batch, _, hidden, cell, st) in enumerate(reference(bundle, texts, 7)):
        rows = slice(7 * i, 7 * i + len(batch["lengths"]))
        for name in ("output@last", "output@-1", "h_n/L1/bwd", "c_n/L0/fwd", "mean(output)"):
            want = sentence_view(st, name).float().numpy()
            np.testing.assert_allclose(store.sentence(name)[rows].astype(np.float32), want, **tol)
        for j, length in enumerate(batch["lengths"].tolist()):
            row = 7 * i + j
            lo, hi = offsets[row], offsets[row + 1]
            assert hi - lo == length == len(texts[row])
            for layer in range(2):
                for d, dname in enumerate(("fwd", "bwd")):
                    flat, _ = store.tokens(f"hidden/L{layer}/{dname}")
                    np.testing.assert_allclose(flat[lo:hi].astype(np.float32),
                                               hidden[j, :length, layer, d].numpy(), **tol)
                    flat, _ = store.tokens(f"cell/L{layer}/{dname}")
                    np.testing.assert_allclose(flat[lo:hi].astype(np.float32),
                                               cell[j, :length, layer, d].numpy(), **tol)
    assert store.manifest.views["output"].dtype == dtype
    assert store.kind("output") == "token" and store.kind("h_n/L0/fwd") == "sentence"


def test_at_t_views_equal_direct_indexing(tmp_path: Path) -> None:
    bundle, df = make_bundle(), make_table()
    store = capture_states(bundle, df, tmp_path / "s", dtype="float32", batch_size=64)
    texts = df["text"].tolist()
    ids, lengths = bundle.tokenizer.encode_batch(texts)
    with torch.no_grad(), record(bundle.model, modules=["rnn"]) as rec:
        bundle.model(ids, lengths)
        hidden = rec["rnn"].hidden
    for t in (0, 3, -1, -4):
        values, mask = store.sentence_masked(f"hidden/L0/bwd@{t}")
        want_mask = (lengths > t) if t >= 0 else (lengths >= -t)
        np.testing.assert_array_equal(mask, want_mask.numpy())
        for row in np.flatnonzero(mask):
            step = t if t >= 0 else int(lengths[row]) + t
            np.testing.assert_array_equal(values[row], hidden[row, step, 0, 1].numpy())
        assert np.isnan(values[~mask]).all()
    # identities of a packed LSTM: the last step's forward h is h_n, the first step's bwd c is c_n
    np.testing.assert_allclose(store.sentence("hidden/L1/fwd@-1"), store.sentence("h_n/L1/fwd"),
                               atol=1e-6)
    np.testing.assert_allclose(store.sentence("cell/L0/bwd@0"), store.sentence("c_n/L0/bwd"),
                               atol=1e-6)
    assert store.kind("hidden/L0/bwd@3") == "sentence"
    with pytest.raises(StoreError, match="not in the store"):
        store.sentence("hidden/L7/fwd@0")


def test_manifest_records_the_sha256_of_every_file(tmp_path: Path) -> None:
    import hashlib

    out = tmp_path / "s"
    store = capture_states(make_bundle(), make_table(), out, batch_size=8)  # 3 batches, in order
    on_disk = {str(p.relative_to(out)): hashlib.sha256(p.read_bytes()).hexdigest()
               for p in out.rglob("*") if p.is_file() and p.name != "manifest.json"}
    assert store.manifest.sha256 == on_disk
    store.verify()
    assert store.damaged() is None
