"""``probe()``, the run in one call from Python: a bundle or a checkpoint's path, a DataFrame, a
bundled dataset's name or a table file, the settings as an object or as keywords; it runs the
same run with the settings as keywords as with the object, and bad arguments are one-line errors."""

from __future__ import annotations

import pandas as pd
import pytest

import probe_rnn
from probe_rnn.errors import ConfigError, ParameterError
from probe_rnn.models import Architecture, TrainBudget, save_checkpoint, train
from probe_rnn.run.settings import RunSettings

DF = pd.DataFrame({"text": ["ab", "ba", "abc", "cab", "bcab", "ca", "a", "bbbbca"] * 5,
                   "label": ["p", "q", "p", "q", "q", "p", "q", "p"] * 5})
FAST = {"views": ["output@last", "h_n/L0/fwd"], "tasks": ["label"], "folds": 2, "umap": False,
        "attribution_rows": 0, "random_baseline": False, "report": False, "mdl": False,
        "keep_duplicates": True}


@pytest.fixture(scope="module")
def bundle():
    return train(DF, Architecture(rnn="gru", hidden=4, embedding_dim=4), TrainBudget(epochs=1),
                 seed=0).bundle


def _table(result) -> pd.DataFrame:
    return result.results.reset_index(drop=True)


def test_keywords_run_what_the_settings_object_runs(tmp_path, bundle) -> None:
    by_keywords = probe_rnn.probe(bundle, DF, tmp_path / "a", **FAST)
    by_hand = probe_rnn.probe(bundle, DF, tmp_path / "b", RunSettings(**FAST))
    pd.testing.assert_frame_equal(_table(by_keywords), _table(by_hand))
    assert by_keywords.out_dir == tmp_path / "a" and (tmp_path / "a" / "run.json").is_file()
    assert set(by_keywords.results["view"]) == {"output@last", "h_n/L0/fwd"}


def test_a_checkpoint_path_and_a_table_file_are_read_like_the_cli_reads_them(tmp_path,
                                                                               bundle) -> None:
    checkpoint = tmp_path / "m.pt"
    save_checkpoint(checkpoint, bundle)
    table = tmp_path / "dev.csv"
    DF.to_csv(table, index=False)
    from_files = probe_rnn.probe(str(checkpoint), table, tmp_path / "files",
                                 RunSettings(**FAST))
    in_memory = probe_rnn.probe(bundle, DF, tmp_path / "memory", RunSettings(**FAST))
    pd.testing.assert_frame_equal(_table(from_files), _table(in_memory))
    record = probe_rnn.read_run(tmp_path / "files")
    assert record.data_source == str(table)


def test_a_bundled_dataset_is_named(tmp_path) -> None:
    names = probe_rnn.load_dataset("names")
    on_names = train(names.sample(200, random_state=0), Architecture(hidden=4, embedding_dim=4),
                     TrainBudget(epochs=1), seed=0).bundle
    result = probe_rnn.probe(on_names, "names", tmp_path / "n", max_rows=80, **FAST)
    assert probe_rnn.read_run(tmp_path / "n").data_source == "dataset:names"
    assert probe_rnn.read_run(tmp_path / "n").data_rows == 80 < len(names)
    assert set(result.results["task"]) == {"label"}


@pytest.mark.parametrize(("args", "kwargs", "error", "needle"), [
    ((), {"settings": RunSettings(), "folds": 3}, ConfigError, "not both"),
    ((), {"fold": 3}, ConfigError, "fold"),
    ((), {"folds": 1}, ParameterError, "folds"),
])
def test_bad_arguments_are_one_line_errors_before_any_file(tmp_path, bundle, args, kwargs,
                                                           error, needle) -> None:
    with pytest.raises(error, match=needle) as refused:
        probe_rnn.probe(bundle, DF, tmp_path / "x", *args, **kwargs)
    assert "\n" not in str(refused.value)
    assert not (tmp_path / "x").exists()


def test_what_is_not_a_model_or_a_table_is_named(tmp_path, bundle) -> None:
    with pytest.raises(ConfigError, match="load_model") as refused:
        probe_rnn.probe(object(), DF, tmp_path / "x")
    assert "object" in str(refused.value)
    with pytest.raises(ConfigError, match="DataFrame") as refused:
        probe_rnn.probe(bundle, [("ab", "p")], tmp_path / "y")
    assert not (tmp_path / "x").exists() and not (tmp_path / "y").exists()


def test_the_result_carries_the_reports_answer_and_links_to_it(tmp_path, bundle) -> None:
    from probe_rnn.report import build_report

    result = probe_rnn.probe(bundle, DF, tmp_path / "r", **dict(FAST, report=True))
    assert result.report_path == tmp_path / "r" / "index.html"
    rebuilt = build_report(tmp_path / "r", umap=False)  # the page, rendered again from files
    assert result.answer is not None and result.answer.text == rebuilt.answer.text
    assert result.answer.plain == result.answer.text.replace("`", "")
    shown = result._repr_html_()
    assert f'href="{result.report_path.resolve().as_uri()}"' in shown
    assert "`" not in shown and "<code>output@last</code>" in shown
    quiet = probe_rnn.probe(bundle, DF, tmp_path / "q", **FAST)  # report=False: no answer
    assert quiet.answer is None and quiet.report_path is None
    assert (tmp_path / "q").resolve().as_uri() in quiet._repr_html_()
