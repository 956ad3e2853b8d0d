"""What a model's forward returns, read as one of four kinds: :class:`ModelOutput`.

probe-rnn captures states whatever the model returns; only what needs a prediction (the
``prediction`` task, the model's accuracy, attribution's default target) asks for one. The kinds:

``logits``
    A classifier: ``(batch, n_labels)``. One output per row of a one-text model (``(batch,)`` or
    ``(batch, 1)``, ``BCEWithLogitsLoss``) is the two logits ``(-z/2, z/2)``; a last module
    ``nn.Sigmoid``/``nn.Softmax`` means probabilities, read back as logits first.
``score``
    A pair model (two texts in): one number per pair, ``(batch,)`` (a cosine similarity, a
    Manhattan similarity ``exp(-|h1 - h2|_1)``, a distance). A pair model that returns the two
    branches' vectors ``(v1, v2)`` (trained with a contrastive loss) gets their cosine as its score.
``step-logits``
    A language model or a decoder: logits (or log-probabilities) per step, ``(batch, time,
    vocab)``, returned batch-major, time-major, or flattened ``(time * batch, vocab)`` as
    ``decoded.view(-1, ntoken)`` does; stored batch-major.
``states``
    An encoder: its return ends in a recurrent module (``(output, hidden)``, ``h_n[-1]``), so no
    prediction: nothing is read from it.

Which kind is decided from the return's shape, the number of texts the model reads and the last
leaf module that ran (a head ends in ``nn.Linear``, a softmax or a sigmoid; an encoder's return
comes straight from its ``nn.LSTM``/``nn.GRU``/``nn.RNN``, or a dropout after it).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from probe_rnn.models.recurrent import module_kind

OUTPUT_KINDS = ("logits", "score", "step-logits", "states")
#: What each kind is, in words (the model card, ``inspect``, the report).
OUTPUT_WORDS = {
    "logits": "a classifier (logits per row)",
    "score": "a pair model (one score per pair)",
    "step-logits": "a language model or decoder (logits per step)",
    "states": "an encoder (it returns states, no prediction)",
}
_PASS_THROUGH = (nn.Dropout,)


@dataclass(frozen=True)
class ModelOutput:
    """One forward's return, read.

    ``kind`` is one of :data:`OUTPUT_KINDS`; ``values`` is ``(batch, n_labels)`` logits,
    ``(batch,)`` scores, ``(batch, time, vocab)`` step logits, or for ``states`` the returned
    states with the rows first (None when no dimension holds them): not a prediction, only
    compared row by row.
    """

    kind: str
    values: Tensor | None

    @property
    def logits(self) -> Tensor | None:
        """Class logits ``(batch, n_labels)``, or None when the model has none."""
        return self.values if self.kind == "logits" else None

    def per_row(self) -> Tensor | None:
        """The values one row at a time, flattened ``(batch, -1)`` (None when there are none)."""
        return None if self.values is None else self.values.reshape(self.values.shape[0], -1)


def next_token_logprobs(step_logits: Tensor, ids: Tensor, lengths: Tensor
                        ) -> tuple[Tensor, Tensor, Tensor]:
    """What per-step logits ``(batch, time, vocab)`` give each row's own next tokens: the
    log-probability of the token at ``t + 1`` at every step ``t`` ``(batch, time - 1)``, whether
    it is the most likely one, and which steps count (``t < length - 1``); ``ids (batch,
    time)`` batch-major.

    Step ``t``'s logits score token ``t + 1`` (a language model; a decoder fed the target's
    tokens ``0..T-2`` or ``0..T-1``). A decoder loop that fills a zeroed ``outputs`` tensor from
    step 1 on (``outputs[0]`` never written, the PyTorch seq2seq tutorials' shape) returns a
    first step that is constant over the vocabulary in every row (:func:`placeholder_first`):
    that step is dropped first, so its step ``t`` scores token ``t``, as the loop wrote it."""
    if placeholder_first(step_logits):
        step_logits = step_logits[:, 1:]
    logp = torch.log_softmax(step_logits, dim=-1)
    steps = min(logp.shape[1], ids.shape[1] - 1)
    target = ids[:, 1:steps + 1].clamp_min(0)
    valid = torch.arange(steps, device=ids.device)[None, :] < (lengths - 1)[:, None]
    gold = logp[:, :steps].gather(-1, target[..., None])[..., 0]
    return gold * valid, (logp[:, :steps].argmax(-1) == target) & valid, valid


def placeholder_first(step_logits: Tensor) -> bool:
    """Whether step 0 of ``step_logits (batch, time, vocab)`` is a placeholder: the same value
    for every word in every row (the zeros a decoder loop never wrote, or their log-softmax),
    which no trained head returns."""
    if step_logits.dim() != 3 or step_logits.shape[1] < 2 or step_logits.shape[2] < 2:
        return False
    first = step_logits[:, 0]
    return bool((first == first[:, :1]).all())


def ends_in_head(last: Sequence[nn.Module]) -> bool:
    """Whether the last leaf module that ran is a head (anything but a recurrent module, an
    embedding or a dropout after one)."""
    if not last:
        return True
    module = last[-1]
    return not (module_kind(module) is not None or isinstance(module, (nn.Embedding,
                                                                        *_PASS_THROUGH)))


def read_output(out: Any, rows: int, steps: int, *, texts: int = 1, time_major: bool = False,
                last: Sequence[nn.Module] = ()) -> ModelOutput:
    """Read what ``forward`` returned for ``rows`` rows of ``steps`` steps (see the module doc).

    Raises
    ------
    TypeError
        A return that is none of the kinds (no tensor, or a shape that fits no kind); the
        message says what it was.
    """
    if texts == 2 and _two_vectors(out, rows):
        return ModelOutput("score", F.cosine_similarity(out[0].float(), out[1].float(), dim=-1))
    first = out[0] if isinstance(out, tuple | list) and out else out
    if not isinstance(first, Tensor):
        raise TypeError(f"it returned a {type(first).__name__}, not a tensor")
    if texts == 2 and first.shape[0] == rows and (
            first.dim() == 1 or (first.dim() == 2 and first.shape[1] == 1)):
        return ModelOutput("score", first.reshape(rows))  # even when computed by a function
    if not ends_in_head(last):
        return ModelOutput("states", _rows_first(first, rows, time_major))
    if first.dim() == 3:
        return ModelOutput("step-logits", _batch_major(first, rows, time_major))
    if first.dim() == 2 and first.shape[0] != rows and first.shape[0] % max(rows, 1) == 0:
        time = first.shape[0] // rows  # decoded.view(-1, ntoken) of a (time, batch) output
        shaped = first.reshape(time, rows, -1) if time_major else first.reshape(rows, time, -1)
        return ModelOutput("step-logits", shaped.transpose(0, 1) if time_major else shaped)
    return ModelOutput("logits", classifier_logits(first, rows, last))


def _rows_first(values: Tensor, rows: int, time_major: bool) -> Tensor | None:
    """An encoder's returned states with the rows first (compared row by row by the
    batch-dependence check), or None when no dimension holds the rows."""
    if values.dim() == 3:
        try:
            return _batch_major(values, rows, time_major)
        except TypeError:
            return None
    return values if values.dim() >= 1 and values.shape[0] == rows else None


def _two_vectors(out: Any, rows: int) -> bool:
    return (isinstance(out, tuple | list) and len(out) == 2
            and all(isinstance(v, Tensor) and v.dim() == 2 and v.shape[0] == rows for v in out)
            and out[0].shape == out[1].shape)


def _batch_major(values: Tensor, rows: int, time_major: bool) -> Tensor:
    if values.shape[0] == rows and (not time_major or values.shape[1] != rows):
        return values
    if values.shape[1] == rows:
        return values.transpose(0, 1)
    raise TypeError(f"it returned shape {tuple(values.shape)}, with no dimension of {rows} rows")


def classifier_logits(out: Tensor, rows: int, last: Sequence[nn.Module]) -> Tensor:
    ending = type(last[-1]) if last else None
    if ending in (nn.Sigmoid, nn.Softmax) and out.is_floating_point():
        p = out.clamp(1e-7, 1 - 1e-7) if ending is nn.Sigmoid else out.clamp_min(1e-12)
        out = torch.log(p) - torch.log1p(-p) if ending is nn.Sigmoid else torch.log(p)
    if out.dim() == 1 or (out.dim() == 2 and out.shape[1] == 1):
        half = out.reshape(-1, 1) / 2
        out = torch.cat([-half, half], dim=1)
    if out.dim() != 2 or out.shape[0] != rows:
        raise TypeError(f"it returned shape {tuple(out.shape)}, not logits ({rows}, n_labels)")
    return out
