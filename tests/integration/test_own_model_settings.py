"""Every setting's checkpoints, as the README prints them: an encoder that returns states, a
word-level language model (`forward(input, hidden)`, time-major, `init_hidden`), a siamese pair
model (one encoder called on each text, cosine out) and a teacher-forced encoder-decoder. Each
file is copied from the README, run by `inspect`, `capture`, `probe` and `attribute` with the
README's flags only, and every captured state is compared with what the model's own recurrent
module returned for that call when the test calls the model itself on the same batches (built
here from the vocabulary, independently of probe-rnn). The pair model's score and the
encoder-decoder's continuation are attributed to the tokens of both texts; the encoder, with
nothing to explain, skips attribution with a note."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import torch

from probe_rnn.capture import StateStore
from probe_rnn.data import make_synthetic
from tests.integration.cli_support import README, import_file, readme_models, run_cli

BATCH = 16
FLAGS = {"encoder_rnn.py": [], "word_lm.py": [], "siamese_lstm.py": ["--text", "a,b"],
         "seq2seq_gru.py": ["--text", "src,trg"]}
DATA = {"encoder_rnn.py": "sents.csv", "word_lm.py": "sents.csv",
        "siamese_lstm.py": "pairs.csv", "seq2seq_gru.py": "translations.csv"}
RETURNS = {"encoder_rnn.py": "returns: an encoder", "word_lm.py": "returns: a language model",
           "siamese_lstm.py": "returns: a pair model", "seq2seq_gru.py": "returns: a language"}


@pytest.fixture(scope="module")
def work(tmp_path_factory) -> Path:
    folder = tmp_path_factory.mktemp("settings")
    df = make_synthetic(rule="first", n_rows=64, seed=3)
    words = sorted({w for t in df["text"] for w in t.split()})
    vocab = {"<pad>": 0, "<unk>": 1, "<sos>": 2, "<eos>": 3,
             **{w: i + 4 for i, w in enumerate(words)}}
    (folder / "vocab.json").write_text(json.dumps(vocab), encoding="utf-8")
    df[["text", "label"]].to_csv(folder / "sents.csv", index=False)
    a, b = df.iloc[:32].reset_index(drop=True), df.iloc[32:].reset_index(drop=True)
    same = (a["label"] == b["label"]).map({True: "same", False: "different"})
    pd.DataFrame({"a": a["text"], "b": b["text"], "label": same}).to_csv(
        folder / "pairs.csv", index=False)
    pd.DataFrame({"src": a["text"], "trg": b["text"].str.split().str[:6].str.join(" "),
                  "label": a["label"]}).to_csv(folder / "translations.csv", index=False)
    blocks = readme_models()
    for name in FLAGS:
        (folder / name).write_text(blocks[name], encoding="utf-8")
        torch.manual_seed(5)
        model = import_file(folder / name, "settings").build()
        torch.save(model.state_dict(), folder / f"{Path(name).stem}.pt")
    return folder


def _ids(vocab: dict[str, int], texts: list[str]) -> tuple[torch.Tensor, torch.Tensor]:
    rows = [[vocab.get(w, 1) for w in t.split()] for t in texts]
    ids = torch.zeros(len(rows), max(map(len, rows)), dtype=torch.long)
    for i, r in enumerate(rows):
        ids[i, :len(r)] = torch.tensor(r)
    return ids, torch.tensor([len(r) for r in rows])


def _calls(work: Path, name: str, table: pd.DataFrame) -> list[list[tuple]]:
    """Per batch, every call of each recurrent module: (module name, output batch-major,
    h_n, lengths of the text it read), the model called as its author calls it."""
    model = import_file(work / name, "settings").build()
    model.load_state_dict(torch.load(work / f"{Path(name).stem}.pt", weights_only=True))
    model.eval()
    vocab = json.loads((work / "vocab.json").read_text(encoding="utf-8"))
    seen: list = []
    for module_name, module in model.named_modules():
        if isinstance(module, torch.nn.RNNBase):
            module.register_forward_hook(
                lambda m, _a, out, n=module_name: seen.append((n, m, out)))
    batches = []
    for start in range(0, len(table), BATCH):
        part = table.iloc[start:start + BATCH]
        seen.clear()
        with torch.no_grad():
            if name == "encoder_rnn.py":
                ids, lengths = _ids(vocab, part["text"].tolist())
                model(ids)
                texts = [lengths]
            elif name == "word_lm.py":
                ids, lengths = _ids(vocab, part["text"].tolist())
                model(ids.t(), model.init_hidden(len(part)))
                texts = [lengths]
            elif name == "siamese_lstm.py":
                (a, la), (b, lb) = _ids(vocab, part["a"].tolist()), _ids(vocab, part["b"].tolist())
                model(a, b)
                texts = [la, lb]
            else:
                (s, ls), (t, lt) = (_ids(vocab, part["src"].tolist()),
                                    _ids(vocab, part["trg"].tolist()))
                model(s.t(), t.t(), teacher_forcing_ratio=1.0)
                texts = [ls, lt]
        found = []
        for n, m, (output, hidden) in seen:
            h_n = hidden[0] if isinstance(hidden, tuple) else hidden
            output = output if m.batch_first else output.transpose(0, 1)
            found.append((n, output, h_n, texts[min(len(found), len(texts) - 1)]))
        batches.append(found)
    return batches


def _captured(work: Path, name: str, tmp_path: Path) -> tuple[StateStore, list[list[tuple]]]:
    """`capture` run as the README says (float32), and the model's own calls on the same
    batches."""
    store = tmp_path / "states"
    cap = run_cli("capture", *_args(work, name), "--out", str(store), "--batch-size", str(BATCH),
                  "--dtype", "float32")
    assert cap.returncode == 0, cap.stderr
    return StateStore(store), _calls(work, name, pd.read_csv(work / DATA[name]))


def _args(work: Path, name: str) -> list[str]:
    return [str(work / f"{Path(name).stem}.pt"), "--model", f"{work / name}:build", "--vocab",
            str(work / "vocab.json"), "--data", str(work / DATA[name]), *FLAGS[name]]


def test_the_readme_shows_each_setting_and_its_flags() -> None:
    assert set(FLAGS) <= set(readme_models())
    text = README.read_text(encoding="utf-8")
    assert "| `siamese_lstm.py` | `--text a,b` |" in text
    assert "| `seq2seq_gru.py` | `--text src,trg` |" in text


@pytest.mark.slow
@pytest.mark.parametrize("name", ["encoder_rnn.py", "word_lm.py"])
def test_one_module_settings_run_in_every_command_with_the_modules_own_states(
        work, name, tmp_path) -> None:
    inspect = run_cli("inspect", *_args(work, name))
    assert inspect.returncode == 0, inspect.stderr
    assert RETURNS[name] in inspect.stdout, inspect.stdout

    mine, calls = _captured(work, name, tmp_path)
    assert all(len(batch) == 1 for batch in calls)  # one module, one call per forward
    last = np.concatenate([out[torch.arange(len(n)), n - 1].numpy()
                           for (_, out, _, n), in calls])
    np.testing.assert_allclose(mine.sentence("output@last"), last, atol=1e-5)
    h_n = np.concatenate([h[-1].numpy() for (_, _, h, _), in calls])
    top = max(int(v.split("/")[1][1:]) for v in mine.views if v.startswith("h_n/L"))
    np.testing.assert_allclose(mine.sentence(f"h_n/L{top}/fwd"), h_n, atol=1e-5)
    if name == "word_lm.py":
        meta = mine.meta
        assert meta["prediction"].isna().all() and meta["next_token_accuracy"].notna().all()

    out = tmp_path / "run"
    probe = run_cli("probe", *_args(work, name), "--out", str(out), "--batch-size", str(BATCH),
                    "--folds", "2", "--no-mdl", "--no-random-baseline", "--no-umap",
                    "--attribution-rows", "2", "--probe-rows", "all", "--jobs", "1", "-q")
    assert probe.returncode == 0, probe.stderr
    tasks = set(pd.read_csv(out / "results.csv")["task"])
    assert ("next-token" in tasks) == (name == "word_lm.py")
    run = json.loads((out / "run.json").read_text(encoding="utf-8"))
    attribution = run["stages"]["attribution"]
    if name == "encoder_rnn.py":
        assert attribution["status"] == "skipped" and "an encoder" in attribution["detail"]
    else:
        assert attribution["status"] == "done"

    attributed = run_cli("attribute", *_args(work, name), "--out", str(tmp_path / "attr"),
                         "--rows", "2", "--steps", "16")
    assert attributed.returncode == 0, attributed.stderr
    if name == "encoder_rnn.py":
        assert "attribution skipped" in attributed.stdout
    else:
        manifest = json.loads((tmp_path / "attr" / "manifest.json").read_text(encoding="utf-8"))
        assert manifest["target"] == "continuation"


@pytest.mark.slow
@pytest.mark.parametrize("name", ["siamese_lstm.py", "seq2seq_gru.py"])
def test_two_text_settings_capture_every_call_as_its_own_site(work, name, tmp_path) -> None:
    inspect = run_cli("inspect", *_args(work, name))
    assert inspect.returncode == 0, inspect.stderr
    assert RETURNS[name] in inspect.stdout and "two texts per row" in inspect.stdout

    mine, calls = _captured(work, name, tmp_path)
    if name == "siamese_lstm.py":  # one LSTM, called on each text: sites lstm and lstm#2
        for k, site in ((0, "lstm"), (1, "lstm#2")):
            last = np.concatenate([b[k][1][torch.arange(len(b[k][3])), b[k][3] - 1].numpy()
                                   for b in calls])
            h_n = np.concatenate([b[k][2][-1].numpy() for b in calls])
            np.testing.assert_allclose(mine.sentence(f"{site}:output@last"), last, atol=1e-5)
            np.testing.assert_allclose(mine.sentence(f"{site}:h_n/L0/fwd"), h_n, atol=1e-5)
        assert mine.meta["score"].notna().all() and mine.meta["prediction"].isna().all()
    else:  # the encoder once on the source; the decoder once per target step, stacked
        h_n = np.concatenate([b[0][2][-1].numpy() for b in calls])
        np.testing.assert_allclose(mine.sentence("encoder:h_n/L0/fwd"), h_n, atol=1e-5)
        steps = len(calls[0]) - 1
        for t in range(steps):
            step = np.concatenate([b[1 + t][1][:, 0].numpy() for b in calls])
            np.testing.assert_allclose(mine.sentence(f"decoder:hidden/L0/fwd@{t}"), step,
                                       atol=1e-5, err_msg=f"decoder step {t}")
        meta = mine.meta  # the decoder's own log-likelihood of its target, per token
        assert meta["prediction"].isna().all() and meta["next_token_logprob"].notna().all()
        assert (meta["next_token_logprob"] < 0).all()

    out = tmp_path / "run"
    probe = run_cli("probe", *_args(work, name), "--out", str(out), "--batch-size", str(BATCH),
                    "--folds", "2", "--no-mdl", "--no-random-baseline", "--no-umap",
                    "--probe-rows", "all", "--jobs", "1", "-q")
    assert probe.returncode == 0, probe.stderr
    views = set(pd.read_csv(out / "results.csv")["view"])
    sites = ("lstm:", "lstm#2:") if name == "siamese_lstm.py" else ("encoder:", "decoder:")
    assert all(any(v.startswith(s) for v in views) for s in sites)
    page = (out / "index.html").read_text(encoding="utf-8")
    if name == "siamese_lstm.py":  # both branches named, and the readout the score reads
        said = page[page.index("The pair score reads"):]
        said = said[:said.index("evidence")]
        assert "the cosine of <code>h_n/L0</code> of the two branches" in said
        assert "<code>lstm#2</code> (second text)" in said
    target = "score" if name == "siamese_lstm.py" else "continuation"
    run = json.loads((out / "run.json").read_text(encoding="utf-8"))
    assert run["stages"]["attribution"]["status"] == "done"
    assert json.loads((out / "attribution" / "manifest.json").read_text(
        encoding="utf-8"))["target"] == target
    assert "It explains" in page and "‖" in page  # what was explained; both texts shown

    attributed = run_cli("attribute", *_args(work, name), "--out", str(tmp_path / "attr"),
                         "--rows", "4", "--steps", "32")
    assert attributed.returncode == 0, attributed.stderr
    assert "attribution skipped" not in attributed.stdout
    assert f"of target {target}" in attributed.stdout
    assert "completeness: PASS" in attributed.stdout, attributed.stdout
    assert "steps: not applicable" in attributed.stdout
    manifest = json.loads((tmp_path / "attr" / "manifest.json").read_text(encoding="utf-8"))
    assert manifest["target"] == target and manifest["completeness"]["passed"] is True
    tokens = pd.read_parquet(tmp_path / "attr" / "tokens.parquet")
    table = pd.read_csv(work / DATA[name])
    first, second = FLAGS[name][1].split(",")
    for row, part in tokens.groupby("row"):  # every token of both texts, each as its text
        for which, column in ((1, first), (2, second)):
            words = part[part["which_text"] == which].sort_values("position")["token"]
            assert words.tolist() == table[column][row].split()
