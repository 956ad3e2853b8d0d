"""The reference recurrent text classifier: embedding -> RNN/GRU/LSTM -> readout -> linear head.

The readout is explicit and swappable because *which state a classifier reads* is the question
probe-rnn answers. :meth:`RNNClassifier.readout_from` is the single place where the sentence
vector is taken from the recurrent module's results, so an unrolled twin of the module (used by
attribution) can be pushed through exactly the same readout.

Readouts, for ``output`` of shape ``(batch, time, directions * hidden)``:

``last``
    ``output[b, lengths[b] - 1]``: each row's output at its own last valid step (the common
    idiom). For a bidirectional module its backward half is the backward direction's output at
    the last token, which has seen **only that token**, not the sentence.
``hidden``
    ``h_n`` of the top layer, directions concatenated ``[fwd, bwd]``: the forward half equals
    ``last``'s forward half (on packed input), the backward half has read the whole sentence.
``mean`` / ``max``
    Pooled over each row's valid steps only (padding never counts).
``naive-last``
    ``output[:, -1]`` of the padded batch: the common bug. For rows shorter than the batch it
    reads padding (zeros on packed input; states driven by pad tokens on padded input).
"""

from __future__ import annotations

import torch
from torch import Tensor, nn
from torch.nn.utils.rnn import pack_padded_sequence, pad_packed_sequence

from probe_rnn.errors import DataError
from probe_rnn.models.config import ModelConfig


def valid_mask(lengths: Tensor, time: int) -> Tensor:
    """Boolean mask ``(batch, time)``: True where the step is < the row's length."""
    steps = torch.arange(time, device=lengths.device)
    return steps.unsqueeze(0) < lengths.unsqueeze(1)


def _build_rnn(config: ModelConfig) -> nn.RNNBase:
    kwargs = dict(
        input_size=config.embedding_dim,
        hidden_size=config.hidden,
        num_layers=config.layers,
        batch_first=True,
        bidirectional=config.bidirectional,
        dropout=config.dropout if config.layers > 1 else 0.0,
    )
    if config.rnn == "lstm":
        return nn.LSTM(**kwargs)
    if config.rnn == "gru":
        return nn.GRU(**kwargs)
    nonlinearity = "relu" if config.rnn == "rnn-relu" else "tanh"
    return nn.RNN(nonlinearity=nonlinearity, **kwargs)


class RNNClassifier(nn.Module):
    """Embedding -> recurrent module -> readout -> linear head.

    Parameters
    ----------
    config : ModelConfig
        Architecture; validated again here.

    Attributes
    ----------
    embedding : nn.Embedding
        ``(vocab_size, embedding_dim)`` with ``padding_idx = config.pad_id``.
    rnn : nn.LSTM | nn.GRU | nn.RNN
        ``batch_first=True``.
    head : nn.Linear
        ``(directions * hidden) -> n_labels``.
    """

    def __init__(self, config: ModelConfig) -> None:
        super().__init__()
        config.validate()
        self.config = config
        self.embedding = nn.Embedding(
            config.vocab_size, config.embedding_dim, padding_idx=config.pad_id
        )
        self.rnn = _build_rnn(config)
        self.head = nn.Linear(config.feature_dim, config.n_labels)

    def run_rnn(self, ids: Tensor, lengths: Tensor) -> tuple[Tensor, Tensor]:
        """Embed and run the recurrent module.

        Parameters
        ----------
        ids : LongTensor (batch, time)
            Right-padded token ids.
        lengths : LongTensor (batch,)
            Valid steps per row, each in ``[1, time]``.

        Returns
        -------
        output : Tensor (batch, time, directions * hidden)
            Padded, batch-major; on packed input positions >= length are zero.
        h_n : Tensor (layers * directions, batch, hidden)
            Final hidden states as the module returned them.
        """
        _check_inputs(ids, lengths)
        emb = self.embedding(ids)
        if self.config.packed:
            packed = pack_padded_sequence(
                emb, lengths.detach().cpu(), batch_first=True, enforce_sorted=False
            )
            out_packed, state = self.rnn(packed)
            output, _ = pad_packed_sequence(out_packed, batch_first=True, total_length=ids.shape[1])
        else:
            output, state = self.rnn(emb)
        h_n = state[0] if isinstance(state, tuple) else state
        return output, h_n

    def readout_from(self, output: Tensor, h_n: Tensor, lengths: Tensor) -> Tensor:
        """Sentence vector ``(batch, directions * hidden)`` from the recurrent results.

        Parameters
        ----------
        output : Tensor (batch, time, directions * hidden)
        h_n : Tensor (layers * directions, batch, hidden)
        lengths : LongTensor (batch,)
        """
        readout = self.config.readout
        lengths = lengths.to(output.device)
        if readout == "last":
            index = (lengths - 1).view(-1, 1, 1).expand(-1, 1, output.shape[2])
            return output.gather(1, index).squeeze(1)
        if readout == "naive-last":
            return output[:, -1]
        if readout == "hidden":
            dirs = self.config.directions
            top = h_n.view(self.config.layers, dirs, h_n.shape[1], h_n.shape[2])[-1]
            return torch.cat(list(top), dim=-1)
        mask = valid_mask(lengths, output.shape[1]).unsqueeze(-1)
        if readout == "mean":
            summed = (output * mask).sum(dim=1)
            return summed / lengths.unsqueeze(1).to(output.dtype)
        return output.masked_fill(~mask, float("-inf")).max(dim=1).values

    def features(self, ids: Tensor, lengths: Tensor) -> Tensor:
        """The readout vector ``(batch, directions * hidden)`` that the head receives."""
        output, h_n = self.run_rnn(ids, lengths)
        return self.readout_from(output, h_n, lengths)

    def forward(self, ids: Tensor, lengths: Tensor) -> Tensor:
        """Logits ``(batch, n_labels)`` for ids ``(batch, time)`` and lengths ``(batch,)``."""
        return self.head(self.features(ids, lengths))


def _check_inputs(ids: Tensor, lengths: Tensor) -> None:
    if ids.dim() != 2 or lengths.dim() != 1 or lengths.shape[0] != ids.shape[0]:
        raise DataError(
            f"RNNClassifier expects ids (batch, time) and lengths (batch,); got "
            f"{tuple(ids.shape)} and {tuple(lengths.shape)}"
        )
    if ids.shape[0] == 0:
        raise DataError("RNNClassifier got an empty batch: pass at least one row")
    low, high = int(lengths.min()), int(lengths.max())
    if low < 1 or high > ids.shape[1]:
        raise DataError(
            f"lengths must lie in [1, {ids.shape[1]}] (the padded time); got min {low}, "
            f"max {high}: drop empty texts"
        )
