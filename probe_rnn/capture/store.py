"""On-disk state store: read a captured run folder as memory-mapped arrays.

A store is a folder written by :func:`probe_rnn.capture.capture_states`::

    manifest.json        written last: format, checksums, views -> {file, kind, shape, dtype},
                         files -> sha256 of every file below (computed while writing)
    meta.parquet         one row per sentence (row, text, label, prediction, tokens, ...)
    offsets.npy          (rows + 1,) start of each row's tokens in the flat per-token arrays
    token_ids.npy        (n_tokens,) the model's token ids, flat
    offsets_2.npy        text 2's offsets (a pair's second text, a target), when a site reads it
    token_ids_2.npy      text 2's token ids, flat, likewise
    views/<name>.npy     sentence views (rows, dim); per-token views flat (n_tokens, dim)

A model with several recurrent sites (:mod:`probe_rnn.capture.recurrent_sites`) has
``SITE:VIEW`` views; a view records what its steps are (the manifest view's ``text``: 2 for
text 2, by ``offsets_2.npy``; ``steps``: S for a stepped site, S steps every row; else text
1's tokens).

A folder without ``manifest.json`` is never a store: an interrupted capture cannot be
mistaken for a complete one. :class:`StateStore` hands out views without loading them: stored
arrays come back memory-mapped, and ``@t`` views (``hidden/L0/fwd@3``, ``cell/L1/bwd@-2``,
``gate/L0/fwd/f@-1``) are gathered from the flat per-token arrays through the row offsets.
:meth:`StateStore.verify` checks files against the sha256 the manifest records for them: a
store is reused only when every file still matches (a changed array is recaptured, never read
as if it were the states).
"""

from __future__ import annotations

import contextlib
import html
import json
import re
from collections.abc import Callable, Sequence
from functools import cached_property
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from probe_rnn.capture.manifest import (
    MANIFEST,
    STORE_FORMAT,
    STORE_FORMAT_VERSION,
    StoreManifest,
    ViewSpec,
)
from probe_rnn.catalogue import try_parse
from probe_rnn.errors import Mention, StoreError
from probe_rnn.hashing import file_sha256


def view_file_name(name: str) -> str:
    """File name (inside ``views/``) for a view name, e.g. ``h_n/L0/fwd`` -> ``h_n.L0.fwd.npy``."""
    safe = name.replace("/", ".").replace("@", "_at_").replace("(", "_").replace(")", "")
    safe = re.sub(r"[^A-Za-z0-9._-]", "_", safe)
    return f"{safe}.npy"


class StateStore:
    """A complete state store folder, read lazily.

    Parameters
    ----------
    path : str or Path
        Folder written by :func:`~probe_rnn.capture.capture_states`.

    Raises
    ------
    StoreError
        The folder or its ``manifest.json`` is missing, of another format or lists no views.
    """

    def __init__(self, path: str | Path) -> None:
        self.path = Path(path)
        manifest_path = self.path / MANIFEST
        if not manifest_path.is_file():
            raise StoreError(
                f"{self.path} is not a complete state store (no {MANIFEST}): "
                "re-run `probe-rnn capture`"
            )
        try:
            manifest = json.loads(manifest_path.read_text(encoding="utf-8"))
        except (OSError, ValueError) as exc:
            raise StoreError(
                f"{manifest_path} cannot be read ({exc}): re-run `probe-rnn capture`"
            ) from exc
        self._manifest = StoreManifest.from_dict(manifest, str(manifest_path))
        self._arrays: dict[str, np.ndarray] = {}

    def __getstate__(self) -> dict[str, Any]:
        """Pickle the path and manifest only (workers re-open the arrays memory-mapped)."""
        return {"path": self.path, "_manifest": self._manifest, "_arrays": {}}

    # -- description ---------------------------------------------------------------------
    @property
    def manifest(self) -> StoreManifest:
        """The store's ``manifest.json`` (:class:`~probe_rnn.capture.manifest.StoreManifest`)."""
        return self._manifest

    @property
    def views(self) -> list[str]:
        """Names of the stored views, sentence views first, in capture order."""
        return list(self._manifest.views)

    @property
    def dims(self) -> dict[str, int]:
        """Feature dimension of every stored view."""
        return {name: spec.dim for name, spec in self._manifest.views.items()}

    @property
    def n_rows(self) -> int:
        """Number of sentences in the store."""
        return self._manifest.n_rows

    @property
    def n_tokens(self) -> int:
        """Number of valid tokens over all sentences."""
        return self._manifest.n_tokens

    def __len__(self) -> int:
        return self.n_rows

    @cached_property
    def meta(self) -> pd.DataFrame:
        """One row per sentence: ``row, text, label, label_id, length, split, prediction, ...``."""
        return pd.read_parquet(self._file(self._files["meta"]))

    def kind(self, name: str) -> str:
        """``"sentence"`` or ``"token"`` for a stored view; ``"sentence"`` for a derived ``@t``."""
        spec = self._manifest.views.get(name)
        if spec is not None:
            return spec.kind
        self._derivation(name)
        return "sentence"

    # -- arrays --------------------------------------------------------------------------
    def offsets(self) -> np.ndarray:
        """Row offsets into the flat per-token arrays, shape ``(rows + 1,)``."""
        return self._load(self._files["offsets"])

    def lengths(self) -> np.ndarray:
        """Valid tokens per row, shape ``(rows,)``."""
        return np.diff(self.offsets())

    def token_ids(self) -> np.ndarray:
        """The model's token ids, flat ``(n_tokens,)`` (``-1`` where the adapter gave none)."""
        return self._load(self._files["token_ids"])

    def text_of(self, name: str) -> int | None:
        """Which text a view's steps are: 1 (the row's text), 2 (its second text: a pair's b,
        a target), or None (a stepped site's own steps: no text's tokens)."""
        spec = self._manifest.views.get(name) or self._spec(self._derivation(name)[0])
        if "steps" in spec.extra:
            return None
        return 2 if spec.extra.get("text") == 2 else 1

    def view_offsets(self, name: str) -> np.ndarray:
        """Row offsets into a per-token view's flat array (text 1's :meth:`offsets`, text 2's
        ``offsets_2.npy``, or ``S * row`` for a stepped site), shape ``(rows + 1,)``."""
        spec = self._spec(name)
        if "steps" in spec.extra:
            return np.arange(self.n_rows + 1, dtype=np.int64) * int(spec.extra["steps"])
        if spec.extra.get("text") == 2:
            return self._load(self._files["offsets_2"])
        return self.offsets()

    def tokens(self, name: str) -> tuple[np.ndarray, np.ndarray]:
        """A per-token view as ``(flat (n_tokens, dim), offsets (rows + 1,))``, memory-mapped.

        Row ``i``'s states are ``flat[offsets[i]:offsets[i + 1]]``, one per valid token.
        """
        spec = self._spec(name)
        if spec.kind != "token":
            raise StoreError(
                f"view {name!r} is a sentence view: use StateStore.sentence({name!r}); "
                f"per-token views here: {', '.join(self._token_views()) or 'none'}"
            )
        return self._load(spec.file), self.view_offsets(name)

    def sentence(self, name: str) -> np.ndarray:
        """A sentence view ``(rows, dim)``: memory-mapped if stored, gathered if ``@t``.

        For a derived ``@t`` view, rows without position ``t`` are NaN; use
        :meth:`sentence_masked` to get the mask of valid rows.
        """
        return self.sentence_masked(name)[0]

    def sentence_masked(self, name: str) -> tuple[np.ndarray, np.ndarray]:
        """A sentence view and which rows hold it: ``(values (rows, dim), mask (rows,) bool)``.

        Stored sentence views are valid for every row. ``base@t`` with ``t >= 0`` is the state
        at absolute step ``t`` (rows with ``length <= t`` are masked out); ``t < 0`` counts from
        each row's own end (``@-1`` is the last valid step; rows with ``length < -t`` masked).
        ``output@last``, when not stored itself, is read from the per-token ``output``
        (``output@-1``, padding included, cannot be derived: it is stored or absent).
        """
        spec = self._manifest.views.get(name)
        if spec is not None and spec.kind == "sentence":
            return self._load(spec.file), np.ones(self.n_rows, dtype=bool)
        if spec is not None:
            raise StoreError(
                f"view {name!r} is per-token: use StateStore.tokens({name!r}) or a position "
                f"such as {name}@0 or {name}@-1"
            )
        base, t = self._derivation(name)
        flat, offsets = self.tokens(base)
        lengths = np.diff(offsets)
        if t >= 0:
            mask = lengths > t
            index = offsets[:-1] + t
        else:
            mask = lengths >= -t
            index = offsets[1:] + t
        values = np.full((self.n_rows, flat.shape[1]), np.nan, dtype=flat.dtype)
        values[mask] = flat[index[mask]]
        return values, mask

    # -- integrity -----------------------------------------------------------------------
    def files(self, names: Sequence[str] | None = None) -> list[str]:
        """The store's files (relative paths): meta, offsets, token ids and the arrays of
        ``names`` (default: every stored view; a derived ``@t`` view stands for its base)."""
        files = self._files
        chosen = [files["meta"], files["offsets"], files["token_ids"]]
        chosen += [files[key] for key in ("offsets_2", "token_ids_2") if key in files]
        for name in self.views if names is None else names:
            base = name if name in self._manifest.views else self._derivation(name)[0]
            chosen.append(self._manifest.views[base].file)
        return list(dict.fromkeys(chosen))

    def damaged(self, names: Sequence[str] | None = None) -> Path | None:
        """The first file (of :meth:`files`) that is missing or no longer matches the sha256
        recorded when it was written, or None when all match."""
        recorded = self._manifest.sha256 or {}
        for relative in self.files(names):
            path = self.path / relative
            if not path.is_file() or recorded.get(relative) != file_sha256(path):
                return path
        return None

    def verify(self, names: Sequence[str] | None = None) -> None:
        """Check files against the sha256 recorded in the manifest when they were written.

        Parameters
        ----------
        names : sequence of str, optional
            Views whose arrays to check (default: all), besides meta, offsets and token ids.

        Raises
        ------
        StoreError
            A file is missing or changed since capture, or the store records no checksums
            (written before store format 2); the message names the file.
        """
        if not isinstance(self._manifest.sha256, dict):
            raise StoreError(
                f"{self.path} records no checksums (store format "
                f"{self._manifest.format_version}): re-run `probe-rnn probe` on the run "
                "folder (or `probe-rnn capture`) to recapture it"
            )
        path = self.damaged(names)
        if path is not None:
            raise StoreError(
                f"{path} does not match the checksum recorded when it was captured (changed or "
                "damaged since): re-run `probe-rnn probe` on the run folder (or "
                "`probe-rnn capture`) to recapture it"
            )

    # -- helpers -------------------------------------------------------------------------
    def _token_views(self) -> list[str]:
        return [n for n, s in self._manifest.views.items() if s.kind == "token"]

    @property
    def _files(self) -> dict[str, str]:
        return self._manifest.files or {}

    def _spec(self, name: str) -> ViewSpec:
        spec = self._manifest.views.get(name)
        if spec is None:
            raise self._missing(name)
        return spec

    def _missing(self, name: str) -> StoreError:
        return StoreError(
            f"view {name!r} is not in the store {self.path}; stored views: "
            f"{', '.join(self.views)} (capture again naming it in ", Mention("views"),
            " to add it)")

    def _derivation(self, name: str) -> tuple[str, int]:
        """``(per-token base, t)`` of a view read at one step: ``hidden/L0/fwd@3``,
        ``cell/L1/bwd@-2``, ``gate/L0/fwd/f@-1``, and ``output@last`` from ``output``."""
        spec = try_parse(name)
        if spec is None or not spec.reads_step:
            raise self._missing(name)
        base = spec.without_step().name
        if base not in self._token_views():
            raise self._missing(name)
        return base, spec.t

    def _file(self, relative: str) -> Path:
        path = self.path / relative
        if not path.is_file():
            raise StoreError(
                f"{path} is missing from the state store: re-run `probe-rnn capture`"
            )
        return path

    def _load(self, relative: str) -> np.ndarray:
        if relative not in self._arrays:
            try:
                self._arrays[relative] = np.load(self._file(relative), mmap_mode="r")
            except ValueError as exc:
                raise StoreError(
                    f"{self.path / relative} is damaged ({exc}): re-run `probe-rnn capture`"
                ) from exc
        return self._arrays[relative]

    # -- display -------------------------------------------------------------------------
    def _summary(self) -> tuple[str, list[tuple[str, str]]]:
        m = self._manifest
        title = (
            f"StateStore {self.path} — {self.n_rows} rows, {self.n_tokens} tokens, "
            f"{len(self.views)} views ({m.dtype or '?'}), module {m.module or '?'!r}"
        )
        rows = [(n, f"{s.kind} {tuple(s.shape)}") for n, s in m.views.items()]
        return title, rows

    def __repr__(self) -> str:
        title, rows = self._summary()
        shown = ", ".join(name for name, _ in rows[:8])
        more = f", ... (+{len(rows) - 8})" if len(rows) > 8 else ""
        return f"<{title}: {shown}{more}>"

    def _repr_html_(self) -> str:
        title, rows = self._summary()
        body = "".join(
            f"<tr><td><code>{html.escape(n)}</code></td><td>{html.escape(d)}</td></tr>"
            for n, d in rows
        )
        return (
            f"<div><b>{html.escape(title)}</b><table><tr><th>view</th><th>kind, shape</th></tr>"
            f"{body}</table></div>"
        )


def clear_store(out: Path, written: Sequence[str] = ()) -> None:
    """Delete a store's own files in ``out`` (manifest first), nothing else; of ``views/``: the
    arrays its manifest lists and ``written`` (those a failed capture began, ``views/x.npy``)."""
    listed = list(written)  # without a readable manifest, no other view file is known as ours
    with contextlib.suppress(OSError, ValueError, KeyError, TypeError, AttributeError):
        manifest = json.loads((out / MANIFEST).read_text(encoding="utf-8"))
        listed += [str(spec["file"]) for spec in manifest["views"].values()]
    for name in (MANIFEST, f"{MANIFEST}.part", "meta.parquet", "meta.parquet.part",
                 "meta.arrows.part", "offsets.npy", "token_ids.npy", "offsets_2.npy",
                 "token_ids_2.npy", *listed):
        file = (out / name).resolve()
        if file.parent in (out.resolve(), (out / "views").resolve()):
            file.unlink(missing_ok=True)
    with contextlib.suppress(OSError):  # views/ goes only when it is left empty
        (out / "views").rmdir()


def reusable_store(out: Path, key: dict[str, Any],
                   notice: Callable[[str], None] | None = None) -> StateStore | None:
    """The existing store in ``out`` if it is complete, was made from the same inputs and every
    file matches its checksum; a store that fails the checksums is reported to ``notice``."""
    manifest_path = out / MANIFEST
    if not manifest_path.is_file():
        return None
    try:
        manifest = json.loads(manifest_path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    if not isinstance(manifest, dict) or manifest.get("format") != STORE_FORMAT:
        raise StoreError(
            f"{manifest_path} exists but is not a probe-rnn state store: "
            "capture into another folder"
        )
    if manifest.get("format_version") != STORE_FORMAT_VERSION:
        return None
    if any(manifest.get("capture", {}).get(k) != v for k, v in key.items()):
        return None
    try:
        store = StateStore(out)
        for name in store.views:
            store._load(store.manifest.views[name].file)
        store.offsets()
        store.token_ids()
        store._file(store._files["meta"])
    except StoreError:
        return None
    damaged = store.damaged()
    if damaged is not None:
        if notice is not None:
            notice(f"{damaged} does not match the checksum recorded when it was captured; "
                   "recapturing the states")
        return None
    return store
