"""A state store's ``manifest.json`` as a typed, frozen object (:class:`StoreManifest`).

:class:`~probe_rnn.capture.store_writer.StoreWriter` builds one and writes
:meth:`StoreManifest.to_dict` (the JSON layout stores have always had, key for key);
:class:`~probe_rnn.capture.store.StateStore` reads it with :meth:`StoreManifest.from_dict`, the
one place that refuses a manifest (another format, a newer format version, no views) and
exposes it as ``store.manifest``. ``from_dict(d).to_dict() == d`` for every manifest written
before, so the journal identity hashed from it (:func:`probe_rnn.probing.cells.store_identity`)
does not change.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from probe_rnn.errors import StoreError
from probe_rnn.json_records import known_and_extra, record_json

STORE_FORMAT = "probe-rnn-states"
#: 2: the manifest records a sha256 per file (``sha256``); 3: and the output-vs-hidden diagnosis
#: of the captured states (``capture.diagnosis``). Stores of older formats are recaptured.
STORE_FORMAT_VERSION = 3
MANIFEST = "manifest.json"
_VIEW_KEYS = ("file", "kind", "shape", "dtype")


@dataclass(frozen=True)
class ViewSpec:
    """One stored view: its file (relative to the store), kind (sentence or token), shape
    ``(rows, dim)`` or ``(n_tokens, dim)`` and dtype."""

    file: str
    kind: str
    shape: tuple[int, ...]
    dtype: str | None = None
    extra: dict[str, Any] = field(default_factory=dict)

    @property
    def dim(self) -> int:
        """The feature dimension."""
        return int(self.shape[-1])

    def to_dict(self) -> dict[str, Any]:
        """The view's JSON object (``file``, ``kind``, ``shape``, ``dtype``)."""
        return record_json(self, ("dtype",), self.extra, head={
            "file": self.file, "kind": self.kind, "shape": list(self.shape)})

    @classmethod
    def from_dict(cls, value: Mapping[str, Any]) -> ViewSpec:
        """A view from its JSON object (it must have ``file``, ``kind`` and ``shape``)."""
        return cls(file=value["file"], kind=value["kind"], shape=tuple(value["shape"]),
                   dtype=value.get("dtype"), extra=known_and_extra(value, _VIEW_KEYS)[1])


#: manifest.json's keys in the order the writer has always written them.
_KEYS = ("format", "format_version", "created", "versions", "model", "data", "module",
         "module_type", "dtype", "capture", "kernel_check", "views", "files", "sha256")


@dataclass(frozen=True)
class StoreManifest:
    """``manifest.json``: format, versions, model and data identity, the captured module, the
    dtype, the capture's record (batching, checks, diagnosis), the kernel check (the largest
    ``max |difference|`` of the recomputed ``output``, ``h_n``, ``c_n`` from the module's own
    fused call: ``max_abs_error``, ``outputs``, ``rows``; absent in stores written before it was
    recorded, and for a cell loop), the views, the other files and the sha256 of every file
    (format 2 on). A key an older store lacks is None and stays absent from :meth:`to_dict`;
    ``extra`` keeps keys this version does not know."""

    format: str
    views: dict[str, ViewSpec]
    format_version: int | None = None
    created: str | None = None
    versions: dict[str, Any] | None = None
    model: dict[str, Any] | None = None
    data: dict[str, Any] | None = None
    module: str | None = None
    module_type: str | None = None
    dtype: str | None = None
    capture: dict[str, Any] | None = None
    kernel_check: dict[str, Any] | None = None
    files: dict[str, str] | None = None
    sha256: dict[str, str] | None = None
    extra: dict[str, Any] = field(default_factory=dict)

    @property
    def n_rows(self) -> int:
        """Number of sentences in the store."""
        return int((self.data or {})["rows"])

    @property
    def n_tokens(self) -> int:
        """Number of valid tokens over all sentences."""
        return int((self.data or {})["tokens"])

    @property
    def diagnosis(self) -> Any:
        """The output-vs-hidden diagnosis the capture measured (None before format 3)."""
        return (self.capture or {}).get("diagnosis")

    @property
    def max_kernel_error(self) -> float | None:
        """The kernel check's largest absolute error (None when the store records none)."""
        value = (self.kernel_check or {}).get("max_abs_error")
        return None if value is None else float(value)

    def to_dict(self) -> dict[str, Any]:
        """The manifest's JSON object, keys in the order the writer writes them."""
        return record_json(self, _KEYS, self.extra, encode={
            "views": lambda views: {name: spec.to_dict() for name, spec in views.items()}})

    @classmethod
    def from_dict(cls, value: Any, where: str = MANIFEST) -> StoreManifest:
        """The manifest in ``value`` (parsed ``manifest.json`` at ``where``).

        Raises
        ------
        StoreError
            It is not a probe-rnn state store manifest, is of a newer format version, or lists
            no views (or views without file, kind and shape); one line with the fix.
        """
        if not isinstance(value, Mapping) or value.get("format") != STORE_FORMAT:
            raise StoreError(f"{where} is not a probe-rnn state store manifest: "
                             "re-run `probe-rnn capture` into an empty folder")
        if value.get("format_version", 0) > STORE_FORMAT_VERSION:
            raise StoreError(f"{Path(where).parent} was written by a newer probe-rnn (store format "
                             f"{value.get('format_version')}): upgrade probe-rnn or re-capture")
        views = value.get("views")
        if not isinstance(views, Mapping) or not all(
                isinstance(v, Mapping) and {"file", "kind", "shape"} <= set(v)
                for v in views.values()):
            raise StoreError(f"{where} lists no views (or views without file, kind and "
                             "shape): the store is damaged; re-run `probe-rnn capture`")
        known, extra = known_and_extra(value, _KEYS)
        known["views"] = {str(n): ViewSpec.from_dict(v) for n, v in views.items()}
        return cls(**known, extra=extra)


def kernel_error(kernel_check: Mapping[str, Any] | None) -> str:
    """The kernel check's largest absolute error as printed (``2.98e-08``), or "not recorded"."""
    if not kernel_check or kernel_check.get("max_abs_error") is None:
        return "not recorded"
    return f"{float(kernel_check['max_abs_error']):.3g}"


def describe_kernel_check(kernel_check: Mapping[str, Any] | None) -> str:
    """The kernel check in words, for the terminal and the report: ``largest |difference|
    from the fused kernel 2.98e-08 (output, h_n, c_n over 64 rows)``."""
    if not kernel_check or kernel_check.get("max_abs_error") is None:
        return ("no fused-kernel check recorded (a cell loop has no fused call to compare; a "
                "store written by an older probe-rnn did not record it)")
    compared = ", ".join(kernel_check.get("outputs") or {}) or "the outputs"
    return (f"largest |difference| from the fused kernel {kernel_error(kernel_check)} "
            f"({compared} over {int(kernel_check.get('rows') or 0)} rows)")
