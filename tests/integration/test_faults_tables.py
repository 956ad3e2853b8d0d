"""A table without a split column that a seeded split cannot give dev rows (500 classes with
one row each): ``train`` and ``compare-readouts`` say what the table has, not "the split
column", and the fix they name can be followed."""

from __future__ import annotations

import pandas as pd

from tests.integration.cli_support import run_main


def test_one_row_per_class_is_described_and_the_fix_works(tmp_path, capsys):
    table = pd.DataFrame({"text": [f"w{i} x" for i in range(500)],
                          "label": [f"c{i}" for i in range(500)]})
    table.to_csv(tmp_path / "t.csv", index=False)
    for command in (["train", "--out", str(tmp_path / "m.pt")],
                    ["compare-readouts", "--out", str(tmp_path / "study")]):
        code, err = run_main(capsys, *command, "--data", str(tmp_path / "t.csv"))
        assert code == 2 and len(err) == 1, err
        assert "no split column and 500 rows in 500 classes, at most 1 per class" in err[0]
        assert "the split column has no" not in err[0] and "add a split column" in err[0]
    assert not (tmp_path / "m.pt").exists() and not (tmp_path / "study").exists()
    # the fix: a split column with train and dev rows
    table.assign(split=["train", "train", "dev", "dev"] * 125).to_csv(tmp_path / "s.csv",
                                                                     index=False)
    code, err = run_main(capsys, "train", "--data", str(tmp_path / "s.csv"), "--epochs", "1",
                     "--hidden", "2", "--embedding-dim", "2", "--out", str(tmp_path / "m.pt"))
    assert code == 0, err
    assert (tmp_path / "m.pt").is_file()
