"""capture_states: what it writes agrees with the model's own forward; interruption, reuse and
recapture; unpacked and cell-loop models; bad arguments; memory bounded in the rows."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import torch

from probe_rnn.capture.run_capture import capture_states
from probe_rnn.capture.store import StateStore
from probe_rnn.data.tokenizers import Tokenizer
from probe_rnn.errors import ConfigError, StoreError
from probe_rnn.models.bundle import ModelBundle
from tests.unit.capture.store_support import ForwardSpy, make_bundle, make_table


def test_store_agrees_with_the_models_own_forward(tmp_path: Path) -> None:
    """Independent of ``record``: the module's own output and the model's own predictions."""
    bundle, df = make_bundle(), make_table()
    store = capture_states(bundle, df, tmp_path / "s", dtype="float32", batch_size=5)
    texts = df["text"].tolist()
    ids, lengths = bundle.tokenizer.encode_batch(texts)
    with torch.no_grad():
        output, _ = bundle.model.run_rnn(ids, lengths)
        logits = bundle.model(ids, lengths)
    flat, offsets = store.tokens("output")
    last = np.stack([flat[offsets[i + 1] - 1] for i in range(len(texts))])
    expected_last = output[torch.arange(len(texts)), lengths - 1].numpy()
    np.testing.assert_allclose(last, expected_last, atol=1e-6)
    np.testing.assert_allclose(store.sentence("output@last"), expected_last, atol=1e-6)
    probs = torch.softmax(logits, dim=1)
    meta = store.meta
    assert list(meta.columns[:11]) == ["row", "text", "label", "label_id", "length", "split",
                                       "prediction", "prediction_id", "probability", "correct",
                                       "tokens"]
    assert meta["row"].tolist() == list(range(len(texts)))
    assert meta["prediction_id"].tolist() == logits.argmax(1).tolist()
    np.testing.assert_allclose(meta["probability"], probs.max(1).values.numpy(), atol=1e-6)
    assert meta["prediction"].tolist() == [["x", "y"][i] for i in logits.argmax(1).tolist()]
    assert meta["label_id"].tolist() == [["x", "y"].index(v) for v in df["label"]]
    assert meta["correct"].tolist() == (meta["label"] == meta["prediction"]).tolist()
    assert meta["tokens"].map(list).tolist() == [list(t) for t in texts]
    assert meta["split"].tolist() == df["split"].tolist()
    assert meta["extra"].tolist() == df["extra"].tolist()
    expected_ids = np.concatenate([bundle.tokenizer.encode(t) for t in texts])
    np.testing.assert_array_equal(store.token_ids(), expected_ids)


def test_interrupted_capture_is_not_complete_and_rerun_is_correct(tmp_path: Path) -> None:
    bundle, df = make_bundle(), make_table()
    out = tmp_path / "s"

    def stop_midway(done: int, total: int) -> None:
        if done >= 8:
            raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        capture_states(bundle, df, out, batch_size=4, progress=stop_midway)
    assert not (out / "manifest.json").exists() and not (out / "views").exists()
    with pytest.raises(StoreError, match="not a complete state store"):
        StateStore(out)
    store = capture_states(bundle, df, out, batch_size=4)
    fresh = capture_states(bundle, df, tmp_path / "fresh", batch_size=4)
    for name in fresh.views:
        a = store.sentence(name) if fresh.kind(name) == "sentence" else store.tokens(name)[0]
        b = fresh.sentence(name) if fresh.kind(name) == "sentence" else fresh.tokens(name)[0]
        np.testing.assert_array_equal(a, b)
    pd.testing.assert_frame_equal(store.meta, fresh.meta)


def test_reuse_recompute_and_manifest_last(tmp_path: Path) -> None:
    bundle, df = make_bundle(), make_table()
    out = tmp_path / "s"
    capture_states(bundle, df, out, batch_size=8)
    stamp = (out / "manifest.json").stat().st_mtime_ns
    spy = ForwardSpy(bundle)
    again = capture_states(bundle, df, out, batch_size=8)
    assert spy.calls == 0 and (out / "manifest.json").stat().st_mtime_ns == stamp
    assert again.n_rows == len(df)
    changed = df.copy()
    changed.loc[0, "label"] = "x" if df.loc[0, "label"] == "y" else "y"
    store = capture_states(bundle, changed, out, batch_size=8)
    assert spy.calls == 3 and store.meta["label"].tolist() == changed["label"].tolist()
    store = capture_states(bundle, changed, out, views=["output@last", "hidden/L0/fwd@2"],
                           batch_size=8)
    assert spy.calls == 6 and sorted(store.views) == ["hidden/L0/fwd", "output@last"]
    assert sorted(p.name for p in (out / "views").iterdir()) == sorted(
        Path(spec.file).name for spec in store.manifest.views.values())
    (out / "manifest.json").unlink()  # as if killed just before the manifest
    capture_states(bundle, changed, out, views=["output@last", "hidden/L0/fwd@2"], batch_size=8)
    assert spy.calls == 9
    manifest = json.loads((out / "manifest.json").read_text())
    assert manifest["model"]["checksum"] == "test-0" and manifest["data"]["rows"] == len(df)
    assert set(manifest["versions"]) >= {"probe_rnn", "torch"}
    other = make_bundle(seed=1)  # same checkpoint checksum, other weights (a random init)
    other.checksum = bundle.checksum
    spy_other = ForwardSpy(other)
    store = capture_states(other, changed, out, views=["output@last", "hidden/L0/fwd@2"],
                           batch_size=8)
    assert spy_other.calls == 3
    assert store.manifest.model["weights_sha256"] != manifest["model"]["weights_sha256"]


def test_unpacked_model_stores_only_real_tokens(tmp_path: Path) -> None:
    bundle, df = make_bundle(layers=1, bidirectional=True, packed=False), make_table()
    store = capture_states(bundle, df, tmp_path / "s", dtype="float32", batch_size=64)
    ids, lengths = bundle.tokenizer.encode_batch(df["text"].tolist())
    with torch.no_grad():
        output, _ = bundle.model.run_rnn(ids, lengths)  # ran over the padding
    flat, offsets = store.tokens("output")
    np.testing.assert_array_equal(np.diff(offsets), lengths.numpy())
    want = torch.cat([output[i, :n] for i, n in enumerate(lengths.tolist())])
    np.testing.assert_allclose(flat, want.numpy(), atol=1e-6)
    rows = torch.arange(len(df))
    np.testing.assert_allclose(store.sentence("output@last"), output[rows, lengths - 1],
                               atol=1e-6)
    naive = store.sentence("output@-1")
    np.testing.assert_allclose(naive, output[:, -1].numpy(), atol=1e-6)
    short = (lengths < lengths.max()).numpy()
    assert short.any() and (np.abs(naive[short]).sum(axis=1) > 0).all()  # padded states
    mean = torch.stack([output[i, :n].mean(0) for i, n in enumerate(lengths.tolist())])
    np.testing.assert_allclose(store.sentence("mean(output)"), mean.numpy(), atol=1e-6)


class CellLoop(torch.nn.Module):
    """A model that loops ``nn.LSTMCell`` itself over every (padded) step."""

    def __init__(self, vocab: int) -> None:
        super().__init__()
        self.emb = torch.nn.Embedding(vocab, 4, padding_idx=0)
        self.cell = torch.nn.LSTMCell(4, 3)
        self.head = torch.nn.Linear(3, 2)

    def steps(self, ids: torch.Tensor) -> list[torch.Tensor]:
        x = self.emb(ids)
        h = c = x.new_zeros(ids.shape[0], 3)
        hs = []
        for t in range(ids.shape[1]):
            h, c = self.cell(x[:, t], (h, c))
            hs.append(h)
        return hs

    def forward(self, ids: torch.Tensor, lengths: torch.Tensor) -> torch.Tensor:
        return self.head(self.steps(ids)[-1])


def test_cell_loop_model_is_captured_per_batch(tmp_path: Path) -> None:
    from probe_rnn.models.adapters import IdsLengthsAdapter

    df = make_table()
    tok = Tokenizer("char").fit(list("abcdefg"))
    torch.manual_seed(0)
    model = CellLoop(len(tok)).eval()
    bundle = ModelBundle(model=model, tokenizer=tok, labels=["x", "y"], config=None, meta={},
                         adapter=IdsLengthsAdapter(tok))
    store = capture_states(bundle, df, tmp_path / "s", dtype="float32", batch_size=7)
    assert store.manifest.module == "cell" and "hidden/L0/fwd" in store.views
    flat, offsets = store.tokens("hidden/L0/fwd")
    texts = df["text"].tolist()
    with torch.no_grad():
        for start in range(0, len(texts), 7):
            ids, lengths = tok.encode_batch(texts[start : start + 7])
            hs = torch.stack(model.steps(ids), dim=1)  # (batch, time, 3)
            for j, n in enumerate(lengths.tolist()):
                lo = offsets[start + j]
                np.testing.assert_allclose(flat[lo : lo + n], hs[j, :n].numpy(), atol=1e-6)


def test_bad_arguments_and_foreign_folders(tmp_path: Path) -> None:
    bundle, df = make_bundle(layers=1, bidirectional=False), make_table(5)
    with pytest.raises(ConfigError, match="dtype"):
        capture_states(bundle, df, tmp_path / "a", dtype="float64")
    with pytest.raises(ConfigError, match="verify"):
        capture_states(bundle, df, tmp_path / "a", verify="sometimes")
    with pytest.raises(ConfigError, match="not available"):
        capture_states(bundle, df, tmp_path / "a", views=["h_n/L3/fwd"])
    with pytest.raises(StoreError, match="no manifest.json"):
        StateStore(tmp_path / "missing")
    (tmp_path / "b").mkdir()
    (tmp_path / "b" / "manifest.json").write_text('{"format": "something-else"}')
    with pytest.raises(StoreError, match="not a probe-rnn state store"):
        capture_states(bundle, df, tmp_path / "b")
    store = capture_states(bundle, df, tmp_path / "c")
    assert "cell/L0/fwd" in store.views and "hidden/L0/bwd" not in store.views
    assert "StateStore" in repr(store) and "<table>" in store._repr_html_()


_MEMORY_SCRIPT = textwrap.dedent("""
    import resource, sys, tempfile
    import numpy as np, pandas as pd, torch
    sys.path.insert(0, {root!r})
    from tests.unit.capture.store_support import make_bundle
    from probe_rnn.capture.run_capture import capture_states
    rows = int(sys.argv[1])
    rng = np.random.default_rng(0)
    texts = ["".join(rng.choice(list("abcdefg"), size=40)) for _ in range(rows)]
    df = pd.DataFrame({{"text": texts, "label": ["x", "y"] * (rows // 2)}})
    bundle = make_bundle(hidden=32)
    with tempfile.TemporaryDirectory() as tmp:
        capture_states(bundle, df.head(256), tmp + "/warm", dtype="float32", batch_size=64)
        base = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
        store = capture_states(bundle, df, tmp + "/s", dtype="float32", batch_size=64)
        peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
        size = sum(p.stat().st_size for p in (store.path / "views").iterdir())
    print(peak - base, size // 1024)
""")


def test_memory_does_not_grow_with_rows(tmp_path: Path) -> None:
    script = tmp_path / "mem.py"
    script.write_text(_MEMORY_SCRIPT.format(root=str(Path(__file__).parents[3])))
    growth = {}
    for rows in (500, 2000):
        proc = subprocess.run([sys.executable, str(script), str(rows)], capture_output=True,
                              text=True, timeout=600, check=True,
                              env={**os.environ, "OMP_NUM_THREADS": "1"})
        growth[rows] = [int(v) for v in proc.stdout.split()]
    (small_rss, small_kb), (big_rss, big_kb) = growth[500], growth[2000]
    # the store grows by ~4x (tens of MB); peak memory may not follow it
    assert big_kb > 3.5 * small_kb and big_kb - small_kb > 30_000
    assert big_rss - small_rss < 0.25 * (big_kb - small_kb), growth


def test_a_changed_array_is_recaptured_and_refused_when_read(tmp_path: Path) -> None:
    bundle, df = make_bundle(), make_table()
    out = tmp_path / "s"
    first = capture_states(bundle, df, out, batch_size=8)
    good = np.array(first.sentence("h_n/L0/fwd"))
    path = out / first.manifest.views["h_n/L0/fwd"].file
    noisy = np.load(path, mmap_mode="r+")
    noisy[3] = np.random.default_rng(0).normal(size=noisy.shape[1])  # same size, other bytes
    noisy.flush()
    del noisy
    with pytest.raises(StoreError, match=r"h_n\.L0\.fwd\.npy does not match the checksum"):
        StateStore(out).verify(["h_n/L0/fwd"])
    StateStore(out).verify(["output@last"])  # the other files still match
    notices: list[str] = []
    spy = ForwardSpy(bundle)
    again = capture_states(bundle, df, out, batch_size=8, notice=notices.append)
    assert spy.calls == 3 and len(notices) == 1 and "h_n.L0.fwd.npy" in notices[0]
    np.testing.assert_array_equal(np.asarray(again.sentence("h_n/L0/fwd")), good)
    again.verify()


def test_a_store_without_checksums_is_recaptured_not_trusted(tmp_path: Path) -> None:
    bundle, df = make_bundle(), make_table()
    out = tmp_path / "s"
    capture_states(bundle, df, out, batch_size=8)
    manifest = json.loads((out / "manifest.json").read_text())
    manifest["format_version"] = 1
    del manifest["sha256"]
    (out / "manifest.json").write_text(json.dumps(manifest))
    with pytest.raises(StoreError, match="records no checksums"):
        StateStore(out).verify()
    spy = ForwardSpy(bundle)
    capture_states(bundle, df, out, batch_size=8)
    assert spy.calls == 3 and "sha256" in json.loads((out / "manifest.json").read_text())
