"""``attribute`` on models reading two texts: a siamese pair model's score and a teacher-forced
encoder-decoder's continuation, attributed to the tokens of both texts; the stages that do not
apply are named with their reason; the files say which text each token is from."""

from __future__ import annotations

import json

import pandas as pd
import pytest
import torch

from probe_rnn.attribution import attribute
from probe_rnn.attribution.two_texts import recurrent_calls, stage_notes
from probe_rnn.data.vocab import VocabTokenizer
from probe_rnn.errors import ConfigError
from probe_rnn.models import ModelBundle
from probe_rnn.models.adapters import IdsAdapter
from probe_rnn.models.feeding import Feeding
from tests.unit.attribution.texts_tiny import VOCAB, Seq2Seq, Siamese


def _bundle(model, kind: str, layout: str = "batch") -> ModelBundle:
    tokenizer = VocabTokenizer({"<pad>": 0, "<unk>": 1,
                                **{f"w{i}": i for i in range(2, VOCAB)}}, unk_id=1)
    adapter = IdsAdapter(tokenizer, layout, Feeding(texts=2))
    return ModelBundle(model.eval(), tokenizer, ["different", "same"], None, {}, adapter,
                       output_kind=kind)


def _table() -> pd.DataFrame:
    g = torch.Generator().manual_seed(4)
    rows = []
    for i in range(10):
        a = " ".join(f"w{int(t)}" for t in torch.randint(2, VOCAB, (2 + i % 4,), generator=g))
        b = " ".join(f"w{int(t)}" for t in torch.randint(2, VOCAB, (2 + i % 3,), generator=g))
        rows.append((a, b, "same" if i % 2 else "different"))
    return pd.DataFrame(rows, columns=["text", "text_2", "label"])


@pytest.mark.parametrize("cls,kind,layout,target", [
    (Siamese, "score", "batch", "score"), (Seq2Seq, "step-logits", "time", "continuation")])
def test_both_texts_are_attributed_and_add_up(cls, kind, layout, target, tmp_path):
    torch.manual_seed(0)
    bundle, df = _bundle(cls(), kind, layout), _table()
    res = attribute(bundle, df, tmp_path, rows=[0, 3, 5, 8], n_steps=32)
    manifest = json.loads((tmp_path / "manifest.json").read_text(encoding="utf-8"))
    assert manifest["target"] == target and manifest["texts"] == 2
    assert manifest["completeness"]["passed"] is True
    assert manifest["completeness"]["tokens_checked"] == 4
    tokens = pd.read_parquet(tmp_path / "tokens.parquet")
    assert set(tokens["which_text"]) == {1, 2}
    for row in (0, 3, 5, 8):  # every token of both texts, the text its own
        for which, column in ((1, "text"), (2, "text_2")):
            part = tokens[(tokens["row"] == row) & (tokens["which_text"] == which)]
            assert part["token"].tolist() == df[column][row].split()
            assert set(part["text"]) == {df[column][row]}
    examples = pd.read_parquet(tmp_path / "examples.parquet")
    sums = tokens.groupby("row")["attribution"].sum()
    assert (sums.to_numpy() - examples["attribution_sum"].to_numpy()).max() < 1e-5
    gap = examples["f_x"] - examples["f_baseline"]
    assert ((examples["attribution_sum"] - gap).abs() <= 0.05 * gap.abs() + 1e-6).all()
    assert (examples["text_2"] == df["text_2"][[0, 3, 5, 8]].to_numpy()).all()
    stages = manifest["stages"]
    assert stages["tokens"].startswith("done")
    assert all(stages[s].startswith("not applicable: ") for s in ("steps", "neurons",
                                                                  "probe_tokens"))
    assert res.steps.empty and res.neurons.empty and res.probe_tokens.empty
    summary = pd.read_csv(tmp_path / "summary.csv")
    assert set(summary.loc[summary["what"] == "token-position", "view"]) == {"text 1", "text 2"}


def test_the_continuation_scores_the_reference_target_as_the_decoder_loop_wrote_it(tmp_path):
    torch.manual_seed(0)
    model = Seq2Seq()
    bundle, df = _bundle(model, "step-logits", "time"), _table()
    res = attribute(bundle, df, tmp_path, rows=[1, 2], n_steps=8, method="saliency")
    def padded(column: str) -> torch.Tensor:  # the rows' ids, right-padded with 0, time-major
        rows = [[int(w[1:]) for w in df[column][r].split()] for r in (1, 2)]
        ids = torch.zeros(len(rows), max(map(len, rows)), dtype=torch.long)
        for i, r in enumerate(rows):
            ids[i, :len(r)] = torch.tensor(r)
        return ids.t()

    src, trg = padded("text"), padded("text_2")
    with torch.no_grad():
        logp = torch.log_softmax(model(src, trg), -1)  # outputs[k] scores trg[k], k >= 1
    for i in range(2):
        n = len(df["text_2"][(1, 2)[i]].split())
        want = sum(float(logp[k, i, trg[k, i]]) for k in range(1, n))
        assert abs(res.examples["f_x"][i] - want) < 1e-4


def test_a_target_or_method_that_does_not_apply_is_refused(tmp_path):
    bundle, df = _bundle(Siamese(), "score"), _table()
    with pytest.raises(ConfigError, match="target=prediction does not apply.*target=score"):
        attribute(bundle, df, tmp_path, target="prediction")
    with pytest.raises(ConfigError, match="method=deeplift does not apply"):
        attribute(bundle, df, tmp_path, method="deeplift", rows=2)


def test_stage_notes_name_the_modules_or_the_second_call():
    model = Siamese()
    ids = torch.tensor([[2, 3]])
    calls = recurrent_calls(model, lambda: model(ids, ids))
    assert calls == {"lstm": 2}
    assert "calls lstm 2 times per forward" in stage_notes("Siamese", calls)["steps"]
    two = stage_notes("Seq2Seq", {"encoder": 1, "decoder": 4})
    assert "2 recurrent modules (encoder, decoder)" in two["steps"]


class _OneHotSiamese(torch.nn.Module):
    """A siamese LSTM fed one-hot vectors (no nn.Embedding): the adapter's one-hot embedding
    is what reads both texts."""

    def __init__(self) -> None:
        super().__init__()
        self.lstm = torch.nn.LSTM(VOCAB, 7, batch_first=True)

    def forward(self, a, b):
        return torch.nn.functional.cosine_similarity(self.lstm(a)[1][0][-1],
                                                     self.lstm(b)[1][0][-1])


def test_one_hot_inputs_of_two_texts_are_attributed_through_the_adapters_embedding(tmp_path):
    torch.manual_seed(0)
    bundle = _bundle(_OneHotSiamese(), "score")
    bundle.adapter = IdsAdapter(bundle.tokenizer, "batch", Feeding(texts=2, one_hot=VOCAB))
    res = attribute(bundle, _table(), tmp_path, rows=[0, 1, 2], n_steps=32)
    assert res.manifest["completeness"]["passed"] is True
    counts = res.tokens.groupby(["row", "which_text"]).size()
    assert counts.tolist() == [2, 2, 3, 3, 4, 4]  # every token of both texts
    assert (res.tokens.groupby("which_text")["attribution"].apply(
        lambda a: (a.abs() > 0).any())).all()
