"""A loaded model with everything needed to feed it: :class:`ModelBundle`.

Also the model card (:func:`describe_recurrent`, :meth:`ModelBundle.card`) that ``inspect`` and
``run.json`` show, and :func:`build_random_init`, the random-weights baseline of probing.
"""

from __future__ import annotations

import copy
import math
from collections.abc import Sequence
from dataclasses import dataclass, replace
from typing import TYPE_CHECKING, Any

import torch
from torch import Tensor, nn

from probe_rnn.models.adapters import Adapter, iter_batches
from probe_rnn.models.classifier import RNNClassifier
from probe_rnn.models.config import ModelConfig
from probe_rnn.models.recurrent import recurrent_modules
from probe_rnn.validation import Interval, check_param

if TYPE_CHECKING:
    from probe_rnn.data import Tokenizer

@dataclass
class ModelBundle:
    """A model in eval mode with its tokenizer, labels, provenance and adapter.

    Attributes
    ----------
    model : nn.Module
        In eval mode.
    tokenizer : Tokenizer or None
        None only for foreign models whose adapter brings its own encoding.
    labels : list[str]
        Class names; index = logit column.
    config : ModelConfig or None
        Architecture of our classifier; None for foreign models.
    meta : dict
        Training metadata (dataset, seed, epochs, dev/test accuracy, ...).
    adapter : Adapter
        Encodes texts and calls the model.
    source : str
        Where the model came from (checkpoint path, or ``"trained in memory"``).
    checksum : str
        sha256 of the checkpoint file ("" when not loaded from a file).
    format : str
        How it was loaded, e.g. ``"probe-rnn-checkpoint v1"``, ``"state_dict + factory m:f"``.
    embedding : str or None
        Name of the token embedding submodule (attribution interpolates its output).
    call : str
        How the model is called and how that was decided (detected or given).
    origin : dict or None
        How to load this very model again in another process (a Dask worker): the checkpoint's
        absolute path and the loading options, or ``{"random_init": origin, "seed": s}``;
        None for a model built in memory (it is then shipped by value).
    output_kind : str or None
        What the model returns (:data:`~probe_rnn.models.outputs.OUTPUT_KINDS`): class
        ``logits``, a pair ``score``, ``step-logits`` or ``states`` (an encoder, no prediction);
        None until a first batch says (a collate function's model:
        :meth:`settle_output_kind`).
    batch_check : dict or None
        The outcome of :func:`~probe_rnn.models.batch_dependence.check_batch_dependence`
        (None until it ran): whether each row's logits are independent of its batch-mates.
    """

    model: nn.Module
    tokenizer: Tokenizer | None
    labels: list[str]
    config: ModelConfig | None
    meta: dict[str, Any]
    adapter: Adapter
    source: str = "in memory"
    checksum: str = ""
    format: str = ""
    embedding: str | None = None
    call: str = ""
    origin: dict[str, Any] | None = None
    batch_check: dict[str, Any] | None = None
    output_kind: str | None = "logits"

    def __post_init__(self) -> None:
        self.model.eval()

    @torch.no_grad()
    def predict_logits(self, texts: Sequence[str], batch_size: int = 256) -> Tensor:
        """Logits ``(len(texts), n_labels)`` in row order, computed in eval mode."""
        self.model.eval()
        batches = iter_batches(texts, self.adapter, batch_size)
        chunks = [self.adapter.forward(self.model, batch) for batch in batches]
        if not chunks:
            return torch.empty(0, len(self.labels))
        return torch.cat([c.detach().cpu() for c in chunks])

    @torch.no_grad()
    def settle_output_kind(self, texts: Sequence[Any]) -> str:
        """What the model returns, learnt from a call on the first few ``texts`` when it is not
        known yet (a collate function's model); the known kind otherwise."""
        if self.output_kind is None:
            from probe_rnn.models.adapters import model_output

            self.model.eval()
            batch = self.adapter.encode(list(texts)[:4])
            self.output_kind = model_output(self.adapter, self.model, batch).kind
        return self.output_kind

    def predict(self, texts: Sequence[str], batch_size: int = 256) -> list[str]:
        """Predicted label names, in row order."""
        ids = self.predict_logits(texts, batch_size).argmax(dim=1).tolist()
        return [self.labels[i] if i < len(self.labels) else str(i) for i in ids]

    def card(self) -> dict[str, Any]:
        """Plain-dict model card (the ``"model"`` entry of ``run.json``)."""
        tok = self.tokenizer
        return {
            "source": self.source,
            "checksum": self.checksum,
            "format": self.format,
            "config": self.config.to_dict() if self.config is not None else None,
            "labels": list(self.labels),
            "tokenizer": None if tok is None else {
                "kind": getattr(tok, "kind", type(tok).__name__), "vocab_size": len(tok),
                **({"source": tok.source} if hasattr(tok, "source") else {})},
            "adapter": type(self.adapter).__name__,
            "layout": getattr(self.adapter, "layout", None),
            "call": self.call,
            "returns": self.output_kind,
            "texts": getattr(getattr(self.adapter, "feeding", None), "texts", None)
            or getattr(self.adapter, "texts", 1),
            "batch_dependence": None if self.batch_check is None else {
                k: self.batch_check.get(k) for k in ("per_row", "allowed", "sentence")},
            "embedding": self.embedding,
            "meta": dict(self.meta),
            "recurrent_modules": describe_recurrent(self.model),
            "parameters": sum(p.numel() for p in self.model.parameters()),
        }


def describe_recurrent(model: nn.Module) -> list[dict[str, Any]]:
    """One dict per ``nn.RNN``/``nn.GRU``/``nn.LSTM`` inside ``model`` (its
    :func:`~probe_rnn.models.recurrent.recurrent_modules`), the model card's entries.

    Keys: ``name, type, layers, directions, hidden, proj_size, parameters`` (``type`` is
    ``LSTM``, ``GRU``, ``RNN(tanh)`` or ``RNN(relu)``).
    """
    found = []
    for name, module in recurrent_modules(model).items():
        kind = module.mode
        if module.mode.startswith("RNN_"):
            kind = f"RNN({module.mode[4:].lower()})"
        found.append(
            {
                "name": name or "(model)",
                "type": kind,
                "layers": module.num_layers,
                "directions": 2 if module.bidirectional else 1,
                "hidden": module.hidden_size,
                "proj_size": getattr(module, "proj_size", 0),
                "parameters": sum(p.numel() for p in module.parameters()),
            }
        )
    return found


def build_random_init(bundle: ModelBundle, seed: int = 0) -> ModelBundle:
    """Same architecture, tokenizer and labels with freshly initialised (seeded) weights.

    Our classifier is rebuilt from its config under ``torch.manual_seed(seed)``, which gives
    PyTorch's default initialisation. A foreign model is deep-copied and every submodule's
    ``reset_parameters()`` is called; parameters owned by modules without one are drawn from
    ``U(-1/sqrt(fan_in), 1/sqrt(fan_in))``. The global RNG state is left untouched.
    """
    check_param("seed", seed, Interval(int, None, None))
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        if bundle.config is not None and isinstance(bundle.model, RNNClassifier):
            model: nn.Module = RNNClassifier(ModelConfig.from_dict(bundle.config.to_dict()))
        else:
            model = _reset_foreign(bundle.model)
    device = next((p.device for p in bundle.model.parameters()), torch.device("cpu"))
    model.to(device).eval()
    meta = dict(bundle.meta, random_init=True, random_init_seed=seed)
    return replace(
        bundle,
        model=model,
        meta=meta,
        source=f"{bundle.source} (random init, seed {seed})",
        origin=None if bundle.origin is None else {"random_init": bundle.origin, "seed": seed},
    )


def _reset_foreign(original: nn.Module) -> nn.Module:
    model = copy.deepcopy(original)
    covered: set[int] = set()
    for module in model.modules():
        reset = getattr(module, "reset_parameters", None)
        if callable(reset):
            reset()
            covered.update(id(p) for p in module.parameters())
    with torch.no_grad():
        for param in model.parameters():
            if id(param) in covered:
                continue
            fan_in = param.shape[-1] if param.dim() > 0 else 1
            bound = 1.0 / math.sqrt(max(fan_in, 1))
            param.uniform_(-bound, bound)
    return model

