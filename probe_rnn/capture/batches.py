"""Run a model over a table's encoded batches under :func:`~probe_rnn.capture.record`.

The one loop that a capture (:mod:`probe_rnn.capture.run_capture`), its Dask shards
(:mod:`probe_rnn.capture.shards`) and the diagnosis alone (:func:`diagnose`) share: texts are
encoded once (:func:`encode_batches`), every batch runs the model once, and its states go to a
store writer and to the output-vs-hidden diagnosis (:mod:`probe_rnn.capture.diagnosis`) before
the recorder lets them go, so memory does not grow with the number of batches.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Sequence
from contextlib import ExitStack, closing
from typing import TYPE_CHECKING, Any

import pandas as pd
import torch

from probe_rnn.capture.diagnosis import ModuleDiagnosis, naive_expression
from probe_rnn.capture.recorder import record
from probe_rnn.data.text_pairs import model_inputs
from probe_rnn.errors import CaptureError, DataError
from probe_rnn.hashing import sha256
from probe_rnn.models.adapters import model_output
from probe_rnn.models.recurrent import cell_kind, recurrent_modules
from probe_rnn.validation import Interval, check_param

if TYPE_CHECKING:
    from collections.abc import Callable

    from probe_rnn.capture.states import RecurrentStates
    from probe_rnn.capture.store_writer import StoreWriter
    from probe_rnn.models import ModelBundle

def check_batch_size(batch_size: Any) -> None:
    """``batch_size`` must be a whole number of rows, at least 1."""
    check_param("batch_size", batch_size, Interval(int, 1, None))


def encode_batches(bundle: ModelBundle, texts: list[str], batch_size: int
                   ) -> list[dict[str, Any]]:
    """The model's inputs for every batch, encoded once: their ``lengths`` size the store's
    files before any forward pass, and the forward passes reuse them. They hold token ids
    only (8 bytes a padded token: 0.5 MB for 5,000 names, 40 MB for 90,000 rows of 60 tokens)."""
    return [bundle.adapter.encode(texts[start : start + batch_size])
            for start in range(0, len(texts), batch_size)]


def run_batches(
    bundle: ModelBundle,
    batches: list[dict[str, Any]],
    writer: StoreWriter,
    key: dict[str, Any],
    verify: str,
    progress: Callable[[int, int], None] | None,
    base: int = 0,
) -> dict[str, Any]:
    """Forward every encoded batch under ``record``, hand its states to the writer and to the
    diagnosis; return the module's name and type and its :class:`ModuleDiagnosis` (``None``
    for a cell loop, which has no fused ``output``/``h_n`` to compare).

    ``batches`` hold the rows ``base ..`` of the capture (a shard's; the files are open already
    when ``base`` > 0)."""
    name = _pick_module(bundle.model, key["requested_module"])
    module = bundle.model.get_submodule(name)
    fused = cell_kind(module) is None
    diagnosis = ModuleDiagnosis(naive=naive_expression(module)) if fused else None
    total = base + sum(int(b["lengths"].shape[0]) for b in batches)
    start = base
    check = KernelCheck()
    with closing(recorded(bundle, batches, [name], verify)) as steps:  # hooks off on errors
        for batch, states, logits in steps:
            check.update(states[name])
            if diagnosis is not None:
                diagnosis.update(states[name], batch["lengths"])
            if start == 0:
                writer.open_views(_views_to_store(states[name], key["requested_views"]),
                                  states[name])
            writer.write_batch(start, batch, states[name], logits)
            start += int(batch["lengths"].shape[0])
            if progress is not None:
                progress(start, total)
    return {"module": name, "module_type": type(module).__name__, "diagnosis": diagnosis,
            "kernel_check": check.record()}


class KernelCheck:
    """The largest ``max |difference|`` of the recomputed ``output``, ``h_n`` (and ``c_n``)
    from the module's own fused call over the calls compared with it (the first call of a
    ``record`` block; a cell loop has no fused call to compare)."""

    def __init__(self) -> None:
        self.outputs: dict[str, float] = {}
        self.rows = 0

    def update(self, states: RecurrentStates) -> None:
        """Add one call's comparison (nothing when the call was not compared)."""
        found = getattr(states, "fused_check", None)
        if not found:
            return
        for what, value in found.items():
            self.outputs[what] = max(self.outputs.get(what, 0.0), float(value))
        self.rows += states.batch

    def record(self) -> dict[str, Any] | None:
        """The manifest's ``kernel_check``: ``max_abs_error`` (the largest of all),
        ``outputs`` (per compared output) and ``rows`` (rows compared); None when no call
        was compared."""
        if not self.outputs:
            return None
        return {"max_abs_error": max(self.outputs.values()), "outputs": dict(self.outputs),
                "rows": self.rows}


def recorded(bundle: ModelBundle, batches: Iterable[dict[str, Any]], names: list[str],
             verify: str) -> Iterator[tuple[dict[str, Any], dict[str, RecurrentStates], Any]]:
    """Forward every batch once under ``record``; yield ``(batch, states by module, output)``
    (the model's return read as a :class:`~probe_rnn.models.outputs.ModelOutput`).
    Close it (:func:`contextlib.closing`) so its hooks come off also when the caller fails.

    The recorder drops a batch's states once the caller has consumed them, so memory does
    not grow with the batches; a cell looped by the model is recorded one batch per block
    (its steps are stacked per block)."""
    model, adapter = bundle.model, bundle.adapter
    per_batch = any(cell_kind(model.get_submodule(n)) is not None for n in names)
    with torch.no_grad(), ExitStack() as stack:
        rec = None if per_batch else stack.enter_context(record(model, names, verify))
        for batch in batches:
            if rec is None:
                with record(model, names, verify) as batch_rec:
                    logits = model_output(adapter, model, batch)
                yield batch, {n: batch_rec[n] for n in names}, logits
            else:
                logits = model_output(adapter, model, batch)
                _check_one_call(bundle, rec, names, batch)
                yield batch, {n: rec[n] for n in names}, logits
                rec.clear()


def _adapter_name(adapter: Any) -> str:
    """``'per-row' (PerRow)``: the registered name the user gave, and the class."""
    from probe_rnn.plugins import registry

    cls = type(adapter)
    names = [e.name for e in registry.entries() if e.kind == "adapter" and e.obj is cls]
    return f"{names[0]!r} ({cls.__name__})" if names else cls.__name__


def _check_one_call(bundle: ModelBundle, rec: Any, names: list[str], batch: dict[str, Any]
                    ) -> None:
    """One forward of a batch must run each recorded recurrent module once, on all its rows:
    a one-line error naming the adapter otherwise (an adapter that loops over rows, a model
    that runs the module on a pair or in an encoder and a decoder)."""
    for name in names:
        calls = rec.calls(name)
        if len(calls) <= 1:
            continue
        rows = int(batch["lengths"].shape[0])
        sizes = [int(st.output.shape[0]) for st in calls[:4]]
        seen = ", ".join(map(str, sizes)) + (", ..." if len(calls) > 4 else "")
        adapter = _adapter_name(bundle.adapter)
        raise CaptureError(
            f"one forward of a batch of {rows} rows through adapter {adapter} ran the recurrent "
            f"module {name!r} {len(calls)} times (on {seen} rows): probe-rnn captures one call "
            "of each recurrent module per forward, on the whole batch; make the adapter's "
            "forward call the model once on the batch's padded ids (an adapter that loops over "
            "rows or chunks is not supported, nor yet a model that runs the module twice, e.g. "
            "on a pair)")


def diagnose(
    bundle: ModelBundle,
    df: pd.DataFrame,
    batch_size: int = 256,
    modules: Sequence[str] | None = None,
) -> pd.DataFrame:
    """Measure what ``output`` and ``h_n`` hold for every recurrent module on this data.

    A capture (:func:`~probe_rnn.capture.capture_states`) measures the same for its module while it
    runs; this runs the model for the diagnosis alone.

    Parameters
    ----------
    bundle : ModelBundle
        The model and its adapter; batches are built exactly as the model sees them.
    df : pandas.DataFrame
        Column ``text`` (labels are not needed).
    batch_size : int
        Rows per forward pass; padding (hence ``output@-1``) depends on it.
    modules : sequence of str, optional
        Recurrent module names; default: every ``nn.RNN``/``nn.LSTM``/``nn.GRU`` of the model.

    Returns
    -------
    pandas.DataFrame
        One row per (module, check), columns ``module, check, value, unit, explanation``.
    """
    check_batch_size(batch_size)
    if "text" not in df.columns or len(df) == 0:
        raise DataError("diagnose needs a non-empty table with a 'text' column")
    by_name = dict(bundle.model.named_modules())
    names = list(modules) if modules is not None else list(recurrent_modules(bundle.model))
    if not names:
        raise CaptureError("the model has no nn.RNN/nn.LSTM/nn.GRU module: nothing to diagnose")
    stats = {name: ModuleDiagnosis(naive=naive_expression(by_name[name])) for name in names}
    batches = encode_batches(bundle, model_inputs(df), batch_size)
    with closing(recorded(bundle, batches, names, "first")) as steps:
        for batch, states, _ in steps:
            for name in names:
                stats[name].update(states[name], batch["lengths"])
    return pd.concat([stats[name].table(name) for name in names], ignore_index=True)


def weights_checksum(model: torch.nn.Module) -> str:
    """sha256 of a model's parameters and buffers (names, dtypes, shapes, bytes).

    Identifies the weights actually captured, also for bundles built in memory or re-initialised
    (whose checkpoint checksum is empty or that of another model).
    """
    digest = sha256()
    for name, tensor in sorted(model.state_dict().items()):
        data = tensor.detach().cpu().contiguous().reshape(-1)
        digest.update(f"{name}|{data.dtype}|{tuple(tensor.shape)}\n".encode())
        digest.update(data.view(torch.uint8).numpy().tobytes())
    return digest.hexdigest()


def _pick_module(model: torch.nn.Module, requested: str | None) -> str:
    names = list(recurrent_modules(model, cells=True))
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


def _views_to_store(states: RecurrentStates, requested: list[str] | None) -> dict[str, str]:
    """Map the views to store to their kind (``"sentence"`` or ``"token"``), in order."""
    from probe_rnn.capture.views import available_views, gate_views, resolve_views

    return resolve_views(available_views(states), requested, optional=gate_views(states))
