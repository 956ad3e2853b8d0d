"""The encoder–decoder setting: a decoder rebuilds the sentence from the readout under study.

The question's seq2seq case: "the output of the encoder is ignored and the hidden state of the
last cell is used as an input to the decoder". :class:`Autoencoder` is the reference encoder
(:mod:`probe_rnn.studies.encoders`) followed by a recurrent decoder of the same cell type, the
same number of layers and the same hidden size, unidirectional, that reconstructs the input
tokens with teacher forcing: it reads ``<bos> x_1 … x_L`` and predicts ``x_1 … x_L <eos>``.

Its initial hidden state is the readout under study, mapped by one linear *bridge*
``(directions * hidden) -> hidden`` shared by every layer:

``hidden``
    h_n of **every** layer (directions concatenated), each through the bridge — the seq2seq
    convention;
``last``, ``mean``, ``max``, ``naive-last``
    the readout vector through the bridge, the same for every decoder layer;
``zero``
    no readout: the decoder starts from zeros (the baseline: what a decoder reconstructs
    without any sentence information, i.e. a language model).

An LSTM decoder's initial cell state is zero for every readout, so the readout is the only
thing that differs between runs. Scores on held-out rows: token accuracy (argmax of every
predicted token, ``<eos>`` included) and perplexity ``exp(mean NLL per token)``; early
stopping on dev token accuracy.
"""

from __future__ import annotations

import math
from typing import Any

import torch
from torch import Tensor, nn
from torch.nn.utils.rnn import pack_padded_sequence, pad_packed_sequence

from probe_rnn.models.classifier import RNNClassifier
from probe_rnn.models.config import Architecture, TrainBudget
from probe_rnn.models.recurrent import module_kind
from probe_rnn.models.training import EncodedSplit
from probe_rnn.studies.encoders import Prepared, build_encoder, encoder_bundle, fit, prepare

#: Readouts of the autoencoder study: the classifier's, plus the ``zero`` baseline.
AUTOENCODE_READOUTS = ("last", "hidden", "mean", "max", "naive-last", "zero")
_IGNORE = -100


def _decoder_rnn(rnn: str, size: int, hidden: int, layers: int) -> nn.RNNBase:
    kwargs = dict(input_size=size, hidden_size=hidden, num_layers=layers, batch_first=True)
    if rnn == "lstm":
        return nn.LSTM(**kwargs)
    if rnn == "gru":
        return nn.GRU(**kwargs)
    return nn.RNN(nonlinearity="relu" if rnn == "rnn-relu" else "tanh", **kwargs)


class Autoencoder(nn.Module):
    """Encoder -> readout -> linear bridge -> decoder's initial state -> tokens.

    Token ids ``0 .. V-1`` are the encoder's vocabulary; the decoder reads id ``V`` as
    ``<bos>`` and predicts class ``V`` as ``<eos>``.
    """

    def __init__(self, encoder: RNNClassifier, readout: str) -> None:
        super().__init__()
        cfg = encoder.config
        self.encoder = encoder
        self.readout = readout
        self.vocab = cfg.vocab_size
        self.bridge = nn.Linear(cfg.feature_dim, cfg.hidden)
        self.embedding = nn.Embedding(cfg.vocab_size + 1, cfg.embedding_dim,
                                      padding_idx=cfg.pad_id)
        self.decoder = _decoder_rnn(cfg.rnn, cfg.embedding_dim, cfg.hidden, cfg.layers)
        self.out = nn.Linear(cfg.hidden, cfg.vocab_size + 1)

    def initial_state(self, ids: Tensor, lengths: Tensor) -> Tensor:
        """The decoder's ``h_0`` ``(layers, batch, hidden)`` from the readout under study."""
        cfg = self.encoder.config
        shape = (cfg.layers, ids.shape[0], cfg.hidden)
        if self.readout == "zero":
            return self.bridge.weight.new_zeros(shape)
        output, h_n = self.encoder.run_rnn(ids, lengths)
        if self.readout == "hidden":  # every layer's h_n, directions concatenated
            per_layer = h_n.view(cfg.layers, cfg.directions, ids.shape[0], cfg.hidden)
            return self.bridge(torch.cat(list(per_layer.unbind(1)), dim=-1))
        vector = self.bridge(self.encoder.readout_from(output, h_n, lengths))
        return vector.unsqueeze(0).expand(shape).contiguous()

    def forward(self, ids: Tensor, lengths: Tensor) -> Tensor:
        """Logits ``(batch, time + 1, V + 1)`` of ``x_1 … x_L <eos>`` given ``<bos> x_1 … x_L``."""
        h0 = self.initial_state(ids, lengths)
        state = (h0, torch.zeros_like(h0)) if module_kind(self.decoder) == "lstm" else h0
        bos = ids.new_full((ids.shape[0], 1), self.vocab)
        steps = torch.cat([bos, ids], dim=1)
        packed = pack_padded_sequence(self.embedding(steps), (lengths + 1).cpu(),
                                      batch_first=True, enforce_sorted=False)
        out, _ = self.decoder(packed, state)
        out, _ = pad_packed_sequence(out, batch_first=True, total_length=steps.shape[1])
        return self.out(out)

    def targets(self, ids: Tensor, lengths: Tensor) -> Tensor:
        """``x_1 … x_L <eos>`` per row, ``-100`` (ignored) after it: ``(batch, time + 1)``."""
        time = ids.shape[1] + 1
        target = torch.full((ids.shape[0], time), _IGNORE, dtype=torch.long)
        steps = torch.arange(time).unsqueeze(0)
        valid = steps < lengths.unsqueeze(1)
        target[:, :-1][valid[:, :-1]] = ids[valid[:, :-1]]
        target[steps == lengths.unsqueeze(1)] = self.vocab
        return target

    def loss(self, ids: Tensor, lengths: Tensor) -> Tensor:
        """Mean cross-entropy per reconstructed token."""
        logits = self(ids, lengths)
        return nn.functional.cross_entropy(logits.flatten(0, 1), self.targets(ids, lengths)
                                           .flatten(), ignore_index=_IGNORE)


@torch.no_grad()
def reconstruction(model: Autoencoder, split: EncodedSplit, batch_size: int = 512
                   ) -> dict[str, float]:
    """Token accuracy and perplexity of ``split`` under teacher forcing."""
    model.eval()
    correct = tokens = 0
    nll = 0.0
    for start in range(0, len(split.y), batch_size):
        ids, lengths, _ = split.rows(torch.arange(start, min(start + batch_size, len(split.y))))
        logits = model(ids, lengths).flatten(0, 1)
        target = model.targets(ids, lengths).flatten()
        keep = target != _IGNORE
        correct += int((logits[keep].argmax(1) == target[keep]).sum())
        nll += float(nn.functional.cross_entropy(logits[keep], target[keep], reduction="sum"))
        tokens += int(keep.sum())
    if tokens == 0:
        return {"token_accuracy": math.nan, "perplexity": math.nan}
    return {"token_accuracy": correct / tokens, "perplexity": math.exp(nll / tokens)}


def train_autoencoder(
    df: Any, *, readout: str, seed: int, tokenizer: str, architecture: Architecture,
    budget: TrainBudget, prepared: Prepared | None = None,
) -> dict[str, Any]:
    """Train one autoencoder; return its scores, its history and the encoder as a bundle."""
    prepared = prepared or prepare(df, tokenizer, seed)
    torch.manual_seed(seed)
    model = Autoencoder(build_encoder(prepared, readout, architecture), readout)
    train, dev = prepared.splits["train"], prepared.splits["dev"]

    def step(epoch: int, index: Tensor) -> Tensor:
        ids, lengths, _ = train.rows(index)
        return model.loss(ids, lengths)

    history, best_epoch = fit(
        model, step, len(train.y), lambda: reconstruction(model, dev)["token_accuracy"], budget,
        seed)
    scores = {f"dev_{k}": v for k, v in reconstruction(model, dev).items()}
    test = prepared.splits.get("test")
    scores.update({f"test_{k}": v for k, v in (reconstruction(model, test) if test is not None
                                                else {"token_accuracy": math.nan,
                                                      "perplexity": math.nan}).items()})
    bundle = encoder_bundle(model.encoder, prepared, {
        "objective": "autoencode", "readout": readout, "seed": seed, "loss": "cross-entropy",
        "best_epoch": best_epoch, "dev_token_accuracy": scores["dev_token_accuracy"],
    }, seed)
    return {"scores": scores, "history": history, "best_epoch": best_epoch, "bundle": bundle}
