"""The headline table printed at the end of `probe`: readable at 80 columns, no name cut."""

from __future__ import annotations

import io

import pandas as pd
from rich.console import Console

from probe_rnn.probing import RESULT_COLUMNS, headline_table

VIEWS = ["output@last", "mean(output)", "h_n/L1/bwd", "c_n/L0/fwd", "hidden/L1/bwd@-3"]
TASKS = ["label", "word-content", "first-token", "last-token", "length"]


def _results(probes: list[str]) -> pd.DataFrame:
    rows = []
    for model in ("trained", "random-init"):
        for view in VIEWS:
            for task in TASKS:
                for probe in probes:
                    for metric, value in (("accuracy", 0.9876), ("bits", 1.2345),
                                          ("selectivity", 0.4567)):
                        rows.append({"model": model, "view": view, "view_kind": "sentence",
                                     "layer": 1, "direction": "", "t": None, "task": task,
                                     "task_kind": "classification", "probe": probe,
                                     "metric": metric, "value": value, "ci_low": value - 0.0123,
                                     "ci_high": value + 0.0123, "chance": 0.5, "n_train": 80,
                                     "n_test": 20, "folds": 5, "seeds": 1, "seed": 0})
    df = pd.DataFrame(rows, columns=RESULT_COLUMNS)
    df["t"] = df["t"].astype("Int64")
    return df


def _render(df: pd.DataFrame) -> list[str]:
    out = io.StringIO()
    Console(file=out, width=80, color_system=None).print(headline_table(df))
    return out.getvalue().splitlines()


def test_headline_fits_80_columns_and_names_every_view_and_task_whole() -> None:
    lines = _render(_results(["logistic"]))
    assert max(len(line) for line in lines) <= 80
    text = "\n".join(lines)
    assert "…" not in text and "probe logistic" in lines[0]
    for view in VIEWS:
        assert any(line.split()[:1] == [view] for line in lines), view
    for task in TASKS:
        assert sum(task in line.split() for line in lines) == len(VIEWS), task
    assert "0.975–1.000" in text  # the interval, rounded, not cut


def test_several_probes_get_a_table_each_and_still_nothing_is_cut() -> None:
    lines = _render(_results(["logistic", "centroid"]))
    assert max(len(line) for line in lines) <= 80
    assert "…" not in "\n".join(lines)
    titles = [line.strip() for line in lines if line.strip().startswith("probing results")]
    assert titles == [
        "probing results (trained model, probe logistic; 80 training rows per split)",
        "probing results (trained model, probe centroid; 80 training rows per split)"]
    rows = [line for line in lines if line.split()[:1] and line.split()[0] in VIEWS]
    assert len(rows) == 2 * len(VIEWS) * len(TASKS)


def test_the_baseline_column_is_the_reports_majority_class_baseline() -> None:
    df = _results(["logistic"])
    majority = df[df["metric"] == "accuracy"].assign(metric="majority_accuracy", value=0.4812)
    lines = _render(pd.concat([df, majority], ignore_index=True))
    header = next(line for line in lines if line.startswith("view"))
    assert "maj." in header and "chance" not in header
    row = next(line for line in lines if line.startswith("output@last") and "label" in line)
    assert row.split()[4] == "0.481"  # majority_accuracy, not the 0.500 chance level
    assert any("majority-class baseline" in line for line in lines)


def test_the_title_says_how_many_rows_each_probe_trained_on() -> None:
    df = _results(["logistic"])
    df.loc[df["view"] == "output@last", "n_train"] = 388  # e.g. a cell past the K-fold range
    text = " ".join(" ".join(_render(df)).split())
    assert "probe logistic; 80–388 training rows per split)" in text
