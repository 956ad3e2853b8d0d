"""The output-vs-hidden diagnosis: what ``output`` and ``h_n`` of a recurrent module really hold.

The one measure of it, with one tolerance (:data:`SAME_TOLERANCE`, on the float32 states
before any storage rounding), and the sentences that state it. Per recurrent module it says:

* whether ``output@last`` (top-layer output at each row's own last step) equals the top
  layer's forward ``h_n`` (it does for packed input; not when the module ran over padding);
* how often ``output@-1`` (``output[:, -1]`` of the padded batch, what naive code reads)
  differs from ``output@last``, and whether that is padding (short rows) — as zeros when the
  module got a PackedSequence, as states after reading pad tokens when it did not;
* for bidirectional modules, that the backward half of ``output@last`` has seen only the last
  token while ``h_n``'s backward state has read the whole sentence (it is the backward half
  of ``output`` at step 0);
* for multi-layer modules, what ``h_n`` holds that ``output`` lacks (the lower layers' final
  states), and for LSTMs the cell state ``c_n`` that neither exposes.

:class:`ModuleDiagnosis` accumulates batch by batch (maxima, counts, per-batch sums added with
:func:`math.fsum`, so the numbers do not depend on how batches were grouped into capture
shards). :func:`~probe_rnn.capture.capture_states` feeds it the very states it stores, so a run
diagnoses its model without another forward pass, and the store keeps the table
(:func:`stored_diagnosis`); :func:`~probe_rnn.capture.run_capture.diagnose` runs it alone
(``probe-rnn inspect --dataset``).
The table's ``explanation`` column is the prose everyone shows (the CLI, the report's
findings, the readouts page): view names in backticks, which :func:`format_diagnosis` drops.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

import pandas as pd

from probe_rnn.catalogue import (
    DIRECTIONS,
    OUTPUT_LAST,
    OUTPUT_NAIVE_LAST,
    final_view,
    state_view,
)

if TYPE_CHECKING:
    import torch

    from probe_rnn.capture.states import RecurrentStates
    from probe_rnn.capture.store import StateStore

DIAGNOSIS_COLUMNS = ["module", "check", "value", "unit", "explanation"]

#: Two states whose largest |difference| is at most this are the same vector (float32 rounding
#: of the same computation; measured on the states before storage rounds them).
SAME_TOLERANCE = 1e-5

#: The ``check`` names other modules read back (the report's equivalence, the readouts study).
CHECKS = {
    "rows": "rows", "layers": "layers",
    "fwd_max": "max |output@last - h_n top fwd|",
    "fwd_rows": "rows output@last != h_n top fwd",
    "naive_max": "max |output@-1 - output@last|",
    "naive_share": "share output@-1 != output@last",
    "naive_rows": "rows output@-1 != output@last",
    "naive_short": "rows output@-1 != output@last, shorter than their batch",
    "short_zero": "share of short rows with output@-1 == 0",
    "bwd_max": "max |bwd half of output@last - h_n top bwd|",
    "bwd_rows": "rows bwd half of output@last != h_n top bwd",
    "bwd_step0": "max |bwd half of output at step 0 - h_n top bwd|",
}


def _number(x: float) -> str:
    return f"{x:.3g}"


@dataclass
class ModuleDiagnosis:
    """Running statistics of one module over all batches (see the module docstring)."""

    naive: str = "output[:, -1]"  # how naive code reads the last step: output[-1] if time-major
    kind: str = ""
    layers: int = 1
    directions: int = 1
    size: int = 0
    cell_size: int = 0
    rows: int = 0
    batch_max: int = 0
    fwd_diff: float = 0.0
    fwd_diff_short: float = 0.0
    fwd_rows: int = 0
    naive_diff: float = 0.0
    naive_rows: int = 0
    naive_short: int = 0
    short: int = 0
    short_zero: int = 0
    bwd_diff: float = 0.0
    bwd_rows: int = 0
    bwd_step0: float = 0.0
    top_abs: list[float] = field(default_factory=list)  # per-batch sums, added with fsum
    c_top_abs: list[float] = field(default_factory=list)
    lower_abs: dict[tuple[int, int], list[float]] = field(default_factory=dict)
    lower_cos: dict[tuple[int, int], list[float]] = field(default_factory=dict)

    def update(self, st: RecurrentStates, lengths: torch.Tensor) -> None:
        """Add one batch of states; ``lengths`` ``(batch,)`` are the real tokens per row (the
        adapter's), which on an unpacked module are fewer than the steps it ran."""
        import torch

        output, h_n = st.output.detach().float(), st.h_n.detach().float()
        lengths = torch.as_tensor(lengths).to(output.device).long()
        layers, dirs = int(st.num_layers), int(st.num_directions)
        batch, time = output.shape[0], output.shape[1]
        size = output.shape[-1] // dirs
        self.kind, self.layers, self.directions, self.size = st.kind, layers, dirs, size
        self.rows += batch
        self.batch_max = max(self.batch_max, batch)
        last = output[torch.arange(batch, device=output.device), lengths - 1]
        short = lengths < time
        top = (layers - 1) * dirs
        fwd = (last[:, :size] - h_n[top]).abs().amax(dim=1)
        self.fwd_diff = max(self.fwd_diff, float(fwd.max()))
        self.fwd_rows += int((fwd > SAME_TOLERANCE).sum())
        if short.any():
            self.fwd_diff_short = max(self.fwd_diff_short, float(fwd[short].max()))
        naive = output[:, -1]
        gap = (naive - last).abs().amax(dim=1)
        self.naive_diff = max(self.naive_diff, float(gap.max()))
        differ = gap > SAME_TOLERANCE
        self.naive_rows += int(differ.sum())
        self.naive_short += int((differ & short).sum())
        self.short += int(short.sum())
        self.short_zero += int(((naive == 0).all(dim=1) & short).sum())
        self.top_abs.append(float(h_n[top:top + dirs].abs().mean(dim=(0, 2)).sum()))
        if dirs == 2:
            bwd = (last[:, size:] - h_n[top + 1]).abs().amax(dim=1)
            self.bwd_diff = max(self.bwd_diff, float(bwd.max()))
            self.bwd_rows += int((bwd > SAME_TOLERANCE).sum())
            step0 = (output[:, 0, size:] - h_n[top + 1]).abs().max()
            self.bwd_step0 = max(self.bwd_step0, float(step0))
        for layer in range(layers - 1):
            for d in range(dirs):
                lower, upper = h_n[layer * dirs + d], h_n[top + d]
                cos = torch.nn.functional.cosine_similarity(lower, upper, dim=1, eps=1e-12)
                self.lower_abs.setdefault((layer, d), []).append(
                    float(lower.abs().mean(dim=1).sum()))
                self.lower_cos.setdefault((layer, d), []).append(float(cos.sum()))
        if st.c_n is not None:
            c_n = st.c_n.detach().float()
            self.cell_size = c_n.shape[-1]
            self.c_top_abs.append(float(c_n[top:top + dirs].abs().mean(dim=(0, 2)).sum()))

    def merge(self, other: ModuleDiagnosis) -> None:
        """Add the batches ``other`` saw (a capture shard's) to these."""
        if not other.rows:
            return
        for name in ("kind", "layers", "directions", "size", "cell_size"):
            setattr(self, name, getattr(other, name) or getattr(self, name))
        for name in ("batch_max", "fwd_diff", "fwd_diff_short", "naive_diff", "bwd_diff",
                     "bwd_step0"):
            setattr(self, name, max(getattr(self, name), getattr(other, name)))
        for name in ("rows", "fwd_rows", "naive_rows", "naive_short", "short", "short_zero",
                     "bwd_rows"):
            setattr(self, name, getattr(self, name) + getattr(other, name))
        self.top_abs += other.top_abs
        self.c_top_abs += other.c_top_abs
        for mine, theirs in ((self.lower_abs, other.lower_abs), (self.lower_cos, other.lower_cos)):
            for key, parts in theirs.items():
                mine.setdefault(key, []).extend(parts)

    def table(self, module: str) -> pd.DataFrame:
        """The checks of this module, one row each (:data:`DIAGNOSIS_COLUMNS`)."""
        n = max(self.rows, 1)
        shape = (f"{module} ({self.kind}, {self.layers} layer(s), "
                 f"{'bidirectional' if self.directions == 2 else 'unidirectional'}, output size "
                 f"{self.size} per direction) was run on {self.rows} rows in batches of up to "
                 f"{self.batch_max}.")
        rows = [(CHECKS["rows"], self.rows, "rows", shape),
                (CHECKS["layers"], self.layers, "layers", shape)]
        fwd = self._forward_sentence()
        rows += [(CHECKS["fwd_max"], self.fwd_diff, "max |diff|", fwd),
                 (CHECKS["fwd_rows"], self.fwd_rows, "rows", fwd)]
        rows += self._naive_rows(n)
        if self.directions == 2:
            rows += self._backward_rows()
        rows += self._lower_layer_rows(n)
        if self.cell_size:
            rows.append((
                "c_n not in output", self.layers * self.directions * self.cell_size,
                "numbers per row",
                f"c_n holds {self.layers * self.directions} cell state(s) of {self.cell_size} "
                f"numbers each that neither output nor h_n contains; mean |c_n| of the top layer "
                f"is {_number(math.fsum(self.c_top_abs) / n)} against "
                f"{_number(math.fsum(self.top_abs) / n)} for its h_n."))
        return pd.DataFrame([(module, check, float(value), unit, text)
                             for check, value, unit, text in rows], columns=DIAGNOSIS_COLUMNS)

    def _top(self, direction: str) -> str:
        return state_view("h_n", self.layers - 1, direction)

    def _forward_sentence(self) -> str:
        what = "The forward half of `output@last`" if self.directions == 2 else "`output@last`"
        hn, diff = f"`{self._top('fwd')}`", _number(self.fwd_diff)
        if self.fwd_diff <= SAME_TOLERANCE:
            carries = (f"that half carries exactly what {hn} carries" if self.directions == 2
                       else "for this model they are the same vector")
            return (f"{what} and {hn} are identical on all {self.rows} rows (max |diff| {diff}, "
                    f"tolerance {SAME_TOLERANCE:g}): {carries}.")
        text = (f"{what} and {hn} differ on {self.fwd_rows} of {self.rows} rows (max |diff| "
                f"{diff}, above the tolerance {SAME_TOLERANCE:g}): they are not the same state "
                "here")
        if self.short and self.fwd_diff_short >= self.fwd_diff and self.short_zero < self.short:
            return (text + "; the module ran over the padding, so on rows shorter than their "
                    "batch h_n is the state after the pad tokens, not after the last real token.")
        return text + ": the module's h_n is not its last valid output."

    def _naive_rows(self, n: int) -> list[tuple[str, float, str, str]]:
        naive = f"`{self.naive}`"
        if self.naive_rows == 0:
            text = (f"`{OUTPUT_NAIVE_LAST}` ({naive} of the padded batch) equals "
                    f"`{OUTPUT_LAST}` on every one of the {self.rows} rows here.")
        else:
            why = ("every one of them is shorter than its batch's longest row, so "
                   f"{naive} reads a padding position for them" if
                   self.naive_short == self.naive_rows else
                   f"{self.naive_short} of them are shorter than their batch's longest row, so "
                   f"{naive} reads a padding position for those")
            text = (f"`{OUTPUT_NAIVE_LAST}` ({naive} of the padded batch, what naive code reads)"
                    f" differs from `{OUTPUT_LAST}` on {self.naive_rows} of {self.rows} rows "
                    f"({self.naive_rows / n:.1%}); {why} (batch composition decides which "
                    f"rows; {self.short} short rows in all).")
        rows = [(CHECKS["naive_max"], self.naive_diff, "max |diff|", text),
                (CHECKS["naive_share"], self.naive_rows / n, "share of rows", text),
                (CHECKS["naive_rows"], self.naive_rows, "rows", text),
                (CHECKS["naive_short"], self.naive_short, "rows", text)]
        if self.short:
            if self.short_zero == self.short:
                why = ("the module got a PackedSequence: padding positions of output are zeros, "
                       f"so naive {naive} hands a zero vector for every short row.")
            elif self.short_zero == 0:
                why = (f"the module ran over the padded batch: {naive} of a short row is the "
                       "state after reading pad tokens, not after its last real token.")
            else:
                why = f"some short rows read zeros at {naive}, others padded states."
            rows.append((CHECKS["short_zero"], self.short_zero / self.short,
                         "share of short rows", f"{self.short_zero} of {self.short} short rows "
                         f"have an all-zero `{OUTPUT_NAIVE_LAST}`: {why}"))
        return rows

    def _backward_rows(self) -> list[tuple[str, float, str, str]]:
        hn = f"`{self._top('bwd')}`"
        if self.bwd_diff <= SAME_TOLERANCE:
            last = (f"The backward half of `{OUTPUT_LAST}` equals {hn} on all {self.rows} rows "
                    f"(max |diff| {_number(self.bwd_diff)}): every row here is one token long.")
        else:
            last = (f"The backward half of `{OUTPUT_LAST}` differs from {hn} on "
                    f"{self.bwd_rows} of {self.rows} rows (max |diff| {_number(self.bwd_diff)}):"
                    " at a row's last step the backward direction has read only the last token, "
                    f"while {hn} has read the whole sentence (right to left).")
            if self.short and self.short_zero < self.short:
                last += (" On this padded (not packed) input the backward direction also read "
                         "the padding before each short row's last token.")
            last += (f" So `{final_view('h_n', self.layers - 1)}` (both directions, what a "
                     f"`hidden` readout reads) and `{OUTPUT_LAST}` differ at least in that half.")
        same = self.bwd_step0 <= SAME_TOLERANCE
        step0 = (f"The backward half of output at step 0 {'equals' if same else 'differs from'} "
                 f"{hn} (max |diff| {_number(self.bwd_step0)})" + (
                     ": that is where the backward pass ends. Read the backward sentence vector "
                     "there (or from h_n), not at the last step." if same else
                     ": the backward pass did not end at step 0 (it read padding first)."))
        return [(CHECKS["bwd_max"], self.bwd_diff, "max |diff|", last),
                (CHECKS["bwd_rows"], self.bwd_rows, "rows", last),
                (CHECKS["bwd_step0"], self.bwd_step0, "max |diff|", step0)]

    def _lower_layer_rows(self, n: int) -> list[tuple[str, float, str, str]]:
        rows = []
        for (layer, d), parts in sorted(self.lower_abs.items()):
            lower, upper = state_view("h_n", layer, DIRECTIONS[d]), self._top(DIRECTIONS[d])
            mean_abs, cos = math.fsum(parts) / n, math.fsum(self.lower_cos[(layer, d)]) / n
            text = (f"h_n holds layer {layer}'s final {DIRECTIONS[d]} state `{lower}` "
                    f"({self.size} numbers, mean |value| {_number(mean_abs)}) that output lacks "
                    f"(output is the top layer only); its mean cosine similarity to `{upper}` is "
                    f"{cos:.3f}.")
            rows += [(f"{lower} not in output", mean_abs, "mean |value|", text),
                     (f"cosine({lower}, {upper})", cos, "mean cosine", text)]
        return rows


def naive_expression(module: torch.nn.Module) -> str:
    """How naive code reads a module's last step: ``output[:, -1]``, or ``output[-1]`` for a
    time-major (``batch_first=False``) module."""
    return "output[:, -1]" if getattr(module, "batch_first", True) else "output[-1]"


def stored_diagnosis(store: StateStore) -> pd.DataFrame | None:
    """The diagnosis a capture measured for its module, kept in the store's manifest
    (``None`` for a cell loop, which has no fused ``output``/``h_n`` to compare)."""
    rows = store.manifest.diagnosis
    return None if rows is None else pd.DataFrame(rows, columns=DIAGNOSIS_COLUMNS)


def plain_explanations(table: pd.DataFrame) -> pd.DataFrame:
    """The table with its sentences as plain text (no backticks around view names), for
    places that show text as it is (a terminal, a table cell)."""
    return table.assign(explanation=table["explanation"].astype(str).str.replace("`", ""))


def format_diagnosis(table: pd.DataFrame) -> str:
    """The diagnosis as plain sentences, one paragraph per module."""
    parts = []
    for module, group in plain_explanations(table).groupby("module", sort=False):
        seen = dict.fromkeys(group["explanation"])
        parts.append(f"{module}:\n" + "\n".join(f"- {text}" for text in seen))
    return "\n\n".join(parts)
