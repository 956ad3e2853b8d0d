"""Stream a model's recurrent states over a table into a state store folder.

:func:`capture` encodes the texts once, runs the model batch by batch under
:func:`~probe_rnn.capture.record` (:mod:`probe_rnn.capture.batches`), and writes each batch
straight into preallocated ``.npy`` files (positioned writes, nothing kept per batch; see
:mod:`probe_rnn.capture.store_writer`), the sentence table into ``meta.parquet``, and
``manifest.json`` last, atomically, with the diagnosis of the same states
(:mod:`probe_rnn.capture.diagnosis`). Memory therefore grows with the number of rows only by
the encoded token ids (8 bytes a token), and a folder whose capture was interrupted has no
manifest and is never taken as complete.
Re-running on a complete folder with the same model, data and options reuses it; anything
else (different inputs, an incomplete folder) deletes the store's files and starts cleanly.
"""

from __future__ import annotations

import time
import warnings
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd
import torch

from probe_rnn.capture.batches import (
    encode_batches,
    kernel_check_record,
    run_batches,
    weights_checksum,
)
from probe_rnn.capture.recorder import VERIFY_MODES
from probe_rnn.capture.store import (
    StateStore,
    clear_store,
    reusable_store,
)
from probe_rnn.capture.store_writer import StoreWriter
from probe_rnn.data.text_pairs import model_inputs
from probe_rnn.errors import DataError
from probe_rnn.hashing import data_checksum
from probe_rnn.validation import Instance, Interval, Names, Options, PathLike, validate_params

if TYPE_CHECKING:
    from probe_rnn.models import ModelBundle

DTYPES = ("float16", "float32")
#: What each option of :func:`capture_states` accepts (:mod:`probe_rnn.validation`).
PARAMETER_CONSTRAINTS: dict[str, Any] = {
    "out_dir": PathLike(),
    "views": [None, Names("names of state views (str)", example="output@last")],
    "dtype": Options(DTYPES),
    "batch_size": Interval(int, 1, None),
    "verify": Options(VERIFY_MODES),
    "module": [None, Instance(str, "a module name (str)", example="rnn")],
}

Progress = Callable[[int, int], None]


def capture_states(
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
    """Capture the states of every recurrent site of a model over a table into a store folder.

    Sites (:mod:`~probe_rnn.capture.recurrent_sites`): each module call, one-step calls stacked;
    views ``SITE:VIEW`` when several. Steps: a PackedSequence's; else the first site run reads
    text 1 (``lengths``), later ones text 2 (``lengths_2``) if batches have it, else text 1; a
    stepped site's rows have its number of calls.

    Parameters
    ----------
    bundle : ModelBundle
        The model, its adapter (texts -> inputs) and its labels.
    df : pandas.DataFrame
        Columns ``text``, ``label`` (optional ``split`` and extra columns, kept in meta).
    out_dir : str or Path
        Folder of the store (created; only the store's own files in it are ever deleted).
    views : sequence of str, optional
        View names (``SITE:VIEW``, or bare: at every site). Default: every sentence view plus the
        per-token ``hidden/L{l}/{dir}``, ``cell/L{l}/{dir}``, ``output``. ``base@t`` stores the
        per-token ``base`` (``@t`` is derived). Gate views (``gate/L{l}/{dir}/{i,f,g,o}`` LSTM,
        ``{r,z,n}`` GRU, also with ``@t``) are stored only when named here.
    dtype : {"float16", "float32"}
        Storage dtype of the state arrays.
    batch_size : int
        Rows per forward pass (``output@-1`` depends on it: the padded length of a batch).
    verify : {"first", "every"}
        Check recomputed states against the fused kernel on the first or every batch.
    progress : callable, optional
        ``progress(rows_done, rows_total)``, called after every batch.
    module : str, optional
        One recurrent module (``model.named_modules()`` name) to capture alone, every call.
    notice : callable, optional
        Told why a store is not reused (a file fails its checksum; default: a UserWarning).
    client : distributed.Client, optional
        Capture the rows after the first batch in shards on its Dask workers (:mod:`.shards`;
        the folder must be on a filesystem they see); the store is byte-identical.

    Returns
    -------
    StateStore
        The complete store (reused without any forward pass when it already matches).
    """
    check_capture_options(out_dir=out_dir, views=views, dtype=dtype, batch_size=batch_size,
                          verify=verify, module=module)
    texts, labels, key = _capture_key(bundle, df, views, dtype, batch_size, verify, module)
    existing = reusable_store(Path(out_dir), key, notice or _warn)
    return existing if existing is not None else _write_store(
        Path(out_dir), bundle, df, texts, labels, key, verify, progress, client)


def _capture_key(bundle: ModelBundle, df: pd.DataFrame, views: Sequence[str] | None,
                 dtype: str, batch_size: int, verify: str, module: str | None
                 ) -> tuple[list[str], list[str], dict[str, Any]]:
    """Check the view names; return the texts, the labels and what identifies the store."""
    if getattr(bundle, "output_kind", "logits") is None:  # a collate's model: ask a batch
        bundle.settle_output_kind(model_inputs(df)[:4])
    from probe_rnn.capture.views import parse_view

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
    batches = encode_batches(bundle, texts, key["batch_size"])
    lengths, lengths_2 = _all_lengths(batches, "lengths"), _all_lengths(batches, "lengths_2")
    writer = None
    try:
        writer = StoreWriter(out, bundle, df, texts, labels, lengths, key["dtype"], lengths_2)
        if client is None:
            resolved = run_batches(bundle, batches, writer, key, verify, progress)
            shards = 0
        else:
            resolved, shards = _run_shards(bundle, df, texts, labels, batches, writer, key,
                                           verify, progress, client)
        writer.close()
        diagnosis, checks = resolved.pop("diagnosis"), resolved.pop("kernel_check")
        found = resolved.pop("sites")
        info = {**key, **resolved, "seconds": round(time.perf_counter() - started, 3),
                "diagnosis": _diagnosis_records(diagnosis, found)}
        if len(found) > 1:
            info["sites"] = [site.to_dict() for site in found]
        writer.finish(info, shards, kernel_check=kernel_check_record(checks))
    except BaseException:  # disk full, Ctrl-C, a model error: no half-written store is left
        if writer is not None:
            writer.close(after_error=True)
        clear_store(out, [] if writer is None else
                    [f"views/{file.path.name}" for _, file in writer.arrays.values()])
        raise
    return StateStore(out)


def _all_lengths(batches: list[dict[str, Any]], key: str) -> np.ndarray | None:
    """Every row's ``lengths`` (or ``lengths_2``, text 2's; None when the batches lack it)."""
    if not all(isinstance(b.get(key), torch.Tensor) for b in batches):
        return None
    return np.concatenate([np.asarray(b[key].cpu()) for b in batches]).astype(np.int64)


def _diagnosis_records(diagnosis: dict[str, Any], sites: list[Any]) -> list[Any] | None:
    """The stored diagnosis table: one site's under its module's path (``module``), several
    sites' each under the site's name; None when no site has one (cell loops)."""
    tables = [diagnosis[site.name].table(site.name if len(sites) > 1 else site.module)
              for site in sites if diagnosis.get(site.name) is not None]
    if not tables:
        return None
    return pd.concat(tables, ignore_index=True).to_dict("records")


def _warn(line: str) -> None:
    warnings.warn(line, UserWarning, stacklevel=3)


def _run_shards(bundle: ModelBundle, df: pd.DataFrame, texts: list[str], labels: list[str],
                batches: list[dict[str, Any]], writer: StoreWriter, key: dict[str, Any],
                verify: str, progress: Progress | None, client: Any
                ) -> tuple[dict[str, Any], int]:
    """The first batch here (it sizes the files), every other row in shards on the workers;
    the shards' diagnoses are added to the first batch's."""
    from probe_rnn.capture.shards import capture_shard, shard_ranges, shard_source
    from probe_rnn.cluster import map_unordered

    size = key["batch_size"]
    resolved = run_batches(bundle, batches[:1], writer, key, verify, None)
    workers = max(1, len(client.scheduler_info().get("workers", {})))
    ranges = shard_ranges(len(texts), size, size, workers)
    source, layout = shard_source(bundle, client), writer.layout()
    calls = [(source, layout, df.iloc[r.start:r.stop], texts[r.start:r.stop],
              labels[r.start:r.stop], batches[r.start // size:-(-r.stop // size)], r.start, k,
              key, key["requested_module"], verify, torch.get_num_threads())
             for k, r in enumerate(ranges)]
    done = min(size, len(texts))
    if progress is not None:
        progress(done, len(texts))
    digest = key["data_checksum"][:12]
    for _, (rows, diagnosis) in map_unordered(client, capture_shard, calls, "capture",
                                              [f"{digest}-{r.start}" for r in ranges]):
        for name, part in diagnosis.items():
            if resolved["diagnosis"].get(name) is not None:
                resolved["diagnosis"][name].merge(part)
        done += rows
        if progress is not None:
            progress(done, len(texts))
    return resolved, len(ranges)


def check_capture_options(**params: Any) -> None:
    """Check the options of :func:`capture_states` given here against
    :data:`PARAMETER_CONSTRAINTS` (:class:`~probe_rnn.errors.ParameterError` naming the first
    refused one)."""
    validate_params(PARAMETER_CONSTRAINTS, params)


def _texts_and_labels(df: pd.DataFrame) -> tuple[list[str], list[str]]:
    missing = [c for c in ("text", "label") if c not in df.columns]
    if missing:
        raise DataError(
            f"the table has no column {', '.join(missing)} (columns: "
            f"{', '.join(map(str, df.columns))}): read it with read_table(..., text=, label=)"
        )
    if len(df) == 0:
        raise DataError("the table is empty: give at least one row to capture")
    return model_inputs(df), [str(v) for v in df["label"]]
