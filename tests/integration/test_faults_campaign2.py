"""Second fault campaign (issue 26), faults no other test has seen: each ends in a right result
or one ``error:`` line naming the problem and the fix, exit code 2, nothing written."""

from __future__ import annotations

import pytest

from tests.integration.cli_support import run_main

ROWS = "".join(f"w{i} x,{'ab'[i % 2]},{['train', 'dev', 'test'][i % 3]}\n" for i in range(30))



def _refused(capsys, tmp_path, table, *needles):
    out = tmp_path / "m.pt"
    code, err = run_main(capsys, "train", "--data", str(table), "--epochs", "1", "--out", str(out))
    assert code == 2 and len(err) == 1, err
    assert err[0].startswith("error: ") and all(n in err[0] for n in needles), err
    assert not out.exists()


def test_utf16_table_names_utf16_in_the_fix(tmp_path, capsys):
    table = tmp_path / "t.csv"
    table.write_bytes(("text,label,split\n" + ROWS).encode("utf-16"))
    _refused(capsys, tmp_path, table, "looks like UTF-16", "iconv -f utf-16 -t utf-8 t.csv")


def test_latin1_table_keeps_the_latin1_fix(tmp_path, capsys):
    table = tmp_path / "t.csv"
    table.write_bytes(("text,label,split\nA\xe9ron,a,train\n" + ROWS).encode("latin-1"))
    _refused(capsys, tmp_path, table, "not UTF-8", "iconv -f latin1 -t utf-8 t.csv")


@pytest.mark.parametrize("sep,suffix", [(",", "csv"), ("\t", "tsv")])
def test_duplicate_column_name_is_refused(tmp_path, capsys, sep, suffix):
    table = tmp_path / f"t.{suffix}"
    table.write_text(sep.join(["text", "text", "label", "split"]) + "\n" + "".join(
        sep.join([t, t + "y", lab, s]) + "\n"
        for t, lab, s in (row.split(",") for row in ROWS.splitlines())))
    _refused(capsys, tmp_path, table, "names column 'text' more than once", "rename or remove")


def _tiny_checkpoint(tmp_path, capsys):
    table = tmp_path / "t.csv"
    table.write_text("text,label,split\n" + ROWS)
    code, err = run_main(capsys, "train", "--data", str(table), "--epochs", "1", "--hidden", "2",
                     "--embedding-dim", "2", "--out", str(tmp_path / "m.pt"))
    assert code == 0, err
    return table, tmp_path / "m.pt"


@pytest.mark.parametrize("edit", ["extra", "missing"])
def test_edited_own_checkpoint_names_no_model_option(tmp_path, capsys, edit):
    import torch

    table, model = _tiny_checkpoint(tmp_path, capsys)
    checkpoint = torch.load(model, weights_only=False)
    if edit == "extra":
        checkpoint["state_dict"]["extra.weight"] = torch.zeros(3)
    else:
        del checkpoint["state_dict"]["rnn.weight_hh_l0"]
    torch.save(checkpoint, tmp_path / "e.pt")
    code, err = run_main(capsys, "probe", str(tmp_path / "e.pt"), "--data", str(table),
                     "--out", str(tmp_path / "run"), "-q")
    assert code == 2 and len(err) == 1, err
    assert "its own config disagree (edited or damaged): re-train or re-save it" in err[0]
    assert "--model" not in err[0] and "factory" not in err[0]
    assert not (tmp_path / "run" / "index.html").exists()


def _digest(folder):
    import hashlib

    return {p.relative_to(folder): hashlib.sha256(p.read_bytes()).hexdigest()
            for p in sorted(folder.rglob("*")) if p.is_file()}


def test_input_table_named_like_an_output_is_never_overwritten(tmp_path, capsys):
    table, model = _tiny_checkpoint(tmp_path, capsys)
    own = tmp_path / "own"
    own.mkdir()
    (own / "results.csv").write_bytes(table.read_bytes())
    before = _digest(own)
    code, err = run_main(capsys, "probe", str(model), "--data", str(own / "results.csv"),
                     "--out", str(own), "--force-out", "-q")
    assert code == 2 and len(err) == 1, err
    assert err[0] == (f"error: --data {own / 'results.csv'} would be overwritten by this "
                      f"command's output in --out {own}: move the input out of it or give "
                      "another --out")
    assert _digest(own) == before and sorted(p.name for p in own.iterdir()) == ["results.csv"]


def test_train_out_equal_to_its_table_is_refused_even_with_force_out(tmp_path, capsys):
    table = tmp_path / "t.csv"
    table.write_text("text,label,split\n" + ROWS)
    before = table.read_bytes()
    code, err = run_main(capsys, "train", "--data", str(table), "--out", str(table), "--force-out",
                     "--epochs", "1")
    assert code == 2 and len(err) == 1 and "would be overwritten" in err[0], err
    assert table.read_bytes() == before


def test_a_table_beside_the_run_folder_files_is_still_read(tmp_path, capsys):
    from probe_rnn.run.out_folder import check_inputs_apart

    (tmp_path / "run").mkdir()
    (tmp_path / "run" / "mine.csv").write_text("x")
    check_inputs_apart(tmp_path / "run", {"--data": tmp_path / "run" / "mine.csv"}, "folder")


NONE_FIT = '''
from sklearn.linear_model import LogisticRegression
from probe_rnn.plugins import register_probe
@register_probe("nonefit")
class NoneFit(LogisticRegression):
    def fit(self, X, y, sample_weight=None):
        super().fit(X, y)
'''
TASKS = '''
import numpy as np
from probe_rnn.plugins import register_task
from probe_rnn.probing.tasks import Task
@register_task("regstr")
class RegStr(Task):
    name = "regstr"; kind = "regression"; level = "sentence"; description = "strings"
    def targets(self, meta, tokens, offsets, level=None):
        return np.array(["x%d" % i for i in range(len(meta))], dtype=object)
@register_task("allnone")
class AllNone(Task):
    name = "allnone"; kind = "classification"; level = "sentence"; description = "none"
    def targets(self, meta, tokens, offsets, level=None):
        return np.array([None] * len(meta), dtype=object)
'''
SMALL = ["--folds", "3", "--no-umap", "--no-random-baseline", "--attribution-rows", "0",
         "--jobs", "1", "-q", "--views", "output@last", "--no-mdl"]


def _plugin_run(tmp_path, capsys, source, *args):
    table, model = _tiny_checkpoint(tmp_path, capsys)
    (tmp_path / "plug").mkdir()
    (tmp_path / "plug" / "p.py").write_text(source)
    return run_main(capsys, "probe", str(model), "--data", str(table), "--out",
                str(tmp_path / "run"), "--plugins", str(tmp_path / "plug"), *SMALL, *args)


def test_a_plugin_probe_whose_fit_returns_none_is_scored(tmp_path, capsys):
    code, err = _plugin_run(tmp_path, capsys, NONE_FIT.replace("--", ""), "--tasks", "label",
                            "--probes", "nonefit", "--mdl")
    assert code == 0, err
    assert not any("failed" in line for line in err), err
    assert (tmp_path / "run" / "index.html").is_file()


@pytest.mark.parametrize("jobs", ["1", "2"])
def test_a_failing_plugin_task_names_its_file(tmp_path, capsys, jobs):
    code, err = _plugin_run(tmp_path, capsys, TASKS, "--tasks", "regstr", "--jobs", jobs)
    assert code == 2, err
    assert err[-1].startswith("error: every cell failed; the first: task 'regstr' (from plugin ")
    assert "p.py): ValueError" in err[-1] and "probe_rnn_plugin_" not in err[-1]


def test_nothing_to_probe_names_the_folds_option(tmp_path, capsys):
    code, err = _plugin_run(tmp_path, capsys, TASKS, "--tasks", "allnone")
    assert code == 2, err
    assert err[-1].endswith("(sentence tasks need sentence views) and --folds"), err


def test_a_task_or_probe_named_twice_is_probed_once(tmp_path, capsys):
    table, model = _tiny_checkpoint(tmp_path, capsys)
    code, err = run_main(capsys, "probe", str(model), "--data", str(table), "--out",
                     str(tmp_path / "run"), *SMALL, "--tasks", "label,label",
                     "--probes", "logistic,logistic")
    assert code == 0, err
    import pandas as pd

    cells = pd.read_csv(tmp_path / "run" / "cells.csv")
    assert len(cells) == 1, cells
    results = pd.read_csv(tmp_path / "run" / "results.csv")
    assert not results.duplicated(["model", "view", "task", "probe", "metric", "t"]).any()


def test_a_step_no_row_reaches_is_named(tmp_path, capsys):
    table, model = _tiny_checkpoint(tmp_path, capsys)
    code, err = run_main(capsys, "probe", str(model), "--data", str(table), "--out",
                     str(tmp_path / "run"), *SMALL[:-3], "--no-mdl", "--tasks", "label",
                     "--views", "hidden/L0/fwd@999")
    assert code == 2, err
    assert any("no row has step 999 (every row is shorter)" in line for line in err), err
    assert not (tmp_path / "run" / "index.html").exists()


def test_vocabulary_with_a_bom_and_one_not_utf8(tmp_path):
    from probe_rnn.data import read_vocab
    from probe_rnn.errors import DataError

    (tmp_path / "v.json").write_text('{"<pad>": 0, "a": 1}', encoding="utf-8-sig")
    (tmp_path / "v.txt").write_text("<pad>\na\n", encoding="utf-8-sig")
    for name in ("v.json", "v.txt"):
        vocab = read_vocab(tmp_path / name)
        assert dict(vocab.index) == {"<pad>": 0, "a": 1} and vocab.pad_id == 0, vocab.index
    (tmp_path / "l.txt").write_bytes("<pad>\n\xe9\n".encode("latin-1"))
    with pytest.raises(DataError, match=r"re-encode it as UTF-8, e.g. `iconv -f latin1"):
        read_vocab(tmp_path / "l.txt")


@pytest.mark.parametrize("command", ["train", "probe"])
def test_out_as_a_dangling_symlink_is_refused_in_one_line(tmp_path, capsys, command):
    table = tmp_path / "t.csv"
    table.write_text("text,label,split\n" + ROWS)
    link = tmp_path / "link"
    link.symlink_to(tmp_path / "gone")
    args = (["train", "--data", str(table), "--epochs", "1"] if command == "train" else
            ["probe", str(tmp_path / "m.pt"), "--data", str(table)])
    code, err = run_main(capsys, *args, "--out", str(link))
    assert code == 2 and len(err) == 1, err
    fix = "create that folder" if command == "probe" else "remove the link"
    assert err[0] == (f"error: --out {link} is a symbolic link to {tmp_path / 'gone'}, which "
                      f"does not exist: give another --out, or {fix}")
    assert link.is_symlink() and not (tmp_path / "gone").exists()


def test_a_jsonl_text_that_is_an_object_is_refused(tmp_path, capsys):
    import json

    table = tmp_path / "t.jsonl"
    table.write_text("".join(json.dumps({"text": {"a": f"w{i}"} if i == 1 else f"w{i} x",
                                         "label": "ab"[i % 2]}) + "\n" for i in range(30)))
    _refused(capsys, tmp_path, table, "t.jsonl: the text in column 'text' of data row 2 is a "
             "dict, not text; give each row's text as a string")


def test_report_on_a_foreign_folder_says_it_is_no_run(tmp_path, capsys):
    (tmp_path / "index.html").write_text("<h1>mine</h1>")
    before = _digest(tmp_path)
    code, err = run_main(capsys, "report", str(tmp_path))
    assert code == 2 and len(err) == 1, err
    assert f"{tmp_path / 'run.json'} is missing: {tmp_path} is not a probe run folder" in err[0]
    assert "--force-out" not in err[0] and _digest(tmp_path) == before


def test_a_lock_whose_pid_now_names_another_process_is_taken_over(tmp_path):
    import sys

    from probe_rnn.errors import ConfigError
    from probe_rnn.run.lock import LOCK_NAME, _started, run_lock

    if not sys.platform.startswith("linux") or not _started(1):
        pytest.skip("needs /proc")
    lock = tmp_path / LOCK_NAME
    lock.write_text("1 1\n")  # PID 1 is alive, but it did not start at tick 1: PID reused
    with run_lock(tmp_path):
        assert lock.read_text().split()[0] != "1"
    assert not lock.exists()
    lock.write_text(f"1 {_started(1)}\n")  # the very process that wrote it: still in use
    with pytest.raises(ConfigError, match=r"in use by another probe-rnn run \(PID 1\)"):
        with run_lock(tmp_path):
            pass
    assert lock.read_text() == f"1 {_started(1)}\n"


def test_a_json_record_naming_a_key_twice_is_refused(tmp_path, capsys):
    table = tmp_path / "t.jsonl"
    table.write_text("".join(f'{{"text": "w{i} x", "label": "{"ab"[i % 2]}", "text": "W{i}"}}\n'
                             for i in range(30)))
    _refused(capsys, tmp_path, table, "t.jsonl: line 1: a record names key 'text' twice "
             "(JSON keeps only the last); keep one")
