"""What attribution explains, by what the model returns: :func:`attribution_target`.

* a classifier: the logit of its ``prediction`` (default) or of the gold ``label``;
* a language model (per-step logits over one text): ``continuation``, the log-likelihood it gives
  each row's own next tokens (:func:`continuation_loglik`), one number per row;
* a pair model (two texts in, one score out): ``score``, the model's own score of each pair;
* an encoder-decoder fed its target (two texts in, per-step logits out): ``continuation``, the
  log-likelihood it gives each row's reference target (text 2), teacher-forced, aligned as
  :func:`~probe_rnn.models.outputs.next_token_logprobs` aligns it (:func:`text_target`);
* an encoder (states), a one-text model with several recurrent modules, a collate function's
  two texts: no target; :class:`~probe_rnn.errors.NoTargetError` says so, and the run records
  the stage as skipped with that note.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import torch

from probe_rnn.errors import AttributionError, ConfigError, Mention, NoTargetError

if TYPE_CHECKING:
    from probe_rnn.models import ModelBundle
    from probe_rnn.models.outputs import ModelOutput

TARGETS = ("prediction", "label", "continuation", "score")
#: The name of the one "class" a ``continuation`` attribution explains.
CONTINUATION = "log-likelihood of the continuation"


def attribution_target(bundle: ModelBundle, target: str | None) -> str:
    """The target to explain (see :func:`attribute`'s ``target``), or NoTargetError saying why
    this model has none."""
    from probe_rnn.models.outputs import OUTPUT_WORDS
    from probe_rnn.models.recurrent import recurrent_modules

    modules = list(recurrent_modules(bundle.model))
    texts = texts_read(bundle)
    kind = getattr(bundle, "output_kind", None) or "logits"
    if texts == 1 and (kind == "score" or getattr(bundle.adapter, "texts", 1) == 2):
        raise NoTargetError(
            f"attribution skipped: {type(bundle.model).__name__} is fed two texts by a collate "
            "function or an adapter plugin, and only the built-in adapters' two texts (--text "
            "a,b) are attributed; its states are captured and probed all the same")
    if len(modules) > 1 and texts == 1:
        raise NoTargetError(
            f"attribution skipped: it explains a model through its one recurrent module, and "
            f"{type(bundle.model).__name__} has {len(modules)} ({', '.join(modules)}); their "
            "states are captured and probed all the same")
    own = OWN_TARGETS.get((kind, texts))
    if target is None and own is not None:
        return own
    if (target in ("prediction", "label") and kind == "logits") or (
            own is not None and target == own):
        return str(target)
    what = f"{type(bundle.model).__name__} is {OUTPUT_WORDS.get(kind, kind)}"
    if own is not None:
        raise ConfigError(Mention("target", str(target)), f" does not apply: {what}; its "
                          "target is ", Mention("target", own))
    raise NoTargetError(f"attribution skipped: {what}, with no class logit, pair score or "
                        "continuation log-likelihood to explain; its states are captured and "
                        "probed all the same")


def texts_read(bundle: ModelBundle) -> int:
    """How many texts the bundle's forward reads as the built-in adapters feed it (1 for a
    collate function's model: its two texts are not attributed)."""
    return int(getattr(getattr(bundle.adapter, "feeding", None), "texts", 1))


#: The target of each (output kind, texts read); a kind not here has none.
OWN_TARGETS = {("logits", 1): "prediction", ("step-logits", 1): "continuation",
               ("logits", 2): "prediction", ("score", 2): "score",
               ("step-logits", 2): "continuation"}


def continuation_loglik(step_logits: torch.Tensor, ids: torch.Tensor, lengths: torch.Tensor
                        ) -> torch.Tensor:
    """``(batch, 1)``: each row's summed log-probability of its own tokens 1..length-1 given
    the steps before (``step_logits (batch, time, vocab)``, batch-major)."""
    from probe_rnn.models.outputs import next_token_logprobs

    return next_token_logprobs(step_logits, ids, lengths)[0].sum(1, keepdim=True)


def text_target(output: ModelOutput, target: str, lengths_2: torch.Tensor, ids_2: torch.Tensor
                ) -> torch.Tensor:
    """What a model reading two texts is explained by, one column per class: its class logits
    ``(batch, n_labels)`` (``prediction``, ``label``), its ``score`` of each pair ``(batch,
    1)``, or the ``continuation`` log-likelihood ``(batch, 1)`` of each row's reference target
    ``ids_2`` (batch-major, lengths ``lengths_2``) under its per-step logits."""
    values = output.values
    if values is None or output.kind == "states":
        raise AttributionError(f"the model returned {output.kind}, nothing to attribute")
    if output.kind == "logits":
        return values
    if target == "score":
        return values.reshape(-1, 1)
    return continuation_loglik(values, ids_2, lengths_2)
