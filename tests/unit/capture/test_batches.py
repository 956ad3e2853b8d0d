"""An adapter that runs the recurrent module several times per forward (once per row) is a
one-line error naming the adapter and what is supported, not an IndexError deep inside."""

from __future__ import annotations

import pandas as pd
import pytest
import torch
from torch import nn

from probe_rnn.capture import diagnose
from probe_rnn.data.vocab import VocabTokenizer
from probe_rnn.errors import CaptureError
from probe_rnn.models import IdsAdapter, ModelBundle

VOCAB = {"<pad>": 0, **{c: i + 1 for i, c in enumerate("abcdefgh")}}


class Model(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.embedding = nn.Embedding(len(VOCAB), 4, padding_idx=0)
        self.lstm = nn.LSTM(4, 3, batch_first=True)
        self.fc = nn.Linear(3, 2)

    def forward(self, x):
        return self.fc(self.lstm(self.embedding(x))[1][0][-1])


class PerRow(IdsAdapter):
    """Calls the model once per row, on the row's own tokens."""

    def forward(self, model, batch):
        return torch.cat([model(batch["ids"][i:i + 1, :int(n)])
                          for i, n in enumerate(batch["lengths"])])


def test_an_adapter_calling_the_module_once_per_row_is_named() -> None:
    torch.manual_seed(0)
    tok = VocabTokenizer(VOCAB, "char", pad_id=0)
    bundle = ModelBundle(model=Model(), tokenizer=tok, labels=["a", "b"], config=None, meta={},
                         adapter=PerRow(tok))
    df = pd.DataFrame({"text": ["abc", "ab", "hgfe"]})
    with pytest.raises(CaptureError) as caught:
        diagnose(bundle, df)
    message = str(caught.value)
    assert "\n" not in message
    assert message.startswith("one forward of a batch of 3 rows through adapter PerRow ran the "
                              "recurrent module 'lstm' 3 times (on 1, 1, 1 rows): probe-rnn "
                              "captures each call of a recurrent module on the whole batch")
    bundle.adapter = IdsAdapter(tok)  # the same model called once per batch works
    assert len(diagnose(bundle, df))


# -- the kernel check: recorded in the manifest, recomputed here independently ---------------
def _fused_states(bundle: ModelBundle, texts: list[str]) -> dict[str, torch.Tensor]:
    """The module's own fused ``output`` (valid tokens, row by row), ``h_n`` and ``c_n`` from
    a plain forward (no record), caught with a forward hook."""
    from torch.nn.utils.rnn import PackedSequence, pad_packed_sequence

    seen: dict[str, object] = {}
    module = bundle.model.get_submodule("rnn")
    handle = module.register_forward_hook(lambda m, args, out: seen.update(out=out))
    try:
        with torch.no_grad():
            batch = bundle.adapter.encode(texts)
            bundle.adapter.forward(bundle.model, batch)
    finally:
        handle.remove()
    output, h = seen["out"]  # type: ignore[misc]
    if isinstance(output, PackedSequence):
        output, _ = pad_packed_sequence(output, batch_first=True)
    lengths = batch["lengths"].tolist()
    flat = torch.cat([output[i, :n] for i, n in enumerate(lengths)])
    h_n, c_n = h if isinstance(h, tuple) else (h, None)
    return {"output": flat, "h_n": h_n, "c_n": c_n}


@pytest.mark.parametrize("rnn", ["gru", "lstm", "nudged-gru"])
def test_the_manifest_records_the_kernel_checks_largest_error(tmp_path, monkeypatch,
                                                              rnn: str) -> None:
    import numpy as np

    from probe_rnn.capture.run_capture import capture_states
    from tests.unit.capture.store_support import make_bundle, make_table

    bundle, table = make_bundle(rnn=rnn.removeprefix("nudged-"), hidden=7, seed=3), make_table(30)
    if rnn == "nudged-gru":  # the GRU's own call returns h_n off by about 3e-6 (within the
        # check's tolerance): a nonzero error to record (on the CPU the recomputation is
        # otherwise bit for bit the fused kernel's)
        own = nn.GRU.forward
        monkeypatch.setattr(nn.GRU, "forward", lambda self, input, hx=None: (
            lambda out: (out[0], out[1] + 3e-6))(own(self, input, hx)))
    store = capture_states(bundle, table, tmp_path / "s", dtype="float32", batch_size=64)
    check = store.manifest.kernel_check
    assert check is not None and check["rows"] == 30
    assert set(check["outputs"]) == ({"output", "h_n", "c_n"} if rnn == "lstm"
                                     else {"output", "h_n"})
    # independently: the fused module's own states against the float32 states stored
    fused = _fused_states(bundle, [str(t) for t in table["text"]])
    flat, _ = store.tokens("output")
    errors = {"output": float(np.abs(np.asarray(flat) - fused["output"].numpy()).max())}
    for state in ("h_n", "c_n") if rnn == "lstm" else ("h_n",):
        stored = np.stack([store.sentence(f"{state}/L{layer}/{d}")
                           for layer in range(2) for d in ("fwd", "bwd")])
        errors[state] = float(np.abs(stored - fused[state].numpy()).max())
    assert check["outputs"] == pytest.approx(errors, abs=1e-12)
    assert check["max_abs_error"] == max(errors.values()) == store.manifest.max_kernel_error
    if rnn == "nudged-gru":
        assert check["outputs"]["h_n"] == pytest.approx(3e-6, rel=0.05)


def test_the_kernel_check_keeps_the_largest_error_of_the_compared_calls() -> None:
    from types import SimpleNamespace

    from probe_rnn.capture.batches import KernelCheck

    check = KernelCheck()
    assert check.record() is None  # no call compared (a cell loop has no fused call)
    check.update(SimpleNamespace(fused_check={"output": 1e-7, "h_n": 3e-7}, batch=4))
    check.update(SimpleNamespace(fused_check=None, batch=9))  # a later, uncompared call
    check.update(SimpleNamespace(fused_check={"output": 5e-7, "h_n": 2e-7}, batch=2))
    assert check.record() == {"max_abs_error": 5e-7, "outputs": {"output": 5e-7, "h_n": 3e-7},
                              "rows": 6}


def test_only_a_cell_view_makes_a_capture_compute_per_step_cells() -> None:
    from probe_rnn.capture.batches import reads_step_cells

    assert reads_step_cells(None)  # every default view: cell token views among them
    assert not reads_step_cells(["output@last", "mean(output)", "h_n/L0", "c_n/L1/bwd",
                                 "hidden/L0/fwd@2", "enc:c_n/L0/fwd"])
    assert reads_step_cells(["h_n/L0", "cell/L0/fwd@-1"])
    assert reads_step_cells(["encoder#2:cell/L1/bwd"])
