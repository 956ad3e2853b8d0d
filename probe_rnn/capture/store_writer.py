"""Writing one state store folder: preallocated ``.npy`` files, meta rows, manifest last.

:class:`StoreWriter` is the engine behind :func:`probe_rnn.capture.capture_states`: it preallocates
every view's ``.npy`` file (:func:`numpy.lib.format.open_memmap`) and fills it with positioned
writes (no mapping, no buffering: memory does not grow with the rows), streams the sentence
table as Arrow IPC (copied to ``meta.parquet`` at the end, in large row groups), and writes
``manifest.json`` atomically, last, with the sha256 of every file: an array's digest is kept
up to date as its rows are written in order (no second read), so checksums cost one hash pass
over bytes already in memory. :func:`real_tokens` restricts the states of a module that
ran over padding (or a cell loop) to each row's real tokens.
"""

from __future__ import annotations

import json
import os
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
import torch

from probe_rnn.capture.manifest import (
    MANIFEST,
    STORE_FORMAT,
    STORE_FORMAT_VERSION,
    StoreManifest,
    ViewSpec,
)
from probe_rnn.capture.model_columns import model_columns, model_fields, prediction_columns
from probe_rnn.capture.store import view_file_name
from probe_rnn.catalogue import OUTPUT_NAIVE_LAST
from probe_rnn.data.text_pairs import SECOND_TEXT
from probe_rnn.errors import CaptureError, Mention, StorageRangeError
from probe_rnn.hashing import file_sha256, sha256
from probe_rnn.models.adapters import first_text

if TYPE_CHECKING:
    from probe_rnn.capture.states import RecurrentStates
    from probe_rnn.models import ModelBundle

META_COLUMNS = ("row", "text", "label", "label_id", "length", "split", "prediction",
                "prediction_id", "probability", "correct", "tokens")


class NpyFile:
    """A preallocated ``.npy`` file written by positioned writes (no mapping, no buffering).

    While rows arrive in order, the sha256 of the whole file (header, then rows) is updated
    with each write; :meth:`sha256` falls back to reading the file after out-of-order writes.
    """

    def __init__(self, path: Path, shape: tuple[int, ...], dtype: str) -> None:
        array = np.lib.format.open_memmap(path, mode="w+", dtype=np.dtype(dtype), shape=shape)
        self.offset = int(array.offset)
        del array
        self.path, self.shape, self.dtype = path, shape, np.dtype(dtype)
        self.row_bytes = self.dtype.itemsize * int(np.prod(shape[1:], dtype=np.int64))
        with open(path, "rb") as handle:
            self._digest: Any = sha256(handle.read(self.offset))
        self._next_row = 0
        self.fd = os.open(path, os.O_WRONLY)

    @classmethod
    def attach(cls, path: Path, shape: tuple[int, ...], dtype: str) -> NpyFile:
        """Open a file another process preallocated, to write some of its rows (a capture
        shard); its digest is computed from the file once every shard is in."""
        self = cls.__new__(cls)
        with open(path, "rb") as handle:
            np.lib.format.read_magic(handle)
            np.lib.format.read_array_header_1_0(handle)
            self.offset = handle.tell()
        self.path, self.shape, self.dtype = path, tuple(shape), np.dtype(dtype)
        self.row_bytes = self.dtype.itemsize * int(np.prod(self.shape[1:], dtype=np.int64))
        self._digest, self._next_row = None, 0
        self.fd = os.open(path, os.O_WRONLY)
        return self

    def write(self, start: int, values: np.ndarray) -> None:
        data = memoryview(np.ascontiguousarray(values, dtype=self.dtype)).cast("B")
        if self._digest is not None and start == self._next_row:
            self._digest.update(data)
            self._next_row += len(data) // self.row_bytes if self.row_bytes else 0
        else:
            self._digest = None
        position = self.offset + start * self.row_bytes
        while len(data):
            written = os.pwrite(self.fd, data, position)
            data, position = data[written:], position + written

    def close(self) -> None:
        if self.fd >= 0:
            os.close(self.fd)
            self.fd = -1

    def sha256(self) -> str:
        """sha256 (hex) of the file as written (every row must have been written)."""
        if self._digest is not None and self._next_row == self.shape[0]:
            return str(self._digest.hexdigest())
        return file_sha256(self.path)


def meta_schema(df: pd.DataFrame, extras: list[str], kind: str = "logits") -> pa.Schema:
    """Arrow schema of ``meta.parquet``: the fixed columns, then the table's extra columns
    (typed from the whole column; columns Arrow cannot type are stored as strings), then the
    columns of what the model returns and reads (:mod:`probe_rnn.capture.model_columns`)."""
    fields = [
        pa.field("row", pa.int64()), pa.field("text", pa.string()), pa.field("label", pa.string()),
        pa.field("label_id", pa.int64()), pa.field("length", pa.int64()),
        pa.field("split", pa.string()), pa.field("prediction", pa.string()),
        pa.field("prediction_id", pa.int64()), pa.field("probability", pa.float64()),
        pa.field("correct", pa.bool_()), pa.field("tokens", pa.list_(pa.string())),
    ]
    for column in extras:
        try:
            kind_of = pa.Array.from_pandas(df[column]).type
        except (pa.ArrowInvalid, pa.ArrowTypeError, pa.ArrowNotImplementedError):
            kind_of = pa.string()
        if pa.types.is_dictionary(kind_of):
            kind_of = kind_of.value_type
        fields.append(pa.field(str(column), pa.string() if pa.types.is_null(kind_of)
                               else kind_of))
    return pa.schema(fields + model_fields(kind, SECOND_TEXT in df.columns))


class StoreWriter:
    """Writes one store folder: preallocated arrays, meta row groups, manifest last."""

    def __init__(self, out: Path, bundle: ModelBundle, df: pd.DataFrame, texts: list[str],
                 labels: list[str], lengths: np.ndarray, dtype: str) -> None:
        self.out, self.bundle, self.df, self.dtype = out, bundle, df, dtype
        self.texts, self.labels, self.lengths = texts, labels, lengths
        self.base = 0  # row of texts[0]: a shard's writer holds only its rows' texts
        self.offsets = np.zeros(len(texts) + 1, dtype=np.int64)
        np.cumsum(lengths, out=self.offsets[1:])
        self.n_tokens = int(self.offsets[-1])
        self.label_ids = {label: i for i, label in enumerate(bundle.labels)}
        (out / "views").mkdir(parents=True, exist_ok=True)
        np.save(out / "offsets.npy", self.offsets)
        self.token_ids = NpyFile(out / "token_ids.npy", (self.n_tokens,), "int64")
        self.arrays: dict[str, tuple[str, NpyFile]] = {}
        self.extras = [c for c in df.columns if c not in META_COLUMNS]
        self.schema = meta_schema(df, self.extras, getattr(bundle, "output_kind", "logits"))
        self.meta_file = pa.OSFile(str(out / "meta.arrows.part"), "wb")
        self.meta: Any = pa.ipc.new_stream(self.meta_file, self.schema)

    def open_views(self, kinds: dict[str, str], states: RecurrentStates) -> None:
        from probe_rnn.capture.views import sentence_view, token_view

        used: set[str] = set()
        for name, kind in kinds.items():
            sample = sentence_view(states, name) if kind == "sentence" else token_view(states, name)
            dim = int(_flat(sample).shape[-1])
            rows = len(self.texts) if kind == "sentence" else self.n_tokens
            file = view_file_name(name)
            while file in used:
                file = file.replace(".npy", "_.npy")
            used.add(file)
            self.arrays[name] = (kind, NpyFile(self.out / "views" / file, (rows, dim), self.dtype))

    def write_batch(self, start: int, batch: dict[str, Any], states: RecurrentStates,
                    logits: torch.Tensor) -> None:
        from probe_rnn.capture.views import sentence_view, token_view

        stop = start + int(states.lengths.shape[0])
        lengths = self.lengths[start:stop]
        real = real_tokens(states, lengths, start)
        t0, t1 = int(self.offsets[start]), int(self.offsets[stop])
        for name, (kind, file) in self.arrays.items():
            source = states if name == OUTPUT_NAIVE_LAST else real  # padding included
            view = sentence_view(source, name) if kind == "sentence" else token_view(real, name)
            values = _flat(view).detach().cpu().float().numpy()
            if self.dtype == "float16" and np.abs(values).max(initial=0.0) > 65504:
                raise StorageRangeError(
                    f"view {name!r} has values beyond the float16 range: capture with ",
                    Mention("dtype", "float32"))
            file.write(start if kind == "sentence" else t0, values)
        self.token_ids.write(t0, _valid_ids(batch, lengths, t1 - t0))
        self.meta.write_table(self._meta_rows(start, stop, lengths, logits, batch))

    def _meta_rows(self, start: int, stop: int, lengths: np.ndarray, output: Any,
                   batch: dict[str, Any]) -> pa.Table:
        local = slice(start - self.base, stop - self.base)
        texts = self.texts[local]
        tokens = [list(map(str, self.bundle.adapter.tokens(t))) for t in texts]
        bad = [i for i, tok in enumerate(tokens) if len(tok) != lengths[i]]
        if bad:
            raise CaptureError(
                f"row {start + bad[0]}: the adapter's tokens() gives {len(tokens[bad[0]])} tokens "
                f"but its encoding has {lengths[bad[0]]} steps: fix the adapter's tokens()"
            )
        label_ids = np.array([self.label_ids.get(v, -1)
                              for v in self.labels[start - self.base:stop - self.base]])
        part = self.df.iloc[local]
        split = _strings(part["split"]) if "split" in part else [None] * len(part)
        columns: dict[str, Any] = {
            "row": np.arange(start, stop), "text": [first_text(t) for t in texts],
            "label": self.labels[local], "label_id": label_ids, "length": lengths,
            "split": split, "tokens": tokens,
            **prediction_columns(output, list(self.bundle.labels), label_ids),
        }
        for column in self.extras:
            values = part[column]
            as_text = pa.types.is_string(self.schema.field(str(column)).type)
            columns[str(column)] = _strings(values) if as_text else values.tolist()
        columns.update(model_columns(self.schema, output, batch, texts,
                                     self.bundle.adapter))
        return pa.Table.from_pydict(columns, schema=self.schema)

    def close(self, after_error: bool = False) -> None:
        """Release file handles. After an error (the folder then has no manifest, and its
        files are about to be deleted) a failing close, e.g. a flush on a full disk, is
        ignored so the clean-up still runs."""
        closers = [file.close for _, file in self.arrays.values()] + [self.token_ids.close]
        if self.meta is not None:
            closers += [self.meta.close, self.meta_file.close]
            self.meta = None
        for close in closers:
            try:
                close()
            except OSError:
                if not after_error:
                    raise

    def layout(self) -> dict[str, Any]:
        """What a capture shard needs to write into these files (picklable, no handles)."""
        return {"out": str(self.out), "dtype": self.dtype, "lengths": self.lengths,
                "schema": self.schema, "extras": self.extras,
                "arrays": {name: (kind, file.path.name, file.shape)
                           for name, (kind, file) in self.arrays.items()}}

    def finish(self, capture_info: dict[str, Any], shards: int = 0,
               kernel_check: dict[str, Any] | None = None) -> None:
        """Rename the meta file into place, then write ``manifest.json`` atomically.

        ``shards`` capture shards wrote ``meta.shard-{k}.arrows.part`` files, appended in
        order after this writer's own rows; ``kernel_check`` is the comparison of the
        recomputed states with the module's fused call (:class:`~probe_rnn.capture.batches.
        KernelCheck`), None when none was compared."""
        streams = [self.out / "meta.arrows.part",
                   *(self.out / f"meta.shard-{k}.arrows.part" for k in range(shards))]
        _stream_to_parquet(streams, self.out / "meta.parquet.part")
        os.replace(self.out / "meta.parquet.part", self.out / "meta.parquet")
        manifest = StoreManifest(
            format=STORE_FORMAT, format_version=STORE_FORMAT_VERSION,
            created=datetime.now(UTC).isoformat(timespec="seconds"),
            versions=_versions(),
            model={"checksum": capture_info["model_checksum"],
                   "weights_sha256": capture_info["weights_checksum"],
                   "source": str(getattr(self.bundle, "source", ""))},
            data={"checksum": capture_info["data_checksum"], "rows": len(self.texts),
                  "tokens": self.n_tokens},
            module=capture_info["module"], module_type=capture_info["module_type"],
            dtype=self.dtype, capture=capture_info, kernel_check=kernel_check,
            views={name: ViewSpec(f"views/{file.path.name}", kind, tuple(file.shape), self.dtype)
                   for name, (kind, file) in self.arrays.items()},
            files={"meta": "meta.parquet", "offsets": "offsets.npy",
                   "token_ids": "token_ids.npy"},
            sha256=self._checksums(),
        )
        part = self.out / f"{MANIFEST}.part"
        with open(part, "w", encoding="utf-8") as handle:
            json.dump(manifest.to_dict(), handle, indent=2)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(part, self.out / MANIFEST)

    def _checksums(self) -> dict[str, str]:  # shards' files: NpyFile.sha256 reads them
        sums = {f"views/{file.path.name}": file.sha256() for _, file in self.arrays.values()}
        sums["token_ids.npy"] = self.token_ids.sha256()
        for name in ("offsets.npy", "meta.parquet"):  # written whole: hashed from the file
            sums[name] = file_sha256(self.out / name)
        return sums


def real_tokens(states: RecurrentStates, lengths: np.ndarray, start: int) -> RecurrentStates:
    """The states at each row's real tokens (the adapter's ``lengths``).

    Equal to ``states`` when the module got a PackedSequence. A module that ran over the padded
    batch (or a cell loop) reports every step as valid; its states are re-laid out so that
    views and token arrays cover only the real tokens (``h_n``, ``c_n`` stay as returned; gates,
    if read, are those the module computed at the real tokens).
    """
    from torch.nn.utils.rnn import pack_padded_sequence

    from probe_rnn.capture.gates import RepackedGates
    from probe_rnn.capture.states import PackedLayout, RecurrentStates

    seen = states.lengths.detach().cpu().long()
    if np.array_equal(seen.numpy(), lengths):
        return states
    if not (bool((seen == states.time).all()) and int(lengths.max()) <= states.time):
        raise CaptureError(
            f"rows {start}..{start + len(lengths) - 1}: the recurrent module saw lengths that "
            "differ from the adapter's 'lengths': the adapter must report the real step counts"
        )
    real = torch.as_tensor(lengths, dtype=torch.long)
    hidden = pack_padded_sequence(states.hidden, real, batch_first=True, enforce_sorted=False)
    cell = None if states.cell is None else pack_padded_sequence(
        states.cell, real, batch_first=True, enforce_sorted=False).data
    sizes = hidden.batch_sizes.tolist()
    layout = PackedLayout(sizes, [0, *np.cumsum(sizes).tolist()], hidden.sorted_indices, real,
                          states.hidden.device)
    gates = None if states.gate_source is None else RepackedGates(states)  # lazy, as states'
    return RecurrentStates(
        layout=layout, hidden_packed=hidden.data, cell_packed=cell, h_n=states.h_n,
        c_n=states.c_n, kind=states.kind, hidden_size=states.hidden_size,
        proj_size=states.proj_size, verified=states.verified, gate_source=gates,
    )


def _stream_to_parquet(streams: list[Path], target: Path, rows_per_group: int = 16384) -> None:
    """Copy Arrow IPC streams, one after the other, into Parquet, a bounded number of rows at a
    time; the streams are removed.

    Meta rows are streamed to IPC during the capture (a ParquetWriter fed one small row group
    per batch keeps growing its memory); here they are regrouped into large row groups.
    """
    out = None
    pending: list[pa.RecordBatch] = []
    try:
        for stream in streams:
            with pa.OSFile(str(stream), "rb") as source, pa.ipc.open_stream(source) as reader:
                out = out or pq.ParquetWriter(target, reader.schema)
                for batch in reader:
                    pending.append(batch)
                    if sum(b.num_rows for b in pending) >= rows_per_group:
                        out.write_table(pa.Table.from_batches(pending))
                        pending = []
        if pending and out is not None:
            out.write_table(pa.Table.from_batches(pending))
    finally:
        if out is not None:
            out.close()
    for stream in streams:
        stream.unlink()


def _strings(values: pd.Series) -> list[str | None]:
    """Values as strings, missing ones as None."""
    return [None if _missing(v) else str(v) for v in values]


def _missing(value: Any) -> bool:
    try:
        return bool(pd.isna(value))
    except (TypeError, ValueError):  # lists, arrays: never "missing" as a whole
        return False


def _flat(view: Any) -> torch.Tensor:
    """A view as one tensor: per-row lists of token states are concatenated."""
    if isinstance(view, (list, tuple)):
        return torch.cat(list(view), dim=0)
    return view


def _valid_ids(batch: dict[str, Any], lengths: np.ndarray, n_tokens: int) -> np.ndarray:
    """The batch's token ids at valid positions, flat; ``-1`` if the adapter has no ``ids``."""
    ids = batch.get("ids")
    if not isinstance(ids, torch.Tensor) or ids.dim() != 2 or ids.shape[0] != len(lengths):
        return np.full(n_tokens, -1, dtype=np.int64)
    ids = ids.detach().cpu()
    mask = torch.arange(ids.shape[1])[None, :] < torch.as_tensor(lengths)[:, None]
    return ids[mask].numpy().astype(np.int64)


def _versions() -> dict[str, str]:
    from probe_rnn import __version__

    return {"probe_rnn": __version__, "torch": torch.__version__, "numpy": np.__version__}
