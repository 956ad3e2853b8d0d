"""Capture shards: consecutive rows of one capture, written by a Dask worker.

With a ``client`` (:mod:`probe_rnn.cluster`), :func:`~probe_rnn.capture.capture_states` captures the
first batch itself (which sizes and preallocates every file), then sends the other rows in
shards of whole batches (so ``output@-1``, which depends on the batch, is what a local capture
gives). A shard's worker loads the model once (from the bundle's ``origin``: the checkpoint's
path and loading options; a model built in memory is shipped by value), checks that its
weights are the client's, writes its rows straight into the store's preallocated arrays and
its sentence rows into ``meta.shard-K.arrows.part``. The client writes the manifest once every
shard is in, with checksums read from the files.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from probe_rnn.capture.store_writer import NpyFile, StoreWriter
from probe_rnn.errors import CaptureError

if TYPE_CHECKING:
    from probe_rnn.models import ModelBundle

_BUNDLES: dict[str, Any] = {}  # per worker process: each model is loaded once
_WEIGHTS: dict[int, str] = {}


def shard_ranges(n_rows: int, first: int, batch_size: int, workers: int) -> list[range]:
    """Rows ``first..n_rows`` in about four shards per worker, each a whole number of
    batches (the last one may be shorter)."""
    if first >= n_rows:
        return []
    batches = -(-(n_rows - first) // batch_size)
    per = max(1, -(-batches // max(1, 4 * workers)))
    step = per * batch_size
    return [range(a, min(a + step, n_rows)) for a in range(first, n_rows, step)]


def shard_source(bundle: ModelBundle, client: Any) -> Any:
    """What a shard task gets to find the model: its origin, or the bundle scattered once to
    every worker."""
    if getattr(bundle, "origin", None) is not None:
        return bundle.origin
    return client.scatter(bundle, broadcast=True, hash=False)


def _load(origin: dict[str, Any]) -> Any:
    from probe_rnn.models import build_random_init, load_model

    if "random_init" in origin:
        return build_random_init(_load(origin["random_init"]), seed=origin["seed"])
    return load_model(origin["path"], **origin["options"])


def worker_bundle(source: Any) -> Any:
    """The bundle a shard captures with, loaded once per worker process."""
    if not isinstance(source, dict):
        return source
    key = json.dumps(source, sort_keys=True, default=str)
    if key not in _BUNDLES:
        _BUNDLES[key] = _load(source)
    return _BUNDLES[key]


class ShardWriter(StoreWriter):
    """A :class:`StoreWriter` over the files another process preallocated, for rows
    ``base .. base + len(texts)``; its sentence rows go to their own stream."""

    def __init__(self, layout: dict[str, Any], bundle: ModelBundle, df: pd.DataFrame,
                 texts: list[str], labels: list[str], base: int, index: int) -> None:
        import pyarrow as pa

        out = Path(layout["out"])
        self.out, self.bundle, self.df, self.dtype = out, bundle, df, layout["dtype"]
        self.texts, self.labels, self.lengths, self.base = texts, labels, layout["lengths"], base
        self.offsets = np.zeros(len(self.lengths) + 1, dtype=np.int64)
        np.cumsum(self.lengths, out=self.offsets[1:])
        self.n_tokens = int(self.offsets[-1])
        self.lengths_2 = layout["lengths_2"]
        self.offsets_2 = None
        self.token_ids_2 = None
        if self.lengths_2 is not None:
            self.offsets_2 = np.zeros(len(self.lengths_2) + 1, dtype=np.int64)
            np.cumsum(self.lengths_2, out=self.offsets_2[1:])
        if layout["token_ids_2"]:
            self.token_ids_2 = NpyFile.attach(out / "token_ids_2.npy",
                                              (int(self.offsets_2[-1]),), "int64")
        self.sources = dict(layout["sources"])
        self.label_ids = {label: i for i, label in enumerate(bundle.labels)}
        self.token_ids = NpyFile.attach(out / "token_ids.npy", (self.n_tokens,), "int64")
        self.arrays = {name: (kind, NpyFile.attach(out / "views" / file, tuple(shape),
                                                   self.dtype))
                       for name, (kind, file, shape) in layout["arrays"].items()}
        self.schema, self.extras = layout["schema"], layout["extras"]
        self.meta_file = pa.OSFile(str(out / f"meta.shard-{index}.arrows.part"), "wb")
        self.meta = pa.ipc.new_stream(self.meta_file, self.schema)


def capture_shard(source: Any, layout: dict[str, Any], df: pd.DataFrame, texts: list[str],
                  labels: list[str], batches: list[dict[str, Any]], base: int, index: int,
                  key: dict[str, Any], module: str, verify: str, threads: int
                  ) -> tuple[int, tuple[int, Any]]:
    """Capture rows ``base .. base + len(texts)`` from their encoded ``batches`` (a Dask task);
    returns (index, (rows, the shard's :class:`~probe_rnn.capture.diagnosis.ModuleDiagnosis`
    per site)).

    It runs with the client's number of torch threads: the fused CPU kernels block their
    sums by thread count, so another count gives other last bits (and other float16
    roundings) than a local capture."""
    import torch

    from probe_rnn.capture.batches import run_batches, weights_checksum

    bundle = worker_bundle(source)
    weights = _WEIGHTS.get(id(bundle.model)) or weights_checksum(bundle.model)
    _WEIGHTS[id(bundle.model)] = weights
    if weights != key["weights_checksum"]:
        raise CaptureError(f"the worker loaded other weights than the client's from "
                           f"{bundle.source}: workers must see the same checkpoint file")
    writer = ShardWriter(layout, bundle, df, texts, labels, base, index)
    before = torch.get_num_threads()
    torch.set_num_threads(threads)
    try:
        info = run_batches(bundle, batches, writer, {**key, "requested_module": module},
                           verify, None, base=base)
    finally:
        torch.set_num_threads(before)
        writer.close()
    return index, (len(texts), info["diagnosis"])
