"""Does the model treat each row on its own? The batch-dependence check.

probe-rnn batches rows as it likes (capture, probing, attribution) and reads every row's states
and logits as that row's. A model whose output for a row depends on the other rows of its batch
breaks that: the tutorial shape ``lstm_out.view(-1, hidden) -> linear -> .view(batch, -1)[:, -1]``
on a time-major (``batch_first=False``) output hands row i a state of another row.

:func:`check_batch_dependence` runs before any work. **What it compares**: up to
:data:`CHECK_ROWS` rows of the user's data that have the same number of steps (the group with
the most rows among the first :data:`SCAN_ROWS`; equal lengths, so no call pads one row more
than another: a padded, not packed, model's ``h_n`` legitimately depends on its padding), called
(1) as one batch, (2) as one batch in reverse order and (3) each row alone. Each row's logits
must agree across the three calls within ``tolerance = BATCH_TOLERANCE * max(1, max |logit|)``
(float rounding of different batch sizes is ~1e-7 of the logits' scale). A model that fails is
named in a one-line :class:`~probe_rnn.errors.ModelCallError` unless ``allow=True``
(``--allow-batch-dependence``); either way the outcome is kept on the bundle
(``bundle.batch_check``), so the model card, ``run.json`` and the report say it.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

import torch

from probe_rnn.errors import Mention, ModelCallError, ProbeRnnError
from probe_rnn.models.adapters import forward_signature

if TYPE_CHECKING:
    from probe_rnn.models.bundle import ModelBundle

#: Relative tolerance on logits (times ``max(1, max |logit|)``).
BATCH_TOLERANCE = 1e-4
#: Rows compared (at most), and rows of the table scanned for a group of equal length.
CHECK_ROWS = 8
SCAN_ROWS = 512


def _logits(bundle: ModelBundle, texts: list[Any]) -> torch.Tensor:
    """What the model returns per row (logits, a pair score, per-step logits, an encoder's
    states), flattened ``(rows, -1)``."""
    from probe_rnn.models.adapters import model_output

    adapter = bundle.adapter
    values = model_output(adapter, bundle.model, adapter.encode(texts)).per_row()
    if values is None:
        return torch.zeros(len(texts), 0)
    return values.detach().float().cpu()


def _equal_length_rows(bundle: ModelBundle, texts: list[Any]) -> tuple[list[Any], int]:
    """The largest group (ties: the longest rows) of equal-length texts, at most CHECK_ROWS
    (a pair's rows: both texts of equal length)."""
    batch = bundle.adapter.encode(texts)
    lengths = batch["lengths"].tolist()
    seconds = batch["lengths_2"].tolist() if "lengths_2" in batch else [0] * len(lengths)
    words = [_words(bundle, t) for t in texts]  # a collate without lengths reports the padding
    keys = [(int(n), int(m), w) for n, m, w in zip(lengths, seconds, words, strict=True)]
    counts = Counter(keys)
    size, key = max((c, k) for k, c in counts.items())
    if size < 2:
        return [], 0
    group = [t for t, k in zip(texts, keys, strict=True) if k == key]
    return group[:CHECK_ROWS], key[0]


def _words(bundle: ModelBundle, text: Any) -> tuple[int, ...]:
    """The number of tokens of each of the row's texts, by the bundle's tokenizer (else
    whitespace words)."""
    texts = text if isinstance(text, tuple | list) else (text,)
    tokenize = getattr(bundle.tokenizer, "tokenize", None)
    return tuple(len(tokenize(str(t)) if callable(tokenize) else str(t).split()) for t in texts)


def _gap(a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
    """Per row, the largest |difference| over the columns both have (a row called alone may
    return fewer steps than in a padded batch)."""
    width = min(a.shape[1], b.shape[1])
    return (a[:, :width] - b[:, :width]).abs().amax(dim=1)


@torch.no_grad()
def _compare(bundle: ModelBundle, group: list[Any]) -> dict[str, Any]:
    together = _logits(bundle, group)
    if together.shape[1] == 0:  # an encoder whose return has no row dimension
        return {"max_difference": 0.0, "tolerance": 0.0, "rows_differing": 0,
                "predictions_changed": 0, "alone": "nothing per row to compare"}
    reverse = _logits(bundle, group[::-1]).flip(0)
    diff = (together - reverse).abs().amax(dim=1)
    flips = together.argmax(1) != reverse.argmax(1)
    alone_note = None
    try:
        alone = [_logits(bundle, [text]) for text in group]
    except ProbeRnnError as exc:  # a forward that cannot take a batch of one (.squeeze())
        alone_note = f"rows alone not compared: {str(exc)[:200]}"
    else:
        for row, own in enumerate(alone):
            diff[row] = torch.maximum(diff[row], _gap(together[row:row + 1], own)[0])
            if own.shape[1] == together.shape[1]:
                flips[row] |= bool(together[row].argmax() != own[0].argmax())
    tolerance = BATCH_TOLERANCE * max(1.0, float(together.abs().max()))
    return {"max_difference": float(diff.max()), "tolerance": tolerance,
            "rows_differing": int((diff > tolerance).sum()),
            "predictions_changed": int(flips.sum()), "alone": alone_note}


def check_batch_dependence(bundle: ModelBundle, texts: Sequence[str], *,
                           allow: bool = False) -> dict[str, Any]:
    """Check that each row's outputs (logits, score, per-step logits, states) do not depend on
    its batch-mates (module docstring).

    Parameters
    ----------
    bundle : ModelBundle
        The model with its adapter; the outcome is stored as ``bundle.batch_check``.
    texts : sequence of str (or of pairs ``(a, b)``)
        The data's texts (:func:`probe_rnn.data.model_inputs`); the first
        :data:`SCAN_ROWS` are scanned for equal-length rows.
    allow : bool
        Go on when the model mixes rows (recorded as ``allowed``); default: raise.

    Returns
    -------
    dict
        ``checked``, ``rows``, ``steps``, ``max_difference``, ``tolerance``,
        ``rows_differing``, ``predictions_changed``, ``per_row`` (the verdict), ``allowed``
        and ``sentence`` (plain text); ``checked`` is False, with ``sentence`` saying why,
        when no two scanned rows have the same length.
    """
    scan = [t if isinstance(t, tuple | list) else str(t) for t in list(texts)[:SCAN_ROWS]]
    if scan:
        bundle.settle_output_kind(scan)
    group, steps = _equal_length_rows(bundle, scan) if len(scan) >= 2 else ([], 0)
    if not group:
        result: dict[str, Any] = {
            "checked": False, "per_row": None, "allowed": bool(allow),
            "sentence": f"not checked: no two of the first {len(scan)} rows have the same "
                        "number of steps"}
    else:
        result = {"checked": True, "rows": len(group), "steps": steps, **_compare(bundle, group)}
        result["per_row"] = result["rows_differing"] == 0
        result["allowed"] = bool(allow)
        result["sentence"] = describe_batch_check(result, forward_signature(bundle.model))
    bundle.batch_check = result
    if result["per_row"] is False and not allow:
        raise ModelCallError(
            f"{result['sentence']}: fix the forward (a .view/.reshape that mixes the batch and "
            "time axes, e.g. output.view(-1, hidden) of a time-major RNN, or statistics over "
            "the batch), or pass ", Mention("allow_batch_dependence", "True"),
            " to go on anyway")
    return result


def describe_batch_check(result: dict[str, Any], model: str = "the model") -> str:
    """One plain sentence for a :func:`check_batch_dependence` result."""
    if not result.get("checked"):
        return f"batch dependence {result.get('sentence', 'not checked')}"
    what = (f"{result['rows']} rows of {result['steps']} steps called as one batch, as one "
            f"batch in reverse order{'' if result.get('alone') else ' and each alone'}")
    if result["per_row"]:
        return (f"{model} treats each row on its own: {what} give the same outputs (max "
                f"|difference| {result['max_difference']:.1e}, tolerance "
                f"{result['tolerance']:.1e})")
    return (f"{model} mixes the rows of a batch: {what} give outputs up to "
            f"{result['max_difference']:.3g} apart ({result['rows_differing']} of "
            f"{result['rows']} rows beyond the tolerance {result['tolerance']:.1e}, "
            f"{result['predictions_changed']} predictions change), so what probe-rnn reads as "
            "a row's output depends on which rows share its batch")
