"""The readout study on known answers: padding breaks naive-last, last and h_n are one vector.

``synthetic-first`` puts the label in the first word, so a unidirectional LSTM must carry it to
the end. Reading ``output[:, -1]`` of a padded batch hands the head a state driven by up to
dozens of pad tokens (measurably worse), while ``output`` at the row's last valid step and the
top layer's ``h_n`` are the same vector on packed batches (identical runs, called identical).
Every seed trains and tests on its own split, so the seeds' spread holds the test set's error.
"""

from __future__ import annotations

import re
from dataclasses import replace

import pandas as pd
import pytest
import torch

from probe_rnn.data import ensure_splits, make_synthetic
from probe_rnn.errors import ConfigError, ParameterError
from probe_rnn.models import Architecture, TrainBudget, train
from probe_rnn.studies import compare_readouts, parse_readouts
from probe_rnn.studies.question import answer_question

PADDED = (Architecture(rnn="lstm", layers=1, hidden=16, embedding_dim=16, bidirectional=False,
                       packed=False), TrainBudget(epochs=10, lr=0.01, batch_size=32, patience=10))
TINY = (Architecture(rnn="lstm", layers=1, hidden=8, embedding_dim=8, bidirectional=False),
        TrainBudget(epochs=2, lr=0.01, batch_size=32))
TINY_STUDY = dict(tokenizer="word", probe_rows=60)


@pytest.fixture(scope="module")
def padded_study():
    df = make_synthetic("first", n_rows=800, seed=0, min_len=3, max_len=30)
    study = compare_readouts(df, *PADDED, readouts=["last", "naive-last"], seeds=3, jobs=2,
                             probe=False, tokenizer="word")
    return df, study


def test_naive_last_is_measurably_worse_than_last_on_padded_batches(padded_study) -> None:
    _, study = padded_study
    acc = study.summary.set_index("readout")["mean"]
    assert acc["last"] >= 0.9
    assert acc["naive-last"] <= acc["last"] - 0.25
    wide = study.runs.pivot(index="seed", columns="readout", values="test_accuracy")
    assert len(wide) == 3 and (wide["last"] - wide["naive-last"] > 0.2).all()
    assert study.pair("last", "naive-last")["verdict"].startswith("last better by")
    assert study.summary.set_index("readout").loc["naive-last", "vs_best"].startswith(
        "measurably worse by")
    assert study.settings["split_per_seed"] is False  # the table's own split, for every seed


def test_hidden_reads_the_padding_too_on_padded_batches() -> None:
    # Without packing h_n is the state after the pad tokens: for a unidirectional module it
    # is output[:, -1], so the hidden and naive-last runs are the same computation.
    df = make_synthetic("first", n_rows=200, seed=3, min_len=3, max_len=12)
    study = compare_readouts(df, replace(TINY[0], packed=False), replace(TINY[1], epochs=1),
                             readouts=["hidden", "naive-last", "last"], seeds=1, jobs=1,
                             probe=False, **TINY_STUDY)
    runs = study.runs.set_index("readout")
    assert runs.loc["hidden", "test_accuracy"] == runs.loc["naive-last", "test_accuracy"]
    curves = study.curves.set_index(["readout", "epoch"])["train_loss"]
    assert curves.loc["hidden"].equals(curves.loc["naive-last"])
    assert not curves.loc["hidden"].equals(curves.loc["last"])
    fwd = study.diagnosis_value("max |output@last - h_n top fwd|")
    assert fwd is not None and fwd > 1e-3
    assert study.diagnosis_value("share of short rows with output@-1 == 0") == 0.0


def test_study_runs_equal_direct_training(padded_study) -> None:
    df, study = padded_study
    data = ensure_splits(df, seed=0).reset_index(drop=True)  # the table's own split, kept
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        direct = train(data, *PADDED, tokenizer="word", readout="last", seed=1)
    finally:
        torch.set_num_threads(threads)
    run = study.runs.set_index(["readout", "seed"]).loc[("last", 1)]
    assert run["test_accuracy"] == direct.test_accuracy
    assert run["dev_accuracy"] == direct.dev_accuracy
    curve = study.curves[(study.curves["readout"] == "last") & (study.curves["seed"] == 1)]
    assert list(curve["dev_accuracy"]) == list(direct.history["dev_accuracy"])


@pytest.fixture(scope="module")
def packed_pair():
    df = make_synthetic("first", n_rows=300, seed=1, min_len=3, max_len=12)
    one = compare_readouts(df, *TINY, readouts=("last", "hidden"), seeds=2, jobs=1,
                           split_per_seed=True, **TINY_STUDY)
    two = compare_readouts(df, *TINY, readouts=("last", "hidden"), seeds=2, jobs=2,
                           split_per_seed=True, **TINY_STUDY)
    return one, two


def test_last_and_hidden_agree_on_packed_batches(packed_pair) -> None:
    study, _ = packed_pair
    runs = study.runs.set_index(["readout", "seed"])
    for seed in (0, 1):  # the same vector feeds the head: identical training, identical result
        assert runs.loc[("last", seed), "test_accuracy"] == runs.loc[("hidden", seed),
                                                                     "test_accuracy"]
    assert study.pair("last", "hidden")["verdict"] == "identical on every seed"
    assert study.summary.set_index("readout").loc["hidden", "vs_best"] == "identical to best"
    assert study.diagnosis_value("max |output@last - h_n top fwd|") <= 1e-5
    assert study.diagnosis_value("share of short rows with output@-1 == 0") == 1.0


def test_probing_headline_sees_the_same_vector(packed_pair) -> None:
    study, _ = packed_pair
    head = study.probing_headline()
    assert list(head.columns) == ["output@last", "output@-1", "h_n/L0/fwd", "c_n/L0/fwd"]
    assert list(head.index) == ["last", "hidden"]
    bits = study.probing[study.probing["metric"] == "bits"].pivot_table(
        index=["readout", "seed"], columns="view", values="value")
    # output@last and h_n/L0/fwd hold identical numbers on packed input: identical probe fits
    pd.testing.assert_series_equal(bits["output@last"], bits["h_n/L0/fwd"], check_names=False)


def test_results_do_not_depend_on_jobs(packed_pair) -> None:
    one, two = packed_pair
    cols = ["readout", "seed", "dev_accuracy", "test_accuracy", "epochs_run", "best_epoch"]
    pd.testing.assert_frame_equal(one.runs[cols], two.runs[cols], check_exact=True)
    pd.testing.assert_frame_equal(one.curves, two.curves, check_exact=True)
    pd.testing.assert_frame_equal(one.probing, two.probing, check_exact=True)
    pd.testing.assert_frame_equal(one.pairs, two.pairs)


def test_settings_record_the_shared_budget(packed_pair) -> None:
    study, _ = packed_pair
    s = study.settings
    assert s["seeds"] == [0, 1] and s["epochs"] == 2 and s["batch_size"] == 32
    assert s["splits"] == {"train": 240, "dev": 30, "test": 30}
    assert s["split_per_seed"] is True and s["nb_ratio"] == pytest.approx(30 / 240)
    assert s["diagnosed"] == ["last", 0]
    assert len(study.runs) == 4 and set(study.curves["epoch"]) <= {1, 2}
    late = study.runs["best_epoch"] == study.runs["epochs_run"]
    assert study.runs["still_improving"].tolist() == late.tolist()


def test_each_seed_draws_its_own_split_and_a_given_split_is_kept() -> None:
    from probe_rnn.studies.splits import seed_tables, split_card

    df = make_synthetic("first", n_rows=200, seed=2, min_len=3, max_len=8).drop(columns="split")
    tables = seed_tables(df, [0, 1, 2], probe_rows=20)
    tests = [frozenset(data.index[data["split"] == "test"]) for data, _ in tables.values()]
    assert len(set(tests)) == 3  # three different test sets
    for s, (data, sample) in tables.items():
        pd.testing.assert_frame_equal(data, ensure_splits(df, seed=s).reset_index(drop=True))
        assert set(sample.index) <= set(data.index[data["split"] != "train"])
    given = ensure_splits(df, seed=7)
    kept = seed_tables(given, [0, 1], probe_rows=20)
    assert kept[0][0] is kept[1][0] and (kept[0][0]["split"] == given["split"].values).all()
    card = split_card(given, kept)
    assert card["split_per_seed"] is False and card["nb_ratio"] == 0.0
    redrawn = seed_tables(given, [0, 1], probe_rows=20, per_seed=True)  # a seeded draw: redrawn
    pd.testing.assert_frame_equal(redrawn[1][0], tables[1][0])


def test_parse_readouts_errors_name_the_valid_ones() -> None:
    assert parse_readouts(["last", "max"]) == ("last", "max")
    for bad, hint in ((["last", "final"], "unknown readout 'final'"), (["last", "last"], "once"),
                      (["", ""], "at least one")):
        with pytest.raises(ParameterError) as caught:
            parse_readouts(bad)
        assert caught.value.parameter == "readouts" and hint in caught.value.hint
        assert caught.value.allowed == "a list of names from last, hidden, mean, max, naive-last"


@pytest.mark.parametrize(("call", "expected"), [
    (lambda df: compare_readouts(df, readouts="last,hidden"), "['last', 'hidden']"),
    (lambda df: compare_readouts(df, objective="siamese", losses="mse"), "['mse']"),
    (lambda df: answer_question(df, objectives="classify, siamese"),
     "['classify', 'siamese']"),
])
def test_a_comma_string_for_a_list_is_refused_with_the_list_to_pass(call, expected) -> None:
    df = make_synthetic("first", n_rows=40, seed=0, min_len=3, max_len=5)
    with pytest.raises(ConfigError, match=re.escape(f"pass {expected}")) as caught:
        call(df)
    assert len(str(caught.value).splitlines()) == 1


def test_bad_arguments_raise_parameter_errors_naming_them() -> None:
    df = make_synthetic("first", n_rows=40, seed=0, min_len=3, max_len=5)
    with pytest.raises(ParameterError) as caught:
        compare_readouts(df, seeds=0)
    assert (caught.value.parameter, caught.value.got) == ("seeds", "0")
    with pytest.raises(ParameterError) as caught:
        compare_readouts(df, Architecture(rnn="transformer"))
    assert (caught.value.parameter, caught.value.got) == ("rnn", "'transformer'")
    with pytest.raises(ParameterError) as caught:  # the flat keywords are gone
        compare_readouts(df, {"rnn": "gru"})
    assert caught.value.parameter == "architecture"


def test_the_default_architecture_and_the_objectives_epochs() -> None:
    df = make_synthetic("first", n_rows=120, seed=0, min_len=3, max_len=5)
    study = compare_readouts(df, budget=TrainBudget(batch_size=32, lr=0.01), readouts=["last"],
                             seeds=1, jobs=1, probe=False, tokenizer="word", probe_rows=20)
    s = study.settings
    assert (s["layers"], s["bidirectional"], s["hidden"]) == (2, True, 64)  # 2-layer BiLSTM
    assert s["epochs"] == 8 and s["batch_size"] == 32  # epochs None: the objective's 8
    assert "dropout" not in s and "grad_clip" not in s  # the defaults, as before


def test_the_probe_sample_never_takes_training_rows() -> None:
    import pandas as pd
    import pytest

    from probe_rnn.errors import DataError
    from probe_rnn.studies.splits import probe_sample as _probe_sample

    data = pd.DataFrame({"text": [f"t{i}" for i in range(100)],
                         "split": ["train"] * 80 + ["dev"] * 10 + ["test"] * 10})
    few = _probe_sample(data, rows=600, seed=0)  # fewer held out than asked: those, no top-up
    assert len(few) == 20 and set(few["split"]) == {"dev", "test"}
    some = _probe_sample(data, rows=15, seed=0)
    assert len(some) == 15 and "train" not in set(some["split"])
    assert list(some.index) == sorted(some.index)  # table order
    with pytest.raises(DataError, match="no dev or test rows"):
        _probe_sample(data.assign(split="train"), rows=10, seed=0)
