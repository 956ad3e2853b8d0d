"""The runner end to end: known answers on a trained LSTM and on noise, plugins, determinism."""

from __future__ import annotations

import textwrap
import warnings
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from probe_rnn.errors import ConfigError, ParameterError, PluginError
from probe_rnn.plugins import PluginWarning, registry
from probe_rnn.probing import (
    CI_METHOD,
    RESULT_COLUMNS,
    headline_table,
    run_probes,
    save_results,
)
from tests.unit.probing.probing_support import ArrayStore, meta_for, planted_table

REPO = Path(__file__).resolve().parents[3]


def value(df: pd.DataFrame, metric: str, model: str = "trained", **where) -> float:
    sel = (df["metric"] == metric) & (df["model"] == model)
    for col, v in where.items():
        sel &= df["t"].isna() if (col == "t" and v is None) else (df[col] == v)
    hit = df.loc[sel, "value"]
    assert len(hit) == 1, (metric, model, where, len(hit))
    return float(hit.iloc[0])


@pytest.fixture(scope="module")
def noise_store() -> ArrayStore:
    """Gaussian features that know nothing, and one feature that is the label."""
    df = planted_table(300, seed=4)
    rng = np.random.default_rng(0)
    signal = (df["label"] == "yes").to_numpy(float)[:, None] + 0.05 * rng.normal(size=(300, 1))
    return ArrayStore(meta_for(df["text"].tolist(), df["label"].tolist()),
                      {"noise": rng.normal(size=(300, 16)), "signal": signal})


def test_trained_lstm_carries_the_planted_label_selectively(lstm_stores) -> None:
    df = run_probes(lstm_stores, views=["output@last"], tasks=["label"], folds=3)
    assert list(df.columns) == RESULT_COLUMNS
    assert set(df["model"]) == {"trained", "random-init"}
    chance = float(df["chance"].iloc[0])
    acc = value(df, "accuracy")
    assert acc > 0.95 and acc > chance + 0.4
    assert value(df, "bits") > 0.7  # H(Y) is ~1 bit
    # the control gives each first character a random label (half of them each class); the
    # model only needs to carry whether the first character is in a-d, not which one it was,
    # so the probe reads the label far better than the control
    ctrl = value(df, "control_accuracy")
    assert ctrl < acc - 0.2
    assert value(df, "selectivity") == pytest.approx(acc - ctrl)
    assert value(df, "mdl_bits") < 0.3 * value(df, "uniform_bits")
    # the references MDL is read against: the control's labels and the random-init state
    assert value(df, "control_compression") < value(df, "compression")
    assert value(df, "compression", model="random-init") < value(df, "compression")
    assert value(df, "majority_accuracy") < 0.6
    assert value(df, "bits") > value(df, "bits", model="random-init")
    row = df[(df["metric"] == "accuracy") & (df["model"] == "trained")].iloc[0]
    assert row["ci_low"] <= acc <= row["ci_high"] and row["n_train"] + row["n_test"] == 300
    assert df.attrs["ci_method"] == CI_METHOD


def test_label_is_decodable_from_the_first_step_on_per_token_views(lstm_stores) -> None:
    stores = {"trained": lstm_stores["trained"]}
    df = run_probes(stores, views=["hidden/L0/fwd", "hidden/L0/fwd@0"], tasks=["label"],
                    folds=3, mdl=False, control=False)
    per_t = df[(df["view"] == "hidden/L0/fwd") & df["t"].notna() & (df["metric"] == "accuracy")]
    assert {0, 1, 2, -1, -2}.issubset(set(per_t["t"].tolist()))
    assert per_t["t"].max() <= 15 and per_t["t"].min() >= -16
    # the rule is the first character, so the decision exists from t = 0
    assert value(df, "accuracy", view="hidden/L0/fwd", t=0) > 0.95
    assert value(df, "accuracy", view="hidden/L0/fwd@0") > 0.95
    assert value(df, "accuracy", view="hidden/L0/fwd", t=None) > 0.95
    assert set(df.loc[df["view"] == "hidden/L0/fwd@0", "t"]) == {0}


def test_random_features_carry_no_bits(noise_store) -> None:
    df = run_probes({"trained": noise_store}, views=["noise", "signal"], tasks=["label"],
                    folds=5, mdl=False)
    assert abs(value(df, "bits", view="noise")) < 0.05
    chance = float(df.loc[df["view"] == "noise", "chance"].iloc[0])
    assert abs(value(df, "accuracy", view="noise") - chance) < 0.1
    assert value(df, "accuracy", view="signal") == 1.0
    assert value(df, "bits", view="signal") > 0.8


def test_same_seed_same_results_with_one_or_two_jobs(noise_store) -> None:
    kw = {"views": ["noise", "signal"], "tasks": ["label"], "folds": 3}
    a = run_probes({"trained": noise_store}, seed=3, **kw)
    b = run_probes({"trained": noise_store}, seed=3, **kw)
    pd.testing.assert_frame_equal(a, b)
    c = run_probes({"trained": noise_store}, seed=3, jobs=2, **kw)
    pd.testing.assert_frame_equal(a, c, rtol=1e-9)
    d = run_probes({"trained": noise_store}, seed=4, **kw)
    assert not np.allclose(a["value"], d["value"], equal_nan=True)


def test_plugin_probe_from_a_folder_is_used_and_a_broken_one_warns(tmp_path, noise_store):
    (tmp_path / "runner_test_probe.py").write_text(textwrap.dedent('''
        from sklearn.dummy import DummyClassifier
        from probe_rnn.plugins import register_probe

        @register_probe("runner-test-prior")
        def prior():
            return DummyClassifier(strategy="prior")
    '''))
    (tmp_path / "runner_test_broken.py").write_text("raise RuntimeError('boom')\n")
    with pytest.warns(PluginWarning, match=r"runner_test_broken\.py failed to load"):
        registry.load_folder(tmp_path)
    df = run_probes({"trained": noise_store}, views=["signal"], tasks=["label"],
                    probes=["logistic", "runner-test-prior"], folds=3, jobs=2)
    assert set(df["probe"]) == {"logistic", "runner-test-prior"}
    # a prior knows nothing: zero bits, majority accuracy
    assert value(df, "bits", probe="runner-test-prior") == pytest.approx(0.0, abs=1e-9)
    assert value(df, "accuracy", probe="runner-test-prior") == \
        pytest.approx(value(df, "majority_accuracy", probe="runner-test-prior"))


def test_repo_example_plugins_load_and_run(noise_store) -> None:
    with warnings.catch_warnings():
        warnings.simplefilter("error", PluginWarning)
        registry.load_folder(REPO / "probes")
    df = run_probes({"trained": noise_store}, views=["signal"],
                    tasks=["label", "vowel-ending"], probes=["centroid"], folds=3, mdl=False)
    assert value(df, "accuracy", task="label") == 1.0
    texts = noise_store.meta["text"]
    share = texts.str[-1].isin(list("ae")).mean()  # letters a-h: vowels a, e
    chance = float(df.loc[df["task"] == "vowel-ending", "chance"].iloc[0])
    assert chance == pytest.approx(max(share, 1 - share))


def test_import_path_probe_without_proba_reports_nan_bits(noise_store) -> None:
    df = run_probes({"trained": noise_store}, views=["signal"], tasks=["label"],
                    probes=["sklearn.svm.LinearSVC"], folds=3)
    assert value(df, "accuracy") == 1.0
    assert np.isnan(value(df, "bits")) and np.isnan(value(df, "mdl_bits"))


def test_regression_task_falls_back_to_ridge(noise_store) -> None:
    from probe_rnn.probing.tasks import Task

    class SignalValue(Task):
        name = "signal-value"
        kind = "regression"

        def targets(self, meta, tokens, offsets, level=None):
            return (meta["label"] == "yes").to_numpy(float)

    df = run_probes({"trained": noise_store}, views=["signal"], tasks=[SignalValue()], folds=3)
    assert set(df["probe"]) == {"ridge"} and set(df["metric"]) == {"r2"}
    assert value(df, "r2") > 0.95


def test_save_results_and_headline_table(tmp_path, noise_store) -> None:
    from rich.console import Console

    calls = []
    df = run_probes({"trained": noise_store, "random-init": noise_store}, views=["signal"],
                    tasks=["label"], folds=3, mdl=False, progress=lambda d, t: calls.append((d, t)))
    assert calls == [(0, 2), (1, 2), (2, 2)]  # cells done of 2 (trained, random-init)
    parquet, csv = save_results(df, tmp_path / "run")
    back = pd.read_parquet(parquet)
    assert list(back.columns) == RESULT_COLUMNS and len(back) == len(df)
    assert list(pd.read_csv(csv).columns) == RESULT_COLUMNS
    console = Console(width=160, record=True)
    console.print(headline_table(df))
    text = console.export_text()
    assert "signal" in text and "1.000" in text


def test_bad_arguments_are_one_line_errors(noise_store) -> None:
    with pytest.raises(ParameterError) as refused:
        run_probes({"trained": noise_store}, folds=1)
    assert refused.value.parameter == "folds"
    with pytest.raises(ConfigError, match="stores is empty"):
        run_probes({})
    with pytest.raises(PluginError, match="unknown task 'nope'"):
        run_probes({"trained": noise_store}, tasks=["nope"])
    from probe_rnn.probing.tasks import Task

    class Short(Task):
        name = "short"

        def targets(self, meta, tokens, offsets, level=None):
            return np.array(["a", "b"], dtype=object)

    with pytest.raises(ConfigError, match="task 'short' returned 2 targets for 300 sentences"):
        run_probes({"trained": noise_store}, views=["signal"], tasks=[Short()])
    with pytest.warns(UserWarning, match="fewer than 400 sentences"), \
            pytest.raises(ConfigError, match="nothing to probe"):
        run_probes({"trained": noise_store}, views=["signal"], tasks=["label"], folds=400)


def _rare_store(n: int = 200, same_sentence: bool = True) -> ArrayStore:
    """Noise features; 2 of ``n`` sentences carry the rare label (sharing one text: same fold)."""
    df = planted_table(n, seed=5)
    texts, labels = df["text"].tolist(), ["common"] * n
    texts[7] = texts[3] if same_sentence else texts[7]
    labels[3] = labels[7] = "rare"
    rng = np.random.default_rng(1)
    n_tok = sum(len(t) for t in texts)
    return ArrayStore(meta_for(texts, labels), {"noise": rng.normal(size=(n, 8))},
                      {"tok": rng.normal(size=(n_tok, 8))})


def test_a_rare_class_gives_bounded_entropy_and_near_zero_bits_on_noise() -> None:
    # both rare rows in one held-out fold: the training fold has one class (this used to crash,
    # and an unseen held-out label cost -log2(1e-6) = 19.9 bits)
    for same, folds in ((True, 5), (False, 5), (False, 2)):
        df = run_probes({"trained": _rare_store(same_sentence=same)}, views=["noise", "tok"],
                        tasks=["label"], folds=folds, mdl=False)
        ent = df[df["metric"] == "entropy_bits"]
        bits = df[df["metric"] == "bits"]
        assert len(ent) and (ent["value"] <= 1.0).all() and (ent["value"] >= 0).all()
        assert np.isfinite(bits["value"]).all() and (bits["value"].abs() < 0.05).all()
        if folds == 2:  # 2 values: no t-interval
            assert df["ci_low"].isna().all() and df["ci_high"].isna().all()


def test_per_position_rows_exist_only_where_the_position_is_estimable() -> None:
    from probe_rnn.probing.cells import MIN_POSITION_SENTENCES, POSITION_SENTENCES_PER_FOLD

    df = planted_table(80, seed=6)  # lengths 3..10: late positions have few sentences
    texts = df["text"].tolist()
    rng = np.random.default_rng(2)
    store = ArrayStore(meta_for(texts, df["label"].tolist()), {},
                       {"tok": rng.normal(size=(sum(len(t) for t in texts), 4))})
    folds = 7  # 5 per fold = 35 > 30 sentences needed
    out = run_probes({"trained": store}, views=["tok"], tasks=["label"], folds=folds,
                     mdl=False, control=False)
    need = max(MIN_POSITION_SENTENCES, POSITION_SENTENCES_PER_FOLD * folds)
    assert need == 35
    lengths = np.array([len(t) for t in texts])
    expected = {t for t in range(16) if (lengths > t).sum() >= need}
    expected |= {-k for k in range(1, 17) if (lengths >= k).sum() >= need}
    per_t = out[out["t"].notna()]
    assert set(per_t["t"].astype(int)) == expected and 0 < len(expected) < 20
    assert not per_t["value"].isna().any()  # omitted, not NaN rows
    # a rare class present at a position in only one sentence fails "2 classes per training fold"
    rare = _rare_store(same_sentence=True)
    rare_out = run_probes({"trained": rare}, views=["tok"], tasks=["label"], folds=5,
                          mdl=False, control=False)
    assert rare_out["t"].isna().all() and (rare_out["metric"] == "bits").any()


def test_reported_intervals_stay_in_the_metric_range(noise_store) -> None:
    df = run_probes({"trained": noise_store}, views=["noise", "signal"], tasks=["label"],
                    folds=4, mdl=False)
    for metric, (lo, hi) in {"accuracy": (0, 1), "control_accuracy": (0, 1),
                             "majority_accuracy": (0, 1), "selectivity": (-1, 1)}.items():
        rows = df[df["metric"] == metric]
        assert len(rows) and (rows["ci_low"] >= lo).all() and (rows["ci_high"] <= hi).all()
    sig = df[(df["view"] == "signal") & (df["metric"] == "accuracy")].iloc[0]
    assert sig["value"] == 1.0 and sig["ci_high"] == 1.0
    assert "fewer than 3" in df.attrs["ci_method"] and df.attrs["ci_method"] == CI_METHOD
    two = run_probes({"trained": noise_store}, views=["noise"], tasks=["label"], folds=2,
                     mdl=False)
    assert two["ci_low"].isna().all() and two["ci_high"].isna().all()


def _keyed(n: int = 400, seed: int = 0) -> tuple[pd.DataFrame, np.ndarray, np.ndarray]:
    """Sentences over a-h whose labels are coin flips (unrelated to any token), a view that
    one-hot encodes only the first token, and Gaussian features."""
    rng = np.random.default_rng(seed)
    texts = ["".join(rng.choice(list("abcdefgh"), size=int(rng.integers(3, 9))))
             for _ in range(n)]
    labels = rng.choice(["x", "y"], size=n).tolist()
    first = np.array([[t[0] == c for c in "abcdefgh"] for t in texts], dtype=float)
    return meta_for(texts, labels), first + 0.01 * rng.normal(size=first.shape), \
        rng.normal(size=(n, 8))


def test_the_sentence_control_is_keyed_on_a_recurring_type(tmp_path) -> None:
    meta, first, gauss = _keyed()
    store = ArrayStore(meta, {"first": first, "gauss": gauss})
    df = run_probes({"trained": store}, views=["first", "gauss"], tasks=["label"], folds=5,
                    mdl=False)
    majority = value(df, "majority_accuracy", view="first")
    # the view holds the first token, the control labels are a function of it: the probe's
    # capacity to memorise shows (keyed on the text, the control sat at the majority rate)
    assert value(df, "control_accuracy", view="first") > majority + 0.2
    assert value(df, "accuracy", view="first") < majority + 0.08  # the label is unrelated
    sel = df[(df["view"] == "gauss") & (df["metric"] == "selectivity")].iloc[0]
    assert sel["ci_low"] < 0 < sel["ci_high"]


def test_a_task_without_a_control_reports_no_selectivity() -> None:
    from probe_rnn.probing.tasks import LabelTask

    class NoControl(LabelTask):
        name = "label-no-control"
        control_unit = None

    class Wrong(LabelTask):
        name = "label-wrong-control"
        control_unit = "sentence"

    meta, first, _ = _keyed(200)
    store = ArrayStore(meta, {"first": first})
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        df = run_probes({"trained": store}, views=["first"], tasks=[NoControl(), Wrong()],
                        folds=3, mdl=False)
    assert (df["metric"] == "accuracy").any()
    assert not df["metric"].isin(["control_accuracy", "selectivity"]).any()
    (failed,) = df.attrs["failed_cells"]
    assert failed["task"] == "label-wrong-control" and "control_unit 'sentence'" in \
        failed["reason"]
