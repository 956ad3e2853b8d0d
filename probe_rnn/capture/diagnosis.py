"""The output-vs-hidden diagnosis: what ``output`` and ``h_n`` of a recurrent module really hold.

For one model on one table, :func:`diagnose` measures, per recurrent module:

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

Statistics are accumulated batch by batch (maxima, counts, sums): memory does not grow with
the number of rows. :func:`format_diagnosis` turns the table into plain sentences.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import pandas as pd
import torch

from probe_rnn.errors import CaptureError, DataError

if TYPE_CHECKING:
    from probe_rnn.capture.recurrent import RecurrentStates
    from probe_rnn.models import ModelBundle

__all__ = ["diagnose", "format_diagnosis", "DIAGNOSIS_COLUMNS"]

DIAGNOSIS_COLUMNS = ["module", "check", "value", "unit", "explanation"]

#: Below this a max |difference| is float rounding, not a different vector.
_SAME = 1e-5


@dataclass
class _Stats:
    """Running statistics of one module over all batches."""

    kind: str = ""
    layers: int = 1
    directions: int = 1
    size: int = 0
    cell_size: int = 0
    rows: int = 0
    max_len: int = 0
    fwd_diff: float = 0.0
    fwd_diff_short: float = 0.0
    differ: int = 0
    differ_short: int = 0
    short: int = 0
    short_zero: int = 0
    bwd_diff: float = 0.0
    bwd_step0: float = 0.0
    batch_sizes: set[int] = field(default_factory=set)
    lower_abs: dict[tuple[int, int], float] = field(default_factory=dict)
    lower_cos: dict[tuple[int, int], float] = field(default_factory=dict)
    top_abs: float = 0.0
    c_top_abs: float = 0.0
    naive: str = "output[:, -1]"  # how naive code reads the last step: output[-1] if time-major

    def update(self, st: RecurrentStates, lengths: torch.Tensor) -> None:
        """Add one batch of states; ``lengths`` ``(batch,)`` are the real tokens per row (the
        adapter's), which on an unpacked module are fewer than the steps it ran."""
        output, h_n = st.output.detach().float(), st.h_n.detach().float()
        lengths = lengths.detach().to(output.device).long()
        layers, dirs = int(st.num_layers), int(st.num_directions)
        batch, time = output.shape[0], output.shape[1]
        size = output.shape[-1] // dirs
        self.kind, self.layers, self.directions, self.size = st.kind, layers, dirs, size
        self.rows += batch
        self.max_len = max(self.max_len, time)
        self.batch_sizes.add(batch)
        rows = torch.arange(batch, device=output.device)
        last = output[rows, lengths - 1]
        naive = output[:, -1]
        short = lengths < time
        top = (layers - 1) * dirs
        fwd = (last[:, :size] - h_n[top]).abs().amax(dim=1)
        self.fwd_diff = max(self.fwd_diff, float(fwd.max()))
        if short.any():
            self.fwd_diff_short = max(self.fwd_diff_short, float(fwd[short].max()))
        differ = (naive != last).any(dim=1)
        self.differ += int(differ.sum())
        self.differ_short += int((differ & short).sum())
        self.short += int(short.sum())
        self.short_zero += int(((naive == 0).all(dim=1) & short).sum())
        self.top_abs += float(h_n[top:top + dirs].abs().mean(dim=(0, 2)).sum())
        if dirs == 2:
            bwd = h_n[top + 1]
            self.bwd_diff = max(self.bwd_diff, float((last[:, size:] - bwd).abs().max()))
            self.bwd_step0 = max(self.bwd_step0, float((output[:, 0, size:] - bwd).abs().max()))
        for layer in range(layers - 1):
            for d in range(dirs):
                lower, upper = h_n[layer * dirs + d], h_n[top + d]
                key = (layer, d)
                mean_abs = float(lower.abs().mean(dim=1).sum())
                self.lower_abs[key] = self.lower_abs.get(key, 0.0) + mean_abs
                cos = torch.nn.functional.cosine_similarity(lower, upper, dim=1, eps=1e-12)
                self.lower_cos[key] = self.lower_cos.get(key, 0.0) + float(cos.sum())
        if st.c_n is not None:
            c_n = st.c_n.detach().float()
            self.cell_size = c_n.shape[-1]
            self.c_top_abs += float(c_n[top:top + dirs].abs().mean(dim=(0, 2)).sum())

    def table(self, module: str) -> list[dict[str, Any]]:
        """The checks of this module as table rows."""
        n = max(self.rows, 1)
        rows = [_row(module, "rows", self.rows, "rows",
                     f"{module} ({self.kind}, {self.layers} layer(s), "
                     f"{'bidirectional' if self.directions == 2 else 'unidirectional'}, "
                     f"output size {self.size} per direction) was run on {self.rows} rows in "
                     f"batches of up to {max(self.batch_sizes, default=0)}.")]
        rows.append(_row(module, "max |output@last - h_n top fwd|", self.fwd_diff, "max |diff|",
                         self._fwd_sentence()))
        rows.extend(self._naive_rows(n))
        if self.directions == 2:
            rows.extend(self._bidirectional_rows())
        rows.extend(self._lower_layer_rows(n))
        if self.cell_size:
            rows.append(_row(
                module, "c_n not in output", self.layers * self.directions * self.cell_size,
                "numbers per row",
                f"c_n holds {self.layers * self.directions} cell state(s) of {self.cell_size} "
                f"numbers each that neither output nor h_n contains; mean |c_n| of the top layer "
                f"is {self.c_top_abs / n:.3g} against {self.top_abs / n:.3g} for its h_n.",
            ))
        for row in rows:
            row["module"] = module
        return rows

    def _fwd_sentence(self) -> str:
        if self.fwd_diff <= _SAME:
            return (f"output@last equals the top layer's forward h_n (max |diff| "
                    f"{self.fwd_diff:.2g}): for the forward direction they are the same vector.")
        if self.short and self.fwd_diff_short >= self.fwd_diff and self.short_zero < self.short:
            return (f"output@last differs from the top layer's forward h_n (max |diff| "
                    f"{self.fwd_diff:.3g}), on rows shorter than their batch: the module ran over "
                    "the padding, so h_n is the state after the pad tokens, not after the last "
                    "real token.")
        return (f"output@last differs from the top layer's forward h_n (max |diff| "
                f"{self.fwd_diff:.3g}): the module's h_n is not its last valid output.")

    def _naive_rows(self, n: int) -> list[dict[str, Any]]:
        share = self.differ / n
        text = (f"output@-1 ({self.naive} of the padded batch) differs from output@last on "
                f"{self.differ} of {self.rows} rows ({share:.1%}); {self.differ_short} of them "
                f"are shorter than their batch's longest row ({self.short} short rows in all), "
                f"so {self.naive} reads a padding position for them (batch composition decides "
                "which rows).")
        rows = [_row("", "share output@-1 != output@last", share, "share of rows", text)]
        if self.short:
            zero = self.short_zero / self.short
            if self.short_zero == self.short:
                why = ("the module got a PackedSequence: padding positions of output are zeros, "
                       f"so naive {self.naive} hands a zero vector for every short row.")
            elif self.short_zero == 0:
                why = (f"the module ran over the padded batch: {self.naive} of a short row is the "
                       "state after reading pad tokens, not after its last real token.")
            else:
                why = f"some short rows read zeros at {self.naive}, others padded states."
            rows.append(_row("", "share of short rows with output@-1 == 0", zero,
                             "share of short rows", f"{self.short_zero} of {self.short} short "
                             f"rows have an all-zero output@-1: {why}"))
        return rows

    def _bidirectional_rows(self) -> list[dict[str, Any]]:
        return [
            _row("", "max |bwd half of output@last - h_n top bwd|", self.bwd_diff, "max |diff|",
                 f"the backward half of output@last differs from h_n's top backward state (max "
                 f"|diff| {self.bwd_diff:.3g}): at a row's last step the backward direction has "
                 "read only the last token, while h_n's backward state has read the whole "
                 "sentence (right to left)." + self._padding_first()),
            _row("", "max |bwd half of output at step 0 - h_n top bwd|", self.bwd_step0,
                 "max |diff|",
                 f"the backward half of output at step 0 equals h_n's top backward state (max "
                 f"|diff| {self.bwd_step0:.2g}): that is where the backward pass ends. Read the "
                 "backward sentence vector there (or from h_n), not at the last step."),
        ]

    def _padding_first(self) -> str:
        if self.short and self.short_zero < self.short:
            return (" On this padded (not packed) input the backward direction also read the "
                    "padding before each short row's last token.")
        return ""

    def _lower_layer_rows(self, n: int) -> list[dict[str, Any]]:
        rows = []
        names = ("fwd", "bwd")
        for (layer, d), total in sorted(self.lower_abs.items()):
            cos = self.lower_cos[(layer, d)] / n
            rows.append(_row(
                "", f"h_n/L{layer}/{names[d]} not in output", total / n, "mean |value|",
                f"h_n holds layer {layer}'s final {names[d]} state ({self.size} numbers, mean "
                f"|value| {total / n:.3g}) that output lacks (output is the top layer only); its "
                f"mean cosine similarity to the top layer's h_n/{names[d]} is {cos:.3f}.",
            ))
            rows.append(_row("", f"cosine(h_n/L{layer}/{names[d]}, h_n/L{self.layers - 1}/"
                             f"{names[d]})", cos, "mean cosine", rows[-1]["explanation"]))
        return rows


def _row(module: str, check: str, value: float, unit: str, explanation: str) -> dict[str, Any]:
    return {"module": module, "check": check, "value": float(value), "unit": unit,
            "explanation": explanation}


def diagnose(
    bundle: ModelBundle,
    df: pd.DataFrame,
    batch_size: int = 256,
    modules: Sequence[str] | None = None,
) -> pd.DataFrame:
    """Measure what ``output`` and ``h_n`` hold for every recurrent module on this data.

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
    from probe_rnn.capture.recorder import record
    from probe_rnn.capture.run_capture import check_capture_options, forget_earlier_calls

    check_capture_options("float32", batch_size, "first")
    if "text" not in df.columns or len(df) == 0:
        raise DataError("diagnose needs a non-empty table with a 'text' column")
    names = list(modules) if modules is not None else [
        name for name, mod in bundle.model.named_modules() if isinstance(mod, torch.nn.RNNBase)
    ]
    if not names:
        raise CaptureError("the model has no nn.RNN/nn.LSTM/nn.GRU module: nothing to diagnose")
    texts = [str(t) for t in df["text"]]
    modules_by_name = dict(bundle.model.named_modules())
    stats = {name: _Stats(naive="output[:, -1]" if modules_by_name[name].batch_first
                          else "output[-1]") for name in names}
    with torch.no_grad(), record(bundle.model, modules=names, verify="first") as rec:
        for start in range(0, len(texts), batch_size):
            batch = bundle.adapter.encode(texts[start : start + batch_size])
            bundle.adapter.forward(bundle.model, batch)
            for name in names:
                stats[name].update(rec[name], batch["lengths"])
                forget_earlier_calls(rec, name)
    rows = [row for name in names for row in stats[name].table(name)]
    return pd.DataFrame(rows, columns=DIAGNOSIS_COLUMNS)


def format_diagnosis(table: pd.DataFrame) -> str:
    """The diagnosis as plain sentences, one paragraph per module."""
    parts = []
    for module, group in table.groupby("module", sort=False):
        seen: list[str] = []
        for text in group["explanation"]:
            if text not in seen:
                seen.append(text)
        parts.append(f"{module}:\n" + "\n".join(f"- {text}" for text in seen))
    return "\n\n".join(parts)
