"""Stream a model's recurrent states over a table into a state store folder.

:func:`capture` runs the model batch by batch under :func:`~probe_rnn.capture.record`, and
writes each batch straight into preallocated ``.npy`` files (positioned writes, nothing kept
per batch; see :mod:`probe_rnn.capture.store_writer`), the sentence table into
``meta.parquet``, and ``manifest.json`` last, atomically. Memory therefore does not grow with
the number of rows, and a folder whose capture was interrupted has no manifest and is never
taken as complete.
Re-running on a complete folder with the same model, data and options reuses it; anything
else (different inputs, an incomplete folder) deletes the store's files and starts cleanly.
"""

from __future__ import annotations

import hashlib
import time
import warnings
from collections.abc import Callable, Sequence
from contextlib import ExitStack
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd
import torch

from probe_rnn.capture.store import (
    StateStore,
    clear_store,
    data_checksum,
    reusable_store,
)
from probe_rnn.capture.store_writer import StoreWriter
from probe_rnn.errors import CaptureError, ConfigError, DataError

if TYPE_CHECKING:
    from probe_rnn.capture.states import RecurrentStates
    from probe_rnn.models import ModelBundle

__all__ = ["capture", "weights_checksum", "DTYPES", "VERIFY_MODES"]

DTYPES = ("float16", "float32")
VERIFY_MODES = ("first", "every")

Progress = Callable[[int, int], None]


def capture(
    bundle: ModelBundle,
    df: pd.DataFrame,
    out_dir: str | Path,
    views: Sequence[str] | None = None,
    dtype: str = "float16",
    batch_size: int = 256,
    verify: str = "first",
    progress: Progress | None = None,
    module: str | None = None,
    notice: Callable[[str], None] | None = None,
    client: Any = None,
) -> StateStore:
    """Capture the states of one recurrent module over a table into a store folder.

    Parameters
    ----------
    bundle : ModelBundle
        The model, its adapter (texts -> inputs) and its labels.
    df : pandas.DataFrame
        Columns ``text`` and ``label`` (optional ``split`` and extra columns, kept in meta).
    out_dir : str or Path
        Folder of the store (created; only the store's own files in it are ever deleted).
    views : sequence of str, optional
        View names to store. Default: every sentence view of the catalogue plus the
        per-token ``hidden/L{l}/{dir}``, ``cell/L{l}/{dir}`` and ``output``. A ``base@t`` name
        stores the per-token ``base`` (the store derives ``@t`` from it). Gate views
        (``gate/L{l}/{dir}/{i,f,g,o}`` LSTM, ``{r,z,n}`` GRU, also with ``@t``) are stored only
        when named here.
    dtype : {"float16", "float32"}
        Storage dtype of the state arrays.
    batch_size : int
        Rows per forward pass (``output@-1`` depends on it: the padded length of a batch).
    verify : {"first", "every"}
        Check recomputed states against the fused kernel on the first batch or every batch.
    progress : callable, optional
        Called as ``progress(rows_done, rows_total)`` after every batch.
    module : str, optional
        Name of the recurrent module (as in ``model.named_modules()``); default: the first.
    notice : callable, optional
        Receives a line when an existing store is not reused because a file no longer matches
        its checksum (default: a ``UserWarning``).
    client : distributed.Client, optional
        Capture all rows after the first batch in shards on its Dask workers
        (:mod:`probe_rnn.capture.shards`); the store folder must be on a filesystem they see.
        The store is byte-identical to a local capture's.

    Returns
    -------
    StateStore
        The complete store (reused without any forward pass when it already matches).
    """
    texts, labels, key = _capture_key(bundle, df, views, dtype, batch_size, verify, module)
    out = Path(out_dir)
    existing = reusable_store(out, key, notice or _warn)
    if existing is not None:
        return existing
    return _write_store(out, bundle, df, texts, labels, key, verify, progress, client)


def _capture_key(bundle: ModelBundle, df: pd.DataFrame, views: Sequence[str] | None,
                 dtype: str, batch_size: int, verify: str, module: str | None
                 ) -> tuple[list[str], list[str], dict[str, Any]]:
    """Check the options; return the texts, the labels and what identifies the store."""
    from probe_rnn.capture.views import parse_view

    check_capture_options(dtype, batch_size, verify)
    for name in views or []:
        parse_view(name)  # unknown forms fail here, before any file is touched
    texts, labels = _texts_and_labels(df)
    key = {
        "model_checksum": getattr(bundle, "checksum", None),
        "weights_checksum": weights_checksum(bundle.model),
        "data_checksum": data_checksum(texts, labels),
        "requested_views": None if views is None else [str(v) for v in views],
        "dtype": dtype,
        "batch_size": batch_size,
        "requested_module": module,
    }
    return texts, labels, key


def _write_store(out: Path, bundle: ModelBundle, df: pd.DataFrame, texts: list[str],
                 labels: list[str], key: dict[str, Any], verify: str,
                 progress: Progress | None, client: Any) -> StateStore:
    """Run the model over every row into a fresh store folder ``out``; manifest last."""
    clear_store(out)
    out.mkdir(parents=True, exist_ok=True)
    started = time.perf_counter()
    lengths = _token_lengths(bundle, texts, key["batch_size"])
    writer = None
    try:
        writer = StoreWriter(out, bundle, df, texts, labels, lengths, key["dtype"])
        if client is None:
            resolved = run_batches(bundle, texts, writer, key, verify, progress)
            shards = 0
        else:
            resolved, shards = _run_shards(bundle, df, texts, labels, writer, key, verify,
                                           progress, client)
        writer.close()
        writer.finish({**key, **resolved, "seconds": round(time.perf_counter() - started, 3)},
                      shards)
    except BaseException:  # disk full, Ctrl-C, a model error: no half-written store is left
        if writer is not None:
            writer.close(after_error=True)
        clear_store(out)
        raise
    return StateStore(out)


def _warn(line: str) -> None:
    warnings.warn(line, UserWarning, stacklevel=3)


def _run_shards(bundle: ModelBundle, df: pd.DataFrame, texts: list[str], labels: list[str],
                writer: StoreWriter, key: dict[str, Any], verify: str,
                progress: Progress | None, client: Any) -> tuple[dict[str, Any], int]:
    """The first batch here (it sizes the files), every other row in shards on the workers."""
    from probe_rnn.capture.shards import capture_shard, shard_ranges, shard_source
    from probe_rnn.cluster import map_unordered

    size = key["batch_size"]
    resolved = run_batches(bundle, texts[:size], writer, key, verify, None)
    workers = max(1, len(client.scheduler_info().get("workers", {})))
    ranges = shard_ranges(len(texts), size, size, workers)
    source, layout = shard_source(bundle, client), writer.layout()
    calls = [(source, layout, df.iloc[r.start:r.stop], texts[r.start:r.stop],
              labels[r.start:r.stop], r.start, k, key, resolved["module"], verify,
              torch.get_num_threads()) for k, r in enumerate(ranges)]
    done = min(size, len(texts))
    if progress is not None:
        progress(done, len(texts))
    digest = key["data_checksum"][:12]
    for _, rows in map_unordered(client, capture_shard, calls, "capture",
                                 [f"{digest}-{r.start}" for r in ranges]):
        done += rows
        if progress is not None:
            progress(done, len(texts))
    return resolved, len(ranges)


def run_batches(
    bundle: ModelBundle,
    texts: list[str],
    writer: StoreWriter,
    key: dict[str, Any],
    verify: str,
    progress: Progress | None,
    base: int = 0,
) -> dict[str, Any]:
    """Forward every batch under ``record`` and hand states to the writer; return module info.

    ``texts`` are the rows ``base ..`` of the capture (a shard's; the files are open already
    when ``base`` > 0)."""
    from probe_rnn.capture.recorder import record

    model, adapter, size = bundle.model, bundle.adapter, key["batch_size"]
    name = _pick_module(model, key["requested_module"])
    info = {"module": name, "module_type": type(model.get_submodule(name)).__name__}
    # a cell loop stacks every step of a block: one block per batch; a fused module: one block
    per_batch = isinstance(model.get_submodule(name), torch.nn.RNNCellBase)
    with torch.no_grad(), ExitStack() as stack:
        rec = None if per_batch else stack.enter_context(record(model, [name], verify))
        for first in range(0, len(texts), size):
            start, stop = base + first, base + min(first + size, len(texts))
            batch = adapter.encode(texts[first:stop - base])
            if rec is None:
                with record(model, [name], verify) as batch_rec:
                    logits = adapter.forward(model, batch)
                states = batch_rec[name]
            else:
                logits = adapter.forward(model, batch)
                states = rec[name]
            if start == 0:
                writer.open_views(_resolve_views(states, key["requested_views"]), states)
            writer.write_batch(start, batch, states, logits)
            if rec is not None:
                forget_earlier_calls(rec, name)
            if progress is not None:
                progress(stop, base + len(texts))
    return info


def weights_checksum(model: torch.nn.Module) -> str:
    """sha256 of a model's parameters and buffers (names, dtypes, shapes, bytes).

    Identifies the weights actually captured, also for bundles built in memory or re-initialised
    (whose checkpoint checksum is empty or that of another model).
    """
    digest = hashlib.sha256()
    for name, tensor in sorted(model.state_dict().items()):
        data = tensor.detach().cpu().contiguous().reshape(-1)
        digest.update(f"{name}|{data.dtype}|{tuple(tensor.shape)}\n".encode())
        digest.update(data.view(torch.uint8).numpy().tobytes())
    return digest.hexdigest()


def forget_earlier_calls(rec: Any, name: str) -> None:
    """Keep only the last call's states in the recorder, so memory does not grow per batch.

    The last call stays, so ``verify="first"`` still means the first batch of the capture.
    """
    calls = getattr(getattr(rec, "_recurrent", {}).get(name), "calls", None)
    if isinstance(calls, list) and len(calls) > 1:
        del calls[:-1]


def check_capture_options(dtype: str, batch_size: int, verify: str) -> None:
    if dtype not in DTYPES:
        raise ConfigError(f"dtype must be one of {', '.join(DTYPES)}; got {dtype!r}")
    if verify not in VERIFY_MODES:
        raise ConfigError(
            f"verify must be one of {', '.join(VERIFY_MODES)}; got {verify!r}"
        )
    if isinstance(batch_size, bool) or not isinstance(batch_size, int) or batch_size < 1:
        raise ConfigError(f"batch_size must be an integer >= 1; got {batch_size!r}")


def _texts_and_labels(df: pd.DataFrame) -> tuple[list[str], list[str]]:
    missing = [c for c in ("text", "label") if c not in df.columns]
    if missing:
        raise DataError(
            f"the table has no column {', '.join(missing)} (columns: "
            f"{', '.join(map(str, df.columns))}): read it with read_table(..., text=, label=)"
        )
    if len(df) == 0:
        raise DataError("the table is empty: give at least one row to capture")
    return [str(t) for t in df["text"]], [str(v) for v in df["label"]]


def _pick_module(model: torch.nn.Module, requested: str | None) -> str:
    from probe_rnn.capture.recorder import recurrent_module_names

    names = recurrent_module_names(model)
    if requested is None:
        if not names:
            raise CaptureError(
                "the model has no nn.RNN/nn.LSTM/nn.GRU (or cell) module: nothing to capture"
            )
        return names[0]
    if requested not in names:
        raise CaptureError(
            f"module {requested!r} is not a recurrent module of the model; recurrent modules: "
            f"{', '.join(names) or 'none'}"
        )
    return requested


def _token_lengths(bundle: ModelBundle, texts: list[str], batch_size: int) -> np.ndarray:
    """Valid tokens per row from the adapter's encoding, before any forward pass."""
    lengths = np.empty(len(texts), dtype=np.int64)
    for start in range(0, len(texts), batch_size):
        batch = bundle.adapter.encode(texts[start : start + batch_size])
        lengths[start : start + len(batch["lengths"])] = np.asarray(batch["lengths"].cpu())
    return lengths


def _resolve_views(states: RecurrentStates, requested: list[str] | None) -> dict[str, str]:
    """Map the views to store to their kind (``"sentence"`` or ``"token"``), in order."""
    from probe_rnn.capture.views import available_views, gate_views, resolve_views

    return resolve_views(available_views(states), requested, optional=gate_views(states))
