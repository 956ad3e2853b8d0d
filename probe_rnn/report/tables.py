"""Tables and token heatmaps of the report, as plain data for the Jinja template.

Nothing here produces HTML: cells are strings that the template escapes (autoescape on), plus
a numeric sort key for the sortable tables. Token heatmaps get one colour scale shared by all
examples (``vmax`` = the largest absolute attribution shown), so colours compare across rows.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from probe_rnn.probing.intervals import Difference, difference, unpaired
from probe_rnn.report.equivalence import Equivalence
from probe_rnn.report.measures import label_task, primary_probe, sentence_rows

# the label table's measures and their headers (words that wrap, so ~12 columns fit a page;
# uniform_bits and prior_bits are left to results.csv: compression = prior_bits / mdl_bits)
_CONTROL_METRICS = {"accuracy": "accuracy", "control_accuracy": "control accuracy",
                    "selectivity": "selectivity", "control_key_accuracy": "control key accuracy",
                    "bits": "bits", "label_entropy": "H(label) bits", "mdl_bits": "MDL bits",
                    "compression": "compression", "control_compression": "control compression"}


def _degenerate_share() -> float:
    """The control's most common label share at or above which its selectivity is withheld
    (:data:`probe_rnn.probing.controls.DEGENERATE_CONTROL` where the probing side has it)."""
    from probe_rnn.probing import controls

    return float(getattr(controls, "DEGENERATE_CONTROL", 0.9))


def _metric_cell(rows: pd.DataFrame, view: str, metric: str) -> tuple[str, float | None]:
    """One view's cell of one measure; a selectivity withheld for a degenerate control says
    so (its control's labels nearly constant: ``control_majority`` at or above the share)."""
    text, key = _with_ci(rows[(rows["view"] == view) & (rows["metric"] == metric)])
    if metric == "selectivity" and key is None:
        share = rows[(rows["view"] == view) & (rows["metric"] == "control_majority")]
        share = share["value"].dropna()
        if not share.empty and float(share.mean()) >= _degenerate_share():
            return (f"withheld: degenerate control ({100 * float(share.mean()):.0f}% of its "
                    "labels are one label)"), None
    return text, key


@dataclass
class Table:
    """Header, rows of display strings, per-cell sort keys (float or None), and a note."""

    columns: list[str]
    rows: list[list[str]]
    keys: list[list[float | None]] = field(default_factory=list)
    note: str = ""

    def __len__(self) -> int:
        return len(self.rows)


@dataclass
class TokenExample:
    """One attributed sentence: its facts and ``(token, css_style, hover_title)`` triples."""

    row: int
    text: str
    label: str
    prediction: str
    probability: str
    tokens: list[tuple[str, str, str]]


def fmt(value: Any, digits: int = 3) -> str:
    """Display form of a cell: floats rounded, NA blank, everything else ``str``."""
    if value is None or (isinstance(value, float) and math.isnan(value)) or value is pd.NA:
        return ""
    if isinstance(value, bool | np.bool_):
        return str(bool(value))
    if isinstance(value, float | np.floating):
        v = float(value)
        if abs(v) < 1e-12:
            v = 0.0
        if v != 0 and (abs(v) < 10 ** -digits or abs(v) >= 1e6):
            return f"{v:.{digits}g}"
        return f"{v:.{digits}f}"
    if isinstance(value, list | tuple | np.ndarray):
        return ", ".join(str(v) for v in value)
    return str(value)


def sort_key(value: Any) -> float | None:
    """The number a table sorts ``value`` by (None for text, NaN and infinities)."""
    try:
        v = float(value)
    except (TypeError, ValueError):
        return None
    return v if math.isfinite(v) else None


def frame_table(df: pd.DataFrame, max_rows: int = 500, note: str = "") -> Table:
    """A DataFrame as a :class:`Table` (first ``max_rows`` rows; the note says if cut)."""
    shown = df.head(max_rows)
    if len(df) > max_rows:
        note = (note + " " if note else "") + f"First {max_rows} of {len(df)} rows shown."
    rows = [[fmt(v) for v in rec] for rec in shown.itertuples(index=False)]
    keys = [[sort_key(v) for v in rec] for rec in shown.itertuples(index=False)]
    return Table([str(c) for c in df.columns], rows, keys, note)


def _flat(prefix: str, value: Any, out: list[tuple[str, str]]) -> None:
    if value is None or (isinstance(value, dict | list) and not value):
        return  # nothing to say (a foreign model has no probe-rnn config): no blank row
    if isinstance(value, dict):
        for k, v in value.items():
            _flat(f"{prefix}.{k}" if prefix else str(k), v, out)
    elif isinstance(value, list) and value and all(isinstance(v, dict) for v in value):
        for i, v in enumerate(value):
            _flat(f"{prefix}[{i}]", v, out)
    elif prefix.endswith("checksum") and isinstance(value, str) and len(value) > 16:
        out.append((prefix, value[:12] + "…"))
    else:
        out.append((prefix, fmt(value)))


def card_table(section: dict[str, Any] | None, skip: tuple[str, ...] = ()) -> Table:
    """A ``run.json`` section (model or data card) as a two-column key/value table."""
    pairs: list[tuple[str, str]] = []
    for key, value in (section or {}).items():
        if key not in skip:
            _flat(str(key), value, pairs)
    return Table(["field", "value"], [[k, v] for k, v in pairs], [[None, None]] * len(pairs))


def equivalence_table(eq: Equivalence) -> Table:
    """The measured output-versus-hidden comparisons (one row per pair of states)."""
    rows, keys = [], []
    for c in (eq.last_vs_hn_fwd, eq.last_vs_hn_bwd, eq.naive_vs_last):
        if c is None:
            continue
        verdict = "identical" if c.identical else "different"
        rows.append([c.a, c.b, fmt(c.max_abs_diff, 4), f"{c.differing_rows} / {c.rows}",
                     fmt(c.tolerance, 4), verdict])
        keys.append([None, None, c.max_abs_diff, float(c.differing_rows), c.tolerance, None])
    return Table(["state", "compared with", "max |diff|", "rows differing", "tolerance",
                  "verdict"], rows, keys)


def _with_ci(rows: pd.DataFrame) -> tuple[str, float | None]:
    if rows.empty or rows["value"].isna().all():
        return "", None
    v, lo, hi = rows["value"].mean(), rows["ci_low"].mean(), rows["ci_high"].mean()
    text = fmt(v)
    if math.isfinite(lo) and math.isfinite(hi):
        text += f" [{fmt(lo)},\u00a0{fmt(hi)}]"  # a narrow table wraps before "[", not in it
    return text, float(v)


def _difference_cell(d: Difference | None) -> tuple[str, float | None]:
    if d is None:
        return "", None
    mark = "" if d.paired else " (unpaired)"
    return d.describe().replace(", ", ",\u00a0") + mark, d.value


def label_metrics_table(results: pd.DataFrame, values: pd.DataFrame | None = None
                        ) -> Table | None:
    """Per view: the label task's accuracy, control, selectivity, bits and MDL (trained), the
    paired difference in bits (else accuracy) from ``output@last``, and the random-init
    model's accuracy with the paired trained − random-init difference."""
    task, probe = label_task(results), primary_probe(results)
    if task is None:
        return None
    main = "bits" if ((results["task"] == task) & (results["metric"] == "bits")).any() \
        else "accuracy"
    cell = lambda model, view: {"model": model, "view": view, "task": task, "probe": probe}  # noqa: E731
    rows = sentence_rows(results)
    rows = rows[(rows["task"] == task) & ((rows["probe"] == probe) | (probe is None))]
    metrics = [m for m in _CONTROL_METRICS if (rows["metric"] == m).any()]
    rand_all = sentence_rows(results, "random-init")
    rand_all = rand_all[rand_all["task"] == task]
    rand = rand_all[rand_all["metric"] == "accuracy"]
    rand_mdl = rand_all[rand_all["metric"] == "compression"]
    out_rows, keys = [], []
    for view in dict.fromkeys(rows["view"]):
        cells, ks = [str(view)], [None]
        for m in metrics:
            text, k = _metric_cell(rows, str(view), m)
            cells.append(text)
            ks.append(k)
        text, k = _difference_cell(difference(results, values, cell("trained", view),
                                              cell("trained", "output@last"), main))
        cells.append(text if view != "output@last" else "")
        ks.append(k if view != "output@last" else None)
        if not rand.empty:
            text, k = _with_ci(rand[rand["view"] == view])
            cells.append(text)
            ks.append(k)
            text, k = _difference_cell(difference(results, values, cell("trained", view),
                                                  cell("random-init", view), "accuracy"))
            cells.append(text)
            ks.append(k)
            if not rand_mdl.empty:
                text, k = _with_ci(rand_mdl[rand_mdl["view"] == view])
                cells.append(text)
                ks.append(k)
        out_rows.append(cells)
        keys.append(ks)
    columns = ["view"] + [_CONTROL_METRICS[m] for m in metrics] + [f"{main} − output@last"] + (
        ["random-init accuracy", "trained − random-init"] if not rand.empty else []) + (
        ["random-init compression"] if not rand.empty and not rand_mdl.empty else [])
    return Table(columns, out_rows, keys,
                 note=f"Task {task!r}, probe {probe!r}. Differences: 95 % intervals, paired "
                      "over the same folds (or bootstrap resamples) unless marked unpaired.")


#: how the label table is shown: information and selectivity, then MDL (each fits a page)
LABEL_TABLE_PARTS = {
    "information": ("accuracy", "bits", "H(label) bits", "accuracy − output@last",
                    "bits − output@last", "random-init accuracy", "trained − random-init"),
    "control": ("accuracy", "control accuracy", "selectivity", "control key accuracy"),
    "mdl": ("MDL bits", "compression", "control compression", "random-init compression"),
}


def split_table(table: Table | None, parts: dict[str, tuple[str, ...]]) -> list[Table]:
    """``table`` as one table per part: its first column, then the part's columns it has
    (parts with none that an earlier part did not show are left out); the note goes under the
    last one."""
    if table is None:
        return []
    out: list[Table] = []
    shown: set[int] = set()
    for names in parts.values():
        picked = [i for i, c in enumerate(table.columns) if c in names]
        if not set(picked) - shown:
            continue
        shown.update(picked)
        cols = [0, *picked]
        out.append(Table([table.columns[i] for i in cols],
                         [[row[i] for i in cols] for row in table.rows],
                         [[k[i] for i in cols] for k in table.keys] if table.keys else []))
    if out:
        out[-1].note = table.note
    return out


def training_gap_table(results: pd.DataFrame, train_rows: pd.DataFrame | None
                       ) -> Table | None:
    """Per view: the label probe's accuracy on held-out rows and on as many training rows, and
    the gap (training − held-out: what the probe reads of what the model memorised)."""
    if train_rows is None or train_rows.empty:
        return None
    task = label_task(results)
    probe = str(train_rows["probe"].iloc[0])
    held = sentence_rows(results)
    held = held[(held["task"] == task) & (held["probe"] == probe) &
                (held["metric"] == "accuracy")]
    train = train_rows[(train_rows["task"] == task) & (train_rows["metric"] == "accuracy")]
    out_rows, keys = [], []
    for view in dict.fromkeys(train["view"]):
        h, t = held[held["view"] == view], train[train["view"] == view]
        (h_text, h_key), (t_text, t_key) = _with_ci(h), _with_ci(t)
        if h_key is None or t_key is None:
            continue
        triple = lambda r: (float(r["value"].mean()), float(r["ci_low"].mean()),  # noqa: E731
                            float(r["ci_high"].mean()))
        gap = unpaired(triple(t), triple(h))
        out_rows.append([str(view), h_text, t_text, gap.describe()])
        keys.append([None, h_key, t_key, gap.value])
    if not out_rows:
        return None
    return Table(["view", "held-out accuracy", "training-row accuracy", "gap"], out_rows, keys,
                 note=f"Task {task!r}, probe {probe!r}, trained model; training rows: a "
                      "seeded sample as large as the held-out rows. Gap: training − held-out "
                      "with its 95 % interval, unpaired (different rows).")


def results_table(results: pd.DataFrame, max_rows: int = 400) -> Table:
    """Results pivoted to one row per (model, view, t, task, probe), one column per metric."""
    keys = ["model", "view", "t", "task", "probe"]
    df = results.copy()
    df["t"] = df["t"].astype("Float64").astype(object).where(df["t"].notna(), "")
    wide = df.pivot_table(index=keys, columns="metric", values="value", aggfunc="mean",
                          sort=False, dropna=False)
    wide = wide.dropna(how="all").reset_index()
    wide["t"] = wide["t"].map(lambda v: "" if v == "" else str(int(float(v))))
    wide.columns = [str(c) for c in wide.columns]
    return frame_table(wide, max_rows, note="All rows with intervals are in results.csv.")


#: What the token heatmap puts between a row's two texts.
TEXT_BAR = "‖"


def token_examples(attribution: dict[str, pd.DataFrame], max_examples: int = 12
                   ) -> tuple[list[TokenExample], float]:
    """Token heatmap rows on one shared colour scale (a row of two texts: text 1's tokens,
    :data:`TEXT_BAR`, text 2's).

    Returns
    -------
    examples : list of TokenExample
    vmax : float
        The largest absolute attribution among the shown tokens (the scale's end).
    """
    tokens = attribution.get("tokens")
    if tokens is None or tokens.empty:
        return [], 0.0
    examples = attribution.get("examples")
    order = list(dict.fromkeys(tokens["row"]))[:max_examples]
    shown = tokens[tokens["row"].isin(order)]
    vmax = float(shown["attribution"].abs().max()) or 1.0
    info = examples.set_index("row") if examples is not None and "row" in examples else None
    out = []
    two = "which_text" in shown  # a pair's or an encoder-decoder's two texts, text 1 first
    for row in order:
        part = shown[shown["row"] == row].sort_values(["which_text", "position"] if two
                                                      else "position")
        facts = info.loc[row] if info is not None and row in info.index else part.iloc[0]
        triples = [(str(tok), _token_style(float(a), vmax), f"{tok!s}: {float(a):+.4f}")
                   for tok, a in zip(part["token"], part["attribution"], strict=True)]
        if two:  # a bar between the texts: text 2's tokens follow it
            triples.insert(int((part["which_text"] == 1).sum()), (TEXT_BAR, "", "text 2:"))
        out.append(TokenExample(
            row=int(row), text=str(facts.get("text", "")), label=fmt(facts.get("label", "")),
            prediction=fmt(facts.get("prediction", "")),
            probability=fmt(facts.get("probability", None), 2), tokens=triples))
    return out, vmax


def _token_style(value: float, vmax: float) -> str:
    alpha = min(1.0, abs(value) / vmax) * 0.85 if vmax > 0 else 0.0
    rgb = "214,39,40" if value >= 0 else "31,119,180"
    return f"background-color: rgba({rgb},{alpha:.3f})"
