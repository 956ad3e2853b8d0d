"""``intervene``: does the model use what its states carry? Every registered intervention and
the conditional information of the top layer's sentence views, as one table.

By default the interventions run on the top layer's sentence views (:func:`default_views`:
``output@last``, each direction's ``h_n`` and, bidirectional, both concatenated) and patching
also on the top layer's per-step states ``hidden/L{top}/{dir}@t`` (:func:`default_steps`), on
the held-out rows; erasers and ablation values are fitted on a seeded sample of training rows.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from probe_rnn.catalogue import OUTPUT_LAST, directions, final_view, state_view
from probe_rnn.errors import DataError, Mention, ParameterError, PluginError
from probe_rnn.interventions.conditional import conditional_row, same_values_row
from probe_rnn.interventions.setup import InterventionSetup, new_setup
from probe_rnn.interventions.table import as_table
from probe_rnn.models.recurrent import first_recurrent
from probe_rnn.validation import shown

#: Training rows erasers and ablation values are fitted on (a seeded sample, at most).
TRAIN_ROWS = 1000
#: Held-out rows intervened on, at most (a seeded sample beyond). The clean states kept for
#: the replaced runs and the per-step erasure's runs grow with the rows: at 4,000 rows of a
#: hidden-256 BiLSTM (22.5 words a row) the stage took 278 s and the run peaked at 1.84 GB,
#: and a sentence view's accuracy drop is known to about one point there.
MAX_ROWS = 4000
#: Per-step views reach at most this many steps.
MAX_STEPS = 40


@dataclass
class Interventions:
    """What :func:`intervene` found: ``table`` (the interventions table) and its setup."""

    table: pd.DataFrame
    setup: InterventionSetup | None = field(default=None, repr=False)

    def _repr_html_(self) -> str:
        n = self.table["intervention"].nunique() if len(self.table) else 0
        return (f"<p>probe-rnn interventions: {len(self.table)} rows, {n} interventions</p>"
                + self.table.to_html(index=False, max_rows=30, escape=True))


def default_views(layers: int, n_directions: int) -> list[str]:
    """The top layer's sentence views: ``output@last``, ``h_n/L{top}/{dir}`` and, with two
    directions, ``h_n/L{top}`` (with one it is the same vector as ``h_n/L{top}/fwd``)."""
    top = layers - 1
    views = [OUTPUT_LAST, *(state_view("h_n", top, d) for d in directions(n_directions))]
    return views + ([final_view("h_n", top)] if n_directions == 2 else [])


def default_steps(layers: int, n_directions: int, lengths: np.ndarray,
                  max_steps: int = MAX_STEPS) -> list[str]:
    """``hidden/L{top}/{dir}@t`` for every direction and every t below the longest row (at
    most ``max_steps``)."""
    width = min(int(np.max(lengths)) if len(lengths) else 0, max_steps)
    return [state_view("hidden", layers - 1, d, t=t) for d in directions(n_directions)
            for t in range(width)]


def _rows(df: pd.DataFrame, rows: Sequence[int] | None, train_rows: Sequence[int] | None,
          seed: int, max_rows: int | None = MAX_ROWS) -> tuple[np.ndarray, np.ndarray]:
    """Held-out and training row positions: given, or the table's dev/test and train splits
    (a seeded sample of at most :data:`TRAIN_ROWS` training rows); past ``max_rows``
    held-out rows, a seeded sample of that many, in table order."""
    split = df["split"].astype(str).to_numpy() if "split" in df.columns else None
    if rows is None:
        if split is None:
            raise DataError("the table has no split column: pass ", Mention("rows"),
                            " (held-out row positions) and ", Mention("train_rows"))
        rows = np.flatnonzero(np.isin(split, ("dev", "test")))
    if train_rows is None:
        pool = np.flatnonzero(split == "train") if split is not None else np.array([], int)
        take = min(TRAIN_ROWS, len(pool))
        train_rows = np.sort(np.random.default_rng(seed).choice(pool, take, replace=False))
    rows, train_rows = np.asarray(rows, dtype=np.int64), np.asarray(train_rows, dtype=np.int64)
    if max_rows is not None and (isinstance(max_rows, bool) or not isinstance(
            max_rows, int | np.integer) or max_rows < 4):
        raise ParameterError("max_rows", "an integer >= 4, or None for every row",
                             shown(max_rows))
    if max_rows is not None and len(rows) > max_rows:
        rows = np.sort(np.random.default_rng([seed, 1]).choice(rows, int(max_rows),
                                                                replace=False))
    if len(rows) < 4 or len(train_rows) < 4:
        raise DataError(f"interventions need at least 4 held-out and 4 training rows; got "
                        f"{len(rows)} and {len(train_rows)}: use a larger table")
    return rows, train_rows


def intervene(bundle, df: pd.DataFrame, rows: Sequence[int] | None = None, *,
              train_rows: Sequence[int] | None = None, views: Sequence[str] | None = None,
              steps: bool | Sequence[str] = True, task: str = "label",
              interventions: Sequence[str] | None = None, conditional: bool = True,
              seed: int = 0, batch_size: int = 256, max_rows: int | None = MAX_ROWS,
              progress: Callable[[int, int, str], Any] | None = None) -> Interventions:
    """Run the interventions on ``bundle`` over rows of ``df``; one table of their results.

    Parameters
    ----------
    bundle : ModelBundle
        A model with one recurrent module (``nn.LSTM``, ``nn.GRU`` or ``nn.RNN``).
    df : DataFrame
        ``text``, ``label`` and (unless ``rows`` and ``train_rows`` are given) ``split``.
    rows, train_rows : row positions, optional
        The held-out rows intervened on (default: dev and test rows) and the training rows
        erasers and ablation values are fitted on (default: a seeded sample of train rows).
    max_rows : int or None
        At most this many held-out rows (default :data:`MAX_ROWS`): a seeded sample of
        ``rows`` beyond it; None: every one.
    views : view names, optional
        Sentence views (default :func:`default_views`).
    steps : bool or view names
        Per-step views for patching's curve over t (True: :func:`default_steps`).
    task : str
        The concept erased and the conditional bits' task: ``label``, ``prediction`` or a
        column of ``df``.
    interventions : names, optional
        Registered interventions to run (default: every one registered, plugins included).
    conditional : bool
        Also measure the bits ``h_n/L{top}`` adds beyond ``output@last`` and back.
    progress : callable, optional
        ``progress(done, total, what)`` in units: the setup, each view of each intervention
        (one for an intervention without ``units``), the conditional bits.
    """
    from probe_rnn.plugins import registry

    found = first_recurrent(bundle.model)
    if found is None:
        raise DataError("interventions need a model with an nn.LSTM, nn.GRU or nn.RNN")
    module = found[1]
    shape = (module.num_layers, 2 if module.bidirectional else 1)
    held, train = _rows(df, rows, train_rows, seed, max_rows)
    view_list = list(views) if views is not None else default_views(*shape)
    lengths = bundle.adapter.encode(df["text"].iloc[held].astype(str).tolist())["lengths"]
    step_list = (default_steps(*shape, lengths.numpy()) if steps is True else
                 list(steps) if steps else [])
    setup = new_setup(bundle, df.iloc[held], df.iloc[train], view_list, step_list, task, seed,
                      batch_size)
    runs = [(name, registry.get("intervention", name)()) for name in (
        registry.names("intervention") if interventions is None else interventions)]
    # the setup, every view of every intervention, the conditional bits
    units = [_units(run, setup) for _, run in runs]
    ticks = _Ticks(progress, 1 + sum(units) + int(conditional))
    ticks.to(1, "setup")
    out = _run_each(setup, runs, units, ticks)
    if conditional:
        out += conditional_rows(setup, shape[0])
        ticks.to(ticks.total, "conditional")
    return Interventions(as_table(out), setup)


def _run_each(setup: InterventionSetup, runs: list[tuple[str, Any]], units: list[int],
              ticks: _Ticks) -> list[dict[str, Any]]:
    """Every intervention's checked rows, in order; ``setup.tick`` moves ``ticks`` inside
    each, at most to the end of its units."""
    out: list[dict[str, Any]] = []
    quiet = setup.tick  # restored after: the setup handed back reports to no one
    try:
        for (name, run), n in zip(runs, units, strict=True):
            end = ticks.done + n
            setup.tick = lambda name=name, end=end: ticks.to(min(ticks.done + 1, end), name)
            out += _checked(name, run.run(setup))
            ticks.to(end, name)
    finally:
        setup.tick = quiet
    return out


def _units(run: Any, setup: InterventionSetup) -> int:
    """The views an intervention says it works through (its ``units(setup)``), else 1."""
    count = getattr(run, "units", None)
    value = count(setup) if callable(count) else 1
    return value if isinstance(value, int) and value >= 1 else 1


class _Ticks:
    """The stage's progress in work units: ``progress(done, total, what)``."""

    def __init__(self, progress: Callable[[int, int, str], Any] | None, total: int) -> None:
        self.progress, self.total, self.done = progress, total, 0

    def to(self, done: int, what: str) -> None:
        """``done`` units finished, the last one of ``what`` (reported when it moved)."""
        if done > self.done:
            self.done = done
            if self.progress is not None:
                self.progress(done, self.total, what)


def _checked(name: str, rows: Any) -> list[dict[str, Any]]:
    """The rows an intervention returned, refused unless each carries its check."""
    rows = rows.to_dict("records") if isinstance(rows, pd.DataFrame) else list(rows)
    for r in rows:
        if not isinstance(r, dict) or "sanity_ok" not in r or not r.get("sanity"):
            raise PluginError(f"intervention {name!r} returned a row without its check: every "
                              "row needs sanity_ok (bool) and sanity (one sentence)")
        r.setdefault("intervention", name)
    return rows


def conditional_rows(setup: InterventionSetup, layers: int) -> list[dict[str, Any]]:
    """Bits of ``h_n/L{top}`` (both directions) beyond ``output@last``, and back."""
    a_view, b_view = OUTPUT_LAST, final_view("h_n", layers - 1)
    a = setup.values("test", a_view).cpu().numpy()
    b = setup.values("test", b_view).cpu().numpy()
    y = setup.test.concept
    if len(np.unique(y)) < 2:
        return []
    if a.shape == b.shape and np.array_equal(a, b):
        return [same_values_row(b_view, a_view, len(y), setup.task),
                same_values_row(a_view, b_view, len(y), setup.task)]
    return [conditional_row(b_view, a_view, a, b, y, setup.task, setup.seed),
            conditional_row(a_view, b_view, b, a, y, setup.task, setup.seed)]

