"""Models as their authors batched them: the README's shapes 3-7 (sorted packing, a stored
batch size, fixed-length padding with EOS, one-hot input, a collate function), copied from the
README into files, run by `inspect`, `capture`, `probe` and `attribute` with the flags the README
gives and nothing else. The captured `output@last` and every `h_n` equal what the model's own
recurrent module returns when the test calls the model on the same rows in the same batches,
built the way the author's loader built them (written out here, independently of probe-rnn)."""

from __future__ import annotations

import json
import re
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import torch
from torch.nn.utils.rnn import PackedSequence, pad_packed_sequence

from probe_rnn.capture import StateStore
from probe_rnn.data import load_dataset
from tests.integration.cli_support import README, import_file, readme_models, run_cli

BATCH = 16  # rows per forward pass, given to capture as --batch-size
ROWS = 60
FLAGS = {  # the README's table of flags
    "sentiment_rnn.py": [],
    "init_hidden_lstm.py": [],
    "fixed_length_gru.py": ["--pad-to", "20", "--eos", "<eos>"],
    "one_hot_rnn.py": [],
    "masked_gru.py": ["--collate", "{folder}/masked_gru.py:collate"],
}




@pytest.fixture(scope="module")
def work(tmp_path_factory) -> Path:
    folder = tmp_path_factory.mktemp("shapes")
    names = load_dataset("names").sample(ROWS, random_state=5)
    chars = sorted(set("".join(names["text"])))
    vocab = {"<pad>": 0, "<unk>": 1, "<sos>": 2, "<eos>": 3,
             **{c: i + 4 for i, c in enumerate(chars)}}
    (folder / "vocab.json").write_text(json.dumps(vocab), encoding="utf-8")
    names[["text", "label", "split"]].to_csv(folder / "names.csv", index=False)
    blocks = readme_models()
    for name in FLAGS:
        (folder / name).write_text(blocks[name], encoding="utf-8")
        torch.manual_seed(3)
        model = import_file(folder / name, "shapes").build()
        torch.save(model.state_dict(), folder / f"{Path(name).stem}.pt")
    return folder


# -- the authors' loaders, written out: (args, kwargs, order) for a list of texts -------------
def _ids(vocab: dict[str, int], texts: list[str], bos: bool = False, eos: bool = False,
         width: int | None = None) -> tuple[torch.Tensor, torch.Tensor]:
    rows = [([vocab["<sos>"]] if bos else []) + [vocab.get(c, 1) for c in t]
            + ([vocab["<eos>"]] if eos else []) for t in texts]
    ids = torch.zeros(len(rows), width or max(map(len, rows)), dtype=torch.long)
    for i, row in enumerate(rows):
        ids[i, :len(row)] = torch.tensor(row)
    return ids, torch.tensor([len(r) for r in rows])


def _loader(name: str, module, vocab: dict[str, int], texts: list[str]):
    """What the tutorial's loop passed to the model, with the rows' order and lengths."""
    natural = torch.arange(len(texts))
    if name == "sentiment_rnn.py":  # BucketIterator(sort_within_batch=True): sorted, (time, batch)
        ids, lengths = _ids(vocab, texts)
        order = torch.sort(lengths, descending=True, stable=True).indices
        return (ids[order].t(), lengths[order]), {}, order, lengths
    if name == "init_hidden_lstm.py":
        ids, lengths = _ids(vocab, texts)
        return (ids,), {"batch_size": len(texts)}, natural, lengths
    if name == "fixed_length_gru.py":
        ids, lengths = _ids(vocab, texts, eos=True, width=20)
        return (ids,), {}, natural, lengths
    if name == "one_hot_rnn.py":  # line_tensor: one-hot letters, zeros past each name
        ids, lengths = _ids(vocab, texts)
        hot = torch.nn.functional.one_hot(ids, len(vocab)).float()
        hot[torch.arange(ids.shape[1])[None, :] >= lengths[:, None]] = 0
        return (hot.transpose(0, 1),), {}, natural, lengths
    padded, mask = module.collate(texts)
    return (padded, mask), {}, natural, mask.sum(1)


def _reference(work: Path, name: str, texts: list[str]) -> dict[str, np.ndarray]:
    """`output@last` and every `h_n` from the model's own recurrent module, batch by batch."""
    module = import_file(work / name, "shapes")
    model = module.build()
    model.load_state_dict(torch.load(work / f"{Path(name).stem}.pt", weights_only=True))
    model.eval()
    rnn = next(m for m in model.modules() if isinstance(m, torch.nn.RNNBase))
    vocab = json.loads((work / "vocab.json").read_text(encoding="utf-8"))
    seen: list = []
    rnn.register_forward_hook(lambda _m, _a, out: seen.append(out))
    found: dict[str, list[np.ndarray]] = {}
    for start in range(0, len(texts), BATCH):
        args, kwargs, order, lengths = _loader(name, module, vocab, texts[start:start + BATCH])
        seen.clear()
        with torch.no_grad():
            model(*args, **kwargs)
        output, h_n = seen[0][0], seen[0][1]
        h_n = h_n[0] if isinstance(h_n, tuple) else h_n
        if isinstance(output, PackedSequence):
            output = pad_packed_sequence(output, batch_first=True)[0]
        elif not rnn.batch_first:
            output = output.transpose(0, 1)
        back = torch.argsort(order)  # row order of the table
        output, h_n = output[back], h_n[:, back]
        last = output[torch.arange(len(back)), lengths - 1]
        found.setdefault("output@last", []).append(last.numpy())
        directions = 2 if rnn.bidirectional else 1
        for k in range(h_n.shape[0]):
            view = f"h_n/L{k // directions}/{'bwd' if k % directions else 'fwd'}"
            found.setdefault(view, []).append(h_n[k].numpy())
    return {view: np.concatenate(parts) for view, parts in found.items()}


def _args(work: Path, name: str) -> list[str]:
    flags = [f.format(folder=work) for f in FLAGS[name]]
    return [str(work / f"{Path(name).stem}.pt"), "--model", f"{work / name}:build", "--vocab",
            str(work / "vocab.json"), "--tokenizer", "char", "--labels", "female,male", *flags]


def test_the_readme_shows_each_shape_and_its_flags() -> None:
    assert set(FLAGS) <= set(readme_models())
    text = README.read_text(encoding="utf-8")
    assert '| `fixed_length_gru.py` | `--pad-to 20 --eos "<eos>"` |' in text
    assert "| `masked_gru.py` | `--collate masked_gru.py:collate` |" in text
    assert "enforce_sorted" not in readme_models()["sentiment_rnn.py"]  # as the tutorial


@pytest.mark.slow
@pytest.mark.parametrize("name", list(FLAGS))
def test_each_shape_runs_in_every_command_and_captures_the_modules_own_states(
        work, name, tmp_path) -> None:
    inspect = run_cli("inspect", *_args(work, name))
    assert inspect.returncode == 0, inspect.stderr
    called = next(line for line in inspect.stdout.splitlines() if line.startswith("called as"))
    expected = {"sentiment_rnn.py": "rows sorted by length when packed",
                "init_hidden_lstm.py": "batch_size= gets the batch size",
                "fixed_length_gru.py": "padded to 20 steps",
                "one_hot_rnn.py": "one-hot inputs of size",
                "masked_gru.py": "collate"}[name]
    assert expected in called, called

    store = tmp_path / "states"
    cap = run_cli("capture", *_args(work, name), "--data", str(work / "names.csv"), "--out",
                  str(store), "--batch-size", str(BATCH), "--dtype", "float32")
    assert cap.returncode == 0, cap.stderr
    mine = StateStore(store)
    texts = pd.read_csv(work / "names.csv")["text"].astype(str).tolist()
    reference = _reference(work, name, texts)
    per_direction = {v for v in mine.views if re.fullmatch(r"h_n/L\d+/(fwd|bwd)", v)}
    assert per_direction == set(reference) - {"output@last"}
    for layer in {v.rsplit("/", 1)[0] for v in per_direction}:  # h_n/L{l}: its directions, joined
        parts = [reference[f"{layer}/{d}"] for d in ("fwd", "bwd") if f"{layer}/{d}" in reference]
        np.testing.assert_allclose(mine.sentence(layer), np.concatenate(parts, axis=1), atol=1e-5)
    for view, values in reference.items():
        np.testing.assert_allclose(mine.sentence(view), values, atol=1e-5, err_msg=view)

    out = tmp_path / "run"
    probe = run_cli("probe", *_args(work, name), "--data", str(work / "names.csv"), "--out",
                    str(out), "--batch-size", str(BATCH), "--tasks", "label,length", "--folds",
                    "2", "--no-mdl", "--no-random-baseline", "--no-umap",
                    "--attribution-rows", "2", "--probe-rows", "all", "--jobs", "1", "-q")
    assert probe.returncode == 0, probe.stderr
    assert {"label", "length"} <= set(pd.read_csv(out / "results.csv")["task"])

    attributed = run_cli("attribute", *_args(work, name), "--data", str(work / "names.csv"),
                         "--out", str(tmp_path / "attr"), "--rows", "2", "--steps", "16")
    assert attributed.returncode == 0, attributed.stderr
    manifest = json.loads((tmp_path / "attr" / "manifest.json").read_text(encoding="utf-8"))
    assert manifest["worst_token_completeness_error"] < 5e-2
