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
from probe_rnn.capture.recurrent_sites import Site, forward_sites, module_roles, site_lengths
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
    """Forward every encoded batch under ``record``, hand every site's states to the writer
    and to its diagnosis; return the first site's module name and type, the sites
    (:class:`~probe_rnn.capture.recurrent_sites.Site`), and per site its :class:`ModuleDiagnosis`
    (``None`` for a cell loop, which has no fused ``output``/``h_n`` to compare) and its
    :class:`KernelCheck`.

    ``batches`` hold the rows ``base ..`` of the capture (a shard's; the files are open already
    when ``base`` > 0)."""
    names = _pick_modules(bundle.model, key["requested_module"])
    total = base + sum(int(b["lengths"].shape[0]) for b in batches)
    start = base
    found: list[Site] = []
    checks: dict[str, KernelCheck] = {}
    diagnoses: dict[str, ModuleDiagnosis | None] = {}
    lazy = not reads_step_cells(key["requested_views"])
    with closing(recorded(bundle, batches, names, verify, lazy)) as steps:  # hooks off on errors
        for batch, sites, logits in steps:
            found = found or [site for site, _ in sites]
            _check_same_sites(found, sites, start)
            for site, states in sites:
                checks.setdefault(site.name, KernelCheck()).update(states)
                if site.name not in diagnoses:
                    module = bundle.model.get_submodule(site.module)
                    diagnoses[site.name] = (ModuleDiagnosis(naive=naive_expression(module))
                                            if cell_kind(module) is None else None)
                if diagnoses[site.name] is not None:
                    diagnoses[site.name].update(
                        states, torch.as_tensor(site_lengths(site, states, batch)))
            if start == 0:
                writer.open_views(sites, key["requested_views"])
            writer.write_batch(start, batch, sites, logits)
            start += int(batch["lengths"].shape[0])
            if progress is not None:
                progress(start, total)
    first = bundle.model.get_submodule(found[0].module)
    return {"module": found[0].module, "module_type": type(first).__name__,
            "sites": found, "diagnosis": diagnoses, "kernel_check": checks}


def reads_step_cells(views: Sequence[str] | None) -> bool:
    """Whether storing ``views`` (None: every default view) reads an LSTM's per-step cells:
    a ``cell`` view, per token or at a step. Otherwise the capture lets the fused kernel give
    every ``h`` and computes no cell (``record(lazy_cells=True)``): ``c_n`` is the kernel's."""
    from probe_rnn.catalogue import ViewSpec

    return views is None or any(ViewSpec.parse(name).base == "cell" for name in views)


def _check_same_sites(found: list[Site], sites: list[tuple[Site, Any]], start: int) -> None:
    """Every batch's forward must run the sites of the first batch (one store holds them)."""
    names = [site.name for site, _ in sites]
    if names != [site.name for site in found]:
        raise CaptureError(
            f"the forward of the batch at row {start} ran the recurrent sites "
            f"{', '.join(names) or 'none'}, the first batch's {', '.join(s.name for s in found)}: "
            "a capture needs the same modules called the same way on every batch (fix the "
            "model's or adapter's forward, or capture one module with --module)")


def kernel_check_record(checks: dict[str, KernelCheck]) -> dict[str, Any] | None:
    """The manifest's ``kernel_check`` of every site: one site's :meth:`KernelCheck.record`;
    with several, the largest ``max_abs_error`` and per-output maxima over the sites, the
    first site's ``rows``, and ``sites``: each site's own record."""
    records = {name: check.record() for name, check in checks.items()}
    if len(records) == 1:
        return next(iter(records.values()))
    done = {name: r for name, r in records.items() if r is not None}
    if not done:
        return None
    outputs: dict[str, float] = {}
    for r in done.values():
        for what, value in r["outputs"].items():
            outputs[what] = max(outputs.get(what, 0.0), value)
    return {"max_abs_error": max(r["max_abs_error"] for r in done.values()),
            "outputs": outputs, "rows": next(iter(done.values()))["rows"], "sites": records}


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
             verify: str, lazy_cells: bool = False
             ) -> Iterator[tuple[dict[str, Any], list[tuple[Site, RecurrentStates]], Any]]:
    """Forward every batch once under ``record``; yield ``(batch, sites, output)``, ``sites``
    the forward's :class:`~probe_rnn.capture.recurrent_sites.Site` and states, in execution order,
    ``output`` the model's return read as a :class:`~probe_rnn.models.outputs.ModelOutput`.
    Close it (:func:`contextlib.closing`) so its hooks come off also when the caller fails.

    The first forward's calls are all compared with the fused kernel (each may be a site);
    the recorder drops a batch's states once the caller has consumed them, so memory does
    not grow with the batches; a cell looped by the model is recorded one batch per block
    (its steps are stacked per block). ``lazy_cells``: an LSTM's per-step cells are computed
    only if read (see :func:`~probe_rnn.capture.record`)."""
    model, adapter = bundle.model, bundle.adapter
    roles = module_roles(model)
    per_batch = any(cell_kind(model.get_submodule(n)) is not None for n in names)
    with torch.no_grad(), ExitStack() as stack:
        rec = None if per_batch else stack.enter_context(
            record(model, names, verify, lazy_cells=lazy_cells))
        if rec is not None:
            rec.check_first_forward()
        for index, batch in enumerate(batches):
            if rec is None:
                with record(model, names, verify, lazy_cells=lazy_cells) as batch_rec:
                    if index == 0:
                        batch_rec.check_first_forward()
                    logits = model_output(adapter, model, batch)
                yield batch, _sites(bundle, batch_rec, names, roles, batch), logits
            else:
                logits = model_output(adapter, model, batch)
                yield batch, _sites(bundle, rec, names, roles, batch), logits
                rec.clear()


def _sites(bundle: ModelBundle, rec: Any, names: list[str], roles: dict[str, str],
           batch: dict[str, Any]) -> list[tuple[Site, RecurrentStates]]:
    found = forward_sites(rec, names, roles, batch)
    if not found:
        raise CaptureError(
            f"the forward ran none of the recurrent modules {', '.join(names)}: call the model "
            "inside the adapter's forward")
    _check_rows(bundle, found, batch)
    return found


def sites(bundle_or_model: Any, batch: dict[str, Any]) -> list[Site]:
    """The sites of one forward of ``batch`` (run under ``record``; nothing is written):
    for a model card. ``bundle_or_model`` is a ModelBundle (its adapter runs the forward) or
    an ``nn.Module`` called as ``model(**batch)``."""
    bundle = bundle_or_model if hasattr(bundle_or_model, "adapter") else _ModuleBundle(
        bundle_or_model)
    names = list(recurrent_modules(bundle.model, cells=True))
    if not names:
        raise CaptureError("the model has no nn.RNN/nn.LSTM/nn.GRU (or cell) module: no sites")
    with closing(recorded(bundle, [batch], names, "first", lazy_cells=True)) as steps:
        return [site for _, found, _ in steps for site, _ in found]


class _ModuleBundle:
    """A bare module as a bundle whose adapter calls ``model(**batch)``."""

    def __init__(self, model: torch.nn.Module) -> None:
        self.model, self.adapter = model, self

    @staticmethod
    def forward(model: torch.nn.Module, batch: dict[str, Any]) -> Any:
        return model(**batch)


def _adapter_name(adapter: Any) -> str:
    """``'per-row' (PerRow)``: the registered name the user gave, and the class."""
    from probe_rnn.plugins import registry

    cls = type(adapter)
    names = [e.name for e in registry.entries() if e.kind == "adapter" and e.obj is cls]
    return f"{names[0]!r} ({cls.__name__})" if names else cls.__name__


def _check_rows(bundle: ModelBundle, sites: list[tuple[Site, Any]], batch: dict[str, Any]
               ) -> None:
    """Every site must run on all the batch's rows: a one-line error naming the adapter
    otherwise (an adapter that loops over rows or chunks)."""
    rows = int(batch["lengths"].shape[0])
    wrong = [(site, states) for site, states in sites if states.batch != rows]
    if not wrong:
        return
    module = wrong[0][0].module
    sizes = [states.batch for site, states in sites if site.module == module]
    seen = ", ".join(map(str, sizes[:4])) + (", ..." if len(sizes) > 4 else "")
    raise CaptureError(
        f"one forward of a batch of {rows} rows through adapter {_adapter_name(bundle.adapter)} "
        f"ran the recurrent module {module!r} {len(sizes)} times (on {seen} rows): probe-rnn "
        "captures each call of a recurrent module on the whole batch; make the adapter's "
        "forward call the model once on the batch's padded ids (an adapter that loops over "
        "rows or chunks is not supported)")


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
    batches = encode_batches(bundle, model_inputs(df), batch_size)
    tables: dict[str, ModuleDiagnosis] = {}
    with closing(recorded(bundle, batches, names, "first", lazy_cells=True)) as steps:
        for batch, sites, _ in steps:
            label = {site.name: site.name if len(sites) > 1 else site.module
                     for site, _ in sites}
            for site, states in sites:
                stats = tables.setdefault(label[site.name], ModuleDiagnosis(
                    naive=naive_expression(by_name[site.module])))
                stats.update(states, torch.as_tensor(site_lengths(site, states, batch)))
    return pd.concat([stats.table(name) for name, stats in tables.items()], ignore_index=True)


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


def _pick_modules(model: torch.nn.Module, requested: str | None) -> list[str]:
    """The recurrent modules to capture: every one (each call a site), or the one named."""
    names = list(recurrent_modules(model, cells=True))
    if requested is None:
        if not names:
            raise CaptureError(
                "the model has no nn.RNN/nn.LSTM/nn.GRU (or cell) module: nothing to capture"
            )
        return names
    if requested not in names:
        raise CaptureError(
            f"module {requested!r} is not a recurrent module of the model; recurrent modules: "
            f"{', '.join(names) or 'none'}"
        )
    return [requested]
