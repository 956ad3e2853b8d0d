"""The output-vs-hidden diagnosis against an independent plain ``nn.LSTM`` computation."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
import torch
from torch import nn
from torch.nn.utils.rnn import pack_padded_sequence, pad_packed_sequence

from probe_rnn.capture import capture_states, diagnose
from probe_rnn.capture.diagnosis import (
    CHECKS,
    DIAGNOSIS_COLUMNS,
    SAME_TOLERANCE,
    ModuleDiagnosis,
    format_diagnosis,
    stored_diagnosis,
)
from probe_rnn.data.tokenizers import Tokenizer
from probe_rnn.models.adapters import IdsLengthsAdapter
from probe_rnn.models.bundle import ModelBundle

BATCH = 5


class Plain(nn.Module):
    """Embedding -> nn.LSTM (packed or padded) -> head on output[:, -1]."""

    def __init__(self, vocab: int, layers: int, bidirectional: bool, packed: bool) -> None:
        super().__init__()
        self.emb = nn.Embedding(vocab, 6, padding_idx=0)
        self.lstm = nn.LSTM(6, 5, layers, batch_first=True, bidirectional=bidirectional)
        self.head = nn.Linear(5 * (2 if bidirectional else 1), 2)
        self.packed = packed

    def forward(self, ids: torch.Tensor, lengths: torch.Tensor) -> torch.Tensor:
        x = self.emb(ids)
        if self.packed:
            seq = pack_padded_sequence(x, lengths, batch_first=True, enforce_sorted=False)
            out, _ = self.lstm(seq)
            out, _ = pad_packed_sequence(out, batch_first=True, total_length=ids.shape[1])
        else:
            out, _ = self.lstm(x)
        return self.head(out[:, -1])


def setup(layers: int, bidirectional: bool, packed: bool) -> tuple[ModelBundle, pd.DataFrame]:
    rng = np.random.default_rng(1)
    texts = ["".join(rng.choice(list("abcde"), size=rng.integers(1, 9))) for _ in range(17)]
    tok = Tokenizer("char").fit(texts)
    torch.manual_seed(0)
    model = Plain(len(tok), layers, bidirectional, packed).eval()
    bundle = ModelBundle(model=model, tokenizer=tok, labels=["p", "q"], config=None, meta={},
                         adapter=IdsLengthsAdapter(tok))
    return bundle, pd.DataFrame({"text": texts, "label": ["p"] * len(texts)})


def reference(bundle: ModelBundle, texts: list[str]) -> dict[str, float]:
    """Each number computed by hand from a plain nn.LSTM forward on the same batches."""
    lstm, dirs = bundle.model.lstm, 2 if bundle.model.lstm.bidirectional else 1
    top = (lstm.num_layers - 1) * dirs
    ref = {"fwd": 0.0, "bwd": 0.0, "step0": 0.0, "differ": 0, "fwd_rows": 0, "bwd_rows": 0}
    abs_sum, cos_sum, short, short_zero = 0.0, 0.0, 0, 0
    with torch.no_grad():
        for start in range(0, len(texts), BATCH):
            ids, lengths = bundle.tokenizer.encode_batch(texts[start : start + BATCH])
            x = bundle.model.emb(ids)
            if bundle.model.packed:
                seq = pack_padded_sequence(x, lengths, batch_first=True, enforce_sorted=False)
                out, (h_n, _) = lstm(seq)
                out, _ = pad_packed_sequence(out, batch_first=True, total_length=ids.shape[1])
            else:
                out, (h_n, _) = lstm(x)
            for j, length in enumerate(lengths.tolist()):
                last, naive = out[j, length - 1], out[j, -1]
                fwd = float((last[:5] - h_n[top, j]).abs().max())
                ref["fwd"], ref["fwd_rows"] = max(ref["fwd"], fwd), ref["fwd_rows"] + (fwd > 1e-5)
                ref["differ"] += int(not torch.equal(last, naive))
                short += int(length < ids.shape[1])
                short_zero += int(length < ids.shape[1] and not naive.any())
                if dirs == 2:
                    bwd = float((last[5:] - h_n[top + 1, j]).abs().max())
                    ref["bwd"] = max(ref["bwd"], bwd)
                    ref["bwd_rows"] += bwd > 1e-5
                    ref["step0"] = max(ref["step0"],
                                       float((out[j, 0, 5:] - h_n[top + 1, j]).abs().max()))
                if lstm.num_layers > 1:
                    abs_sum += float(h_n[0, j].abs().mean())
                    cos_sum += float(torch.dot(h_n[0, j], h_n[top, j])
                                     / (h_n[0, j].norm() * h_n[top, j].norm()))
    ref.update(share=ref["differ"] / len(texts), zero=short_zero / short,
               lower_abs=abs_sum / len(texts), lower_cos=cos_sum / len(texts))
    return ref


def value(table: pd.DataFrame, check: str) -> float:
    rows = table[table["check"] == check]
    assert len(rows) == 1, (check, table["check"].tolist())
    return float(rows["value"].iloc[0])


def test_unidirectional_packed_output_last_is_h_n() -> None:
    bundle, df = setup(layers=1, bidirectional=False, packed=True)
    table = diagnose(bundle, df, batch_size=BATCH)
    ref = reference(bundle, df["text"].tolist())
    assert list(table.columns) == DIAGNOSIS_COLUMNS and set(table["module"]) == {"lstm"}
    assert ref["fwd"] == 0.0  # the plain module: output at the last step *is* h_n
    assert value(table, "max |output@last - h_n top fwd|") <= 1e-6
    assert 0 < ref["share"] < 1
    assert value(table, "share output@-1 != output@last") == pytest.approx(ref["share"])
    assert value(table, CHECKS["naive_rows"]) == ref["differ"]
    assert value(table, CHECKS["naive_short"]) == ref["differ"]  # every one is a short row
    assert value(table, CHECKS["fwd_rows"]) == 0 and value(table, CHECKS["layers"]) == 1
    assert ref["zero"] == 1.0
    assert value(table, "share of short rows with output@-1 == 0") == 1.0
    assert value(table, "c_n not in output") == 5
    assert not table["check"].str.contains("bwd").any()
    text = format_diagnosis(table)
    assert text.startswith("lstm:") and "same vector" in text and "PackedSequence" in text


def test_bidirectional_two_layers_backward_half_and_lower_layers() -> None:
    bundle, df = setup(layers=2, bidirectional=True, packed=True)
    table = diagnose(bundle, df, batch_size=BATCH)
    ref = reference(bundle, df["text"].tolist())
    bwd = value(table, "max |bwd half of output@last - h_n top bwd|")
    assert ref["bwd"] > 1e-3 and bwd == pytest.approx(ref["bwd"], abs=1e-5)
    assert ref["bwd_rows"] > 0 and value(table, CHECKS["bwd_rows"]) == ref["bwd_rows"]
    assert ref["step0"] == 0.0
    assert value(table, "max |bwd half of output at step 0 - h_n top bwd|") <= 1e-6
    assert value(table, "max |output@last - h_n top fwd|") <= 1e-6
    assert value(table, "h_n/L0/fwd not in output") == pytest.approx(ref["lower_abs"], abs=1e-5)
    assert value(table, "cosine(h_n/L0/fwd, h_n/L1/fwd)") == pytest.approx(ref["lower_cos"],
                                                                          abs=1e-5)
    assert value(table, "c_n not in output") == 2 * 2 * 5
    assert "only the last token" in format_diagnosis(table)
    assert "So h_n/L1 (both directions" in format_diagnosis(table)


def test_padded_module_reads_padding() -> None:
    bundle, df = setup(layers=1, bidirectional=False, packed=False)
    table = diagnose(bundle, df, batch_size=BATCH)
    ref = reference(bundle, df["text"].tolist())
    assert ref["fwd"] > 1e-3 and ref["zero"] == 0.0
    fwd = value(table, "max |output@last - h_n top fwd|")
    assert fwd == pytest.approx(ref["fwd"], abs=1e-5)
    assert ref["fwd_rows"] > 0 and value(table, CHECKS["fwd_rows"]) == ref["fwd_rows"]
    assert value(table, "share output@-1 != output@last") == pytest.approx(ref["share"])
    assert value(table, "share of short rows with output@-1 == 0") == 0.0
    assert "pad tokens" in format_diagnosis(table)


class TimeMajor(nn.Module):
    """A batch_first=False module fed (time, batch) ids: naive code reads output[-1]."""

    def __init__(self, vocab: int) -> None:
        super().__init__()
        self.emb = nn.Embedding(vocab, 6, padding_idx=0)
        self.gru = nn.GRU(6, 5)
        self.head = nn.Linear(5, 2)

    def forward(self, ids: torch.Tensor) -> torch.Tensor:
        return self.head(self.gru(self.emb(ids))[0][-1])


def test_time_major_module_names_output_minus_one_its_own_way() -> None:
    from probe_rnn.models.adapters import IdsAdapter

    bundle, df = setup(layers=1, bidirectional=False, packed=False)
    torch.manual_seed(0)
    model = TimeMajor(len(bundle.tokenizer)).eval()
    timed = ModelBundle(model=model, tokenizer=bundle.tokenizer, labels=["p", "q"], config=None,
                        meta={}, adapter=IdsAdapter(bundle.tokenizer, "time"))
    text = format_diagnosis(diagnose(timed, df, batch_size=BATCH))
    assert "output[-1] of the padded batch" in text and "output[:, -1]" not in text
    padded = format_diagnosis(diagnose(bundle, df, batch_size=BATCH))
    assert "output[:, -1] of the padded batch" in padded


def test_a_capture_diagnoses_the_states_it_stores(tmp_path) -> None:
    """The store keeps the diagnosis of its own forward passes: equal to a separate run."""
    for packed in (True, False):
        bundle, df = setup(layers=2, bidirectional=True, packed=packed)
        store = capture_states(bundle, df, tmp_path / f"states-{packed}", batch_size=BATCH)
        pd.testing.assert_frame_equal(stored_diagnosis(store),
                                      diagnose(bundle, df, batch_size=BATCH))


def _states(rng: np.random.Generator, batch: int, time: int) -> tuple[object, torch.Tensor]:
    from types import SimpleNamespace

    output = torch.tensor(rng.normal(size=(batch, time, 6)), dtype=torch.float32)
    h_n = torch.tensor(rng.normal(size=(4, batch, 3)), dtype=torch.float32)
    lengths = torch.tensor(rng.integers(1, time + 1, size=batch))
    return SimpleNamespace(output=output, h_n=h_n, c_n=h_n * 2, kind="lstm", num_layers=2,
                           num_directions=2), lengths


def test_shards_merged_give_the_one_pass_numbers() -> None:
    """Capture shards diagnose their batches apart; merged (in any order) they give exactly the
    numbers of one pass over all batches (sums are added with math.fsum)."""
    rng = np.random.default_rng(0)
    batches = [_states(rng, int(rng.integers(2, 9)), int(rng.integers(2, 7))) for _ in range(9)]
    whole = ModuleDiagnosis()
    for st, lengths in batches:
        whole.update(st, lengths)
    shards = [ModuleDiagnosis() for _ in range(3)]
    for k, (st, lengths) in enumerate(batches):
        shards[k % 3].update(st, lengths)
    merged = ModuleDiagnosis()
    for shard in (shards[2], shards[0], shards[1]):
        merged.merge(shard)
    pd.testing.assert_frame_equal(merged.table("m"), whole.table("m"), check_exact=True)


def test_one_tolerance_decides_same_or_different() -> None:
    from types import SimpleNamespace

    h_n = torch.zeros(1, 2, 3)
    for gap, same in ((SAME_TOLERANCE / 2, True), (SAME_TOLERANCE * 2, False)):
        output = torch.zeros(2, 1, 3)
        output[1, 0, 0] = gap
        diagnosis = ModuleDiagnosis()
        diagnosis.update(SimpleNamespace(output=output, h_n=h_n, c_n=None, kind="gru",
                                         num_layers=1, num_directions=1), torch.tensor([1, 1]))
        table = diagnosis.table("m")
        assert value(table, CHECKS["fwd_rows"]) == (0 if same else 1)
        assert ("identical on all 2 rows" in format_diagnosis(table)) is same
