"""What attribution explains, by what the model returns: :func:`attribution_target`.

* a classifier: the logit of its ``prediction`` (default) or of the gold ``label``;
* a language model (per-step logits over one text): ``continuation``, the log-likelihood it gives
  each row's own next tokens (:func:`continuation_loglik`), one number per row;
* an encoder (states), a pair model (a score of two texts), an encoder-decoder: no target yet;
  :class:`~probe_rnn.errors.NoTargetError` says so, and the run records the stage as skipped
  with that note.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import torch

from probe_rnn.errors import ConfigError, Mention, NoTargetError

if TYPE_CHECKING:
    from probe_rnn.models import ModelBundle

TARGETS = ("prediction", "label", "continuation")
#: The name of the one "class" a ``continuation`` attribution explains.
CONTINUATION = "log-likelihood of the continuation"


def attribution_target(bundle: ModelBundle, target: str | None) -> str:
    """The target to explain (see :func:`attribute`'s ``target``), or NoTargetError saying why
    this model has none."""
    from probe_rnn.models.outputs import OUTPUT_WORDS
    from probe_rnn.models.recurrent import recurrent_modules

    modules = list(recurrent_modules(bundle.model))
    if len(modules) > 1:
        raise NoTargetError(
            f"attribution skipped: it explains a model through its one recurrent module, and "
            f"{type(bundle.model).__name__} has {len(modules)} ({', '.join(modules)}); their "
            "states are captured and probed all the same")
    kind = getattr(bundle, "output_kind", None) or "logits"
    texts = getattr(getattr(bundle.adapter, "feeding", None), "texts", 1)
    own = {"logits": "prediction"}.get(kind) or (
        "continuation" if kind == "step-logits" and texts == 1 else None)
    if target is None and own is not None:
        return own
    if (target in ("prediction", "label") and kind == "logits") or (
            own is not None and target == own):
        return str(target)
    what = f"{type(bundle.model).__name__} is {OUTPUT_WORDS.get(kind, kind)}"
    if own is not None:
        raise ConfigError(Mention("target", str(target)), f" does not apply: {what}; its "
                          "target is ", Mention("target", own))
    raise NoTargetError(f"attribution skipped: {what}, with no class logit or continuation "
                        "log-likelihood to explain (a pair score or a decoder's target is not "
                        "attributed yet); its states are captured and probed all the same")


def continuation_loglik(step_logits: torch.Tensor, ids: torch.Tensor, lengths: torch.Tensor
                        ) -> torch.Tensor:
    """``(batch, 1)``: each row's summed log-probability of its own tokens 1..length-1 given
    the steps before (``step_logits (batch, time, vocab)``, batch-major)."""
    from probe_rnn.models.outputs import next_token_logprobs

    return next_token_logprobs(step_logits, ids, lengths)[0].sum(1, keepdim=True)
