"""Writing one state store folder: preallocated ``.npy`` files, meta rows, manifest last.

:class:`StoreWriter` is the engine behind :func:`probe_rnn.capture.capture_states`: it preallocates
every view's ``.npy`` file (:func:`numpy.lib.format.open_memmap`) and fills it with positioned
writes (no mapping, no buffering: memory does not grow with the rows), streams the sentence
table as Arrow IPC (copied to ``meta.parquet`` at the end, in large row groups), and writes
``manifest.json`` atomically, last, with the sha256 of every file: an array's digest is kept
up to date as its rows are written in order (no second read), so checksums cost one hash pass
over bytes already in memory. :func:`real_tokens` restricts the states of a module that
ran over padding (or a cell loop) to each row's real tokens. A model with several recurrent
sites (:mod:`probe_rnn.capture.recurrent_sites`) stores every site's views, ``SITE:VIEW``;
per-token views of a site reading text 2 are laid out by ``offsets_2.npy``.
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
import torch

from probe_rnn.capture.manifest import (
    MANIFEST,
    STORE_FORMAT,
    STORE_FORMAT_VERSION,
    StoreManifest,
    ViewSpec,
)
from probe_rnn.capture.meta_table import (
    META_COLUMNS,
    meta_schema,
    stream_to_parquet,
    strings,
)
from probe_rnn.capture.model_columns import model_columns, prediction_columns
from probe_rnn.capture.recurrent_sites import check_requested, site_views, view_at_real_tokens
from probe_rnn.capture.store import view_file_name
from probe_rnn.catalogue import site_view
from probe_rnn.errors import CaptureError, Mention, StorageRangeError
from probe_rnn.hashing import file_sha256, sha256
from probe_rnn.models.adapters import first_text

if TYPE_CHECKING:
    from probe_rnn.capture.recurrent_sites import Site
    from probe_rnn.capture.states import RecurrentStates
    from probe_rnn.models import ModelBundle



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


class StoreWriter:
    """Writes one store folder: preallocated arrays, meta row groups, manifest last."""

    def __init__(self, out: Path, bundle: ModelBundle, df: pd.DataFrame, texts: list[str],
                 labels: list[str], lengths: np.ndarray, dtype: str,
                 lengths_2: np.ndarray | None = None) -> None:
        self.out, self.bundle, self.df, self.dtype = out, bundle, df, dtype
        self.texts, self.labels, self.lengths = texts, labels, lengths
        self.base = 0  # row of texts[0]: a shard's writer holds only its rows' texts
        self.offsets = _offsets(lengths)
        self.n_tokens = int(self.offsets[-1])
        self.lengths_2 = lengths_2  # text 2's (a pair's b, a target) when the batches have it
        self.offsets_2 = None if lengths_2 is None else _offsets(lengths_2)
        self.label_ids = {label: i for i, label in enumerate(bundle.labels)}
        (out / "views").mkdir(parents=True, exist_ok=True)
        np.save(out / "offsets.npy", self.offsets)
        self.token_ids = NpyFile(out / "token_ids.npy", (self.n_tokens,), "int64")
        self.token_ids_2: NpyFile | None = None
        self.arrays: dict[str, tuple[str, NpyFile]] = {}
        #: each stored view's site (None: the one site, names without prefix), bare view name
        #: and what its steps are: 1 or 2 (a text), or the steps of a stepped site
        self.sources: dict[str, tuple[str | None, str, int | None, int]] = {}
        self.extras = [c for c in df.columns if c not in META_COLUMNS
                       and not (lengths_2 is not None and c == "length_2")]
        self.schema = meta_schema(df, self.extras, lengths_2 is not None,
                                  getattr(bundle, "output_kind", "logits"))
        self.meta_file = pa.OSFile(str(out / "meta.arrows.part"), "wb")
        self.meta: Any = pa.ipc.new_stream(self.meta_file, self.schema)

    def open_views(self, sites: list[tuple[Site, RecurrentStates]],
                   requested: list[str] | None) -> None:
        """Preallocate every view of every site (``SITE:VIEW`` names when there are several
        sites); ``requested`` names views as :func:`~probe_rnn.capture.capture_states` takes
        them (None: every default view)."""
        from probe_rnn.capture.views import sentence_view, token_view

        used: set[str] = set()
        chosen = {site.name: site_views(states, requested, site.name if len(sites) > 1 else None,
                                        len(sites)) for site, states in sites}
        check_requested(requested, chosen)
        for site, states in sites:
            prefix = site.name if len(sites) > 1 else None
            for bare, kind in chosen[site.name].items():
                name = site_view(prefix, bare)
                sample = (sentence_view(states, bare) if kind == "sentence"
                          else token_view(states, bare))
                dim = int(_flat(sample).shape[-1])
                rows = len(self.texts) if kind == "sentence" else self._site_tokens(site, states)
                file = view_file_name(name)
                while file in used:
                    file = file.replace(".npy", "_.npy")
                used.add(file)
                self.arrays[name] = (kind, NpyFile(self.out / "views" / file, (rows, dim),
                                                   self.dtype))
                self.sources[name] = (prefix, bare, site.text, states.time)
        if any(text == 2 for _, _, text, _ in self.sources.values()) and \
                self.token_ids_2 is None:
            np.save(self.out / "offsets_2.npy", self.offsets_2)
            self.token_ids_2 = NpyFile(self.out / "token_ids_2.npy",
                                       (int(self.offsets_2[-1]),), "int64")

    def _site_tokens(self, site: Site, states: RecurrentStates) -> int:
        """Rows of a per-token view of the site: the tokens of its text, or rows x steps."""
        if site.text == 2:
            if self.offsets_2 is None:
                raise CaptureError(f"site {site.name!r} reads text 2, which the batches lack")
            return int(self.offsets_2[-1])
        return self.n_tokens if site.text == 1 else len(self.texts) * states.time

    def write_batch(self, start: int, batch: dict[str, Any],
                    sites: list[tuple[Site, RecurrentStates]], logits: Any) -> None:
        stop = start + int(batch["lengths"].shape[0])
        prefix = {site.name if len(sites) > 1 else None: (site, states)
                  for site, states in sites}
        real: dict[str | None, dict[str, Any]] = {}  # per site: view_at_real_tokens' memo
        for name, (kind, file) in self.arrays.items():
            key, bare, text, steps = self.sources[name]
            site, states = prefix[key]
            if states.time != steps and text is None:
                raise CaptureError(
                    f"site {site.name!r} ran {states.time} steps on the batch at row {start}, "
                    f"{steps} on the first: a stepped site (a decoder called once per step) "
                    "needs the same number of steps in every batch: pad every text to one "
                    "length with ", Mention("pad_to", "N"), " (a decoder stepping over its "
                    "target then steps N - 1 times), or capture in one batch with ",
                    Mention("batch_size"), " at least the number of rows")
            view = view_at_real_tokens(states, bare, kind, self._lengths(text, start, stop,
                                                                        states),
                                       start, real.setdefault(key, {}))
            values = _flat(view).detach().cpu().float().numpy()
            if self.dtype == "float16" and max(values.max(initial=0.0),
                                               -values.min(initial=0.0)) > 65504:
                raise StorageRangeError(
                    f"view {name!r} has values beyond the float16 range: capture with ",
                    Mention("dtype", "float32"))
            file.write(start if kind == "sentence" else self._first_token(text, start, steps),
                       values)
        lengths = self.lengths[start:stop]
        t0, t1 = int(self.offsets[start]), int(self.offsets[stop])
        self.token_ids.write(t0, _valid_ids(batch, lengths, t1 - t0))
        if self.token_ids_2 is not None and self.offsets_2 is not None:
            s0, s1 = int(self.offsets_2[start]), int(self.offsets_2[stop])
            self.token_ids_2.write(s0, _valid_ids(batch, self.lengths_2[start:stop], s1 - s0,
                                                  key="ids_2"))
        self.meta.write_table(self._meta_rows(start, stop, lengths, logits, batch))

    def _lengths(self, text: int | None, start: int, stop: int, states: RecurrentStates
                 ) -> np.ndarray:
        if text == 2 and self.lengths_2 is not None:
            return self.lengths_2[start:stop]
        if text is None:
            return states.lengths.detach().cpu().numpy().astype(np.int64)
        return self.lengths[start:stop]

    def _first_token(self, text: int | None, start: int, steps: int) -> int:
        if text == 2 and self.offsets_2 is not None:
            return int(self.offsets_2[start])
        return int(self.offsets[start]) if text == 1 else start * steps

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
        split = strings(part["split"]) if "split" in part else [None] * len(part)
        columns: dict[str, Any] = {
            "row": np.arange(start, stop), "text": [first_text(t) for t in texts],
            "label": self.labels[local], "label_id": label_ids, "length": lengths,
            "split": split, "tokens": tokens,
            **prediction_columns(output, list(self.bundle.labels), label_ids),
        }
        if self.lengths_2 is not None:
            columns["length_2"] = self.lengths_2[start:stop]
        for column in self.extras:
            values = part[column]
            as_text = pa.types.is_string(self.schema.field(str(column)).type)
            columns[str(column)] = strings(values) if as_text else values.tolist()
        columns.update(model_columns(self.schema, output, batch, texts,
                                     self.bundle.adapter))
        return pa.Table.from_pydict(columns, schema=self.schema)

    def close(self, after_error: bool = False) -> None:
        """Release file handles. After an error (the folder then has no manifest, and its
        files are about to be deleted) a failing close, e.g. a flush on a full disk, is
        ignored so the clean-up still runs."""
        closers = [file.close for _, file in self.arrays.values()] + [self.token_ids.close]
        if self.token_ids_2 is not None:
            closers.append(self.token_ids_2.close)
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
                "lengths_2": self.lengths_2, "schema": self.schema, "extras": self.extras,
                "arrays": {name: (kind, file.path.name, file.shape)
                           for name, (kind, file) in self.arrays.items()},
                "sources": dict(self.sources), "token_ids_2": self.token_ids_2 is not None}

    def finish(self, capture_info: dict[str, Any], shards: int = 0,
               kernel_check: dict[str, Any] | None = None) -> None:
        """Rename the meta file into place, then write ``manifest.json`` atomically.

        ``shards`` capture shards wrote ``meta.shard-{k}.arrows.part`` files, appended in
        order after this writer's own rows; ``kernel_check`` is the comparison of the
        recomputed states with the module's fused call (:class:`~probe_rnn.capture.batches.
        KernelCheck`), None when none was compared."""
        streams = [self.out / "meta.arrows.part",
                   *(self.out / f"meta.shard-{k}.arrows.part" for k in range(shards))]
        stream_to_parquet(streams, self.out / "meta.parquet.part")
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
            views={name: ViewSpec(f"views/{file.path.name}", kind, tuple(file.shape), self.dtype,
                                  extra=self._view_extra(name))
                   for name, (kind, file) in self.arrays.items()},
            files=self._files(),
            sha256=self._checksums(),
        )
        part = self.out / f"{MANIFEST}.part"
        with open(part, "w", encoding="utf-8") as handle:
            json.dump(manifest.to_dict(), handle, indent=2)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(part, self.out / MANIFEST)

    def _view_extra(self, name: str) -> dict[str, Any]:
        """What a view's steps are, when not text 1's tokens: ``{"text": 2}`` (text 2's tokens,
        per-token views by its offsets), ``{"steps": S}`` (a stepped site: S steps every row)."""
        _, _, text, steps = self.sources[name]
        if text == 1:
            return {}
        return {"text": 2} if text == 2 else {"steps": steps}

    def _files(self) -> dict[str, str]:
        files = {"meta": "meta.parquet", "offsets": "offsets.npy", "token_ids": "token_ids.npy"}
        if self.token_ids_2 is not None:
            files.update(offsets_2="offsets_2.npy", token_ids_2="token_ids_2.npy")
        return files

    def _checksums(self) -> dict[str, str]:  # shards' files: NpyFile.sha256 reads them
        sums = {f"views/{file.path.name}": file.sha256() for _, file in self.arrays.values()}
        sums["token_ids.npy"] = self.token_ids.sha256()
        names = ["offsets.npy", "meta.parquet"]
        if self.token_ids_2 is not None:
            sums["token_ids_2.npy"] = self.token_ids_2.sha256()
            names.append("offsets_2.npy")
        for name in names:  # written whole: hashed from the file
            sums[name] = file_sha256(self.out / name)
        return sums


def _flat(view: Any) -> torch.Tensor:
    """A view as one tensor: per-row lists of token states are concatenated."""
    if isinstance(view, (list, tuple)):
        return torch.cat(list(view), dim=0)
    return view


def _valid_ids(batch: dict[str, Any], lengths: np.ndarray, n_tokens: int, key: str = "ids"
               ) -> np.ndarray:
    """The batch's token ids (``key``: ``ids``, or ``ids_2`` of text 2) at valid positions,
    flat; ``-1`` if the adapter gives none."""
    ids = batch.get(key)
    if not isinstance(ids, torch.Tensor) or ids.dim() != 2 or ids.shape[0] != len(lengths):
        return np.full(n_tokens, -1, dtype=np.int64)
    ids = ids.detach().cpu()
    mask = torch.arange(ids.shape[1])[None, :] < torch.as_tensor(lengths)[:, None]
    return ids[mask].numpy().astype(np.int64)


def _offsets(lengths: np.ndarray) -> np.ndarray:
    offsets = np.zeros(len(lengths) + 1, dtype=np.int64)
    np.cumsum(lengths, out=offsets[1:])
    return offsets


def _versions() -> dict[str, str]:
    from probe_rnn import __version__

    return {"probe_rnn": __version__, "torch": torch.__version__, "numpy": np.__version__}
