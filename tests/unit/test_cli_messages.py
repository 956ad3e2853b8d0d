"""One-line messages of the CLI and the library that a new user's fault campaign found wanting:
each names the fix."""

from __future__ import annotations

import pytest

from probe_rnn import cli
from probe_rnn.errors import ConfigError, ParameterError, ReportError
from probe_rnn.models.factory import call_factory
from probe_rnn.run.settings import RunSettings
from probe_rnn.run_folder import read_run


def test_an_interrupt_says_the_same_command_resumes(monkeypatch, capsys) -> None:
    def interrupted(**_: object) -> int:
        raise KeyboardInterrupt

    monkeypatch.setattr(cli, "app", interrupted)
    with pytest.raises(SystemExit) as caught:
        cli.main(["datasets"])
    assert caught.value.code == 130
    err = capsys.readouterr().err.strip().splitlines()
    assert err == ["error: interrupted: run the same command again to resume (finished stages "
                   "and probing cells are kept)"]


def test_a_missing_factory_function_names_the_fix(tmp_path) -> None:
    (tmp_path / "fm.py").write_text("def build():\n    return None\n")
    with pytest.raises(ConfigError, match=r"has no attribute 'nope': name a function of it that "
                                          r"returns the model, e\.g\. .*fm\.py:build"):
        call_factory(f"{tmp_path / 'fm.py'}:nope")


def test_a_negative_cell_timeout_speaks_of_seconds_not_none() -> None:
    with pytest.raises(ParameterError) as caught:
        RunSettings(cell_timeout=-1)
    assert caught.value.parameter == "cell_timeout" and caught.value.got == "-1"
    assert "None" not in caught.value.allowed and "seconds" in caught.value.allowed


def test_a_folder_without_run_json_is_not_sent_to_out(tmp_path) -> None:
    (tmp_path / "index.html").write_text("<p>the user's own page</p>")
    with pytest.raises(ReportError) as caught:
        read_run(tmp_path)
    assert "give a folder that `probe` wrote" in str(caught.value)
    assert "out_dir" not in str(caught.value)


@pytest.mark.parametrize(("option", "value", "got"), [
    ("--folds", "1", "1"), ("--seeds", "0", "0"), ("--jobs", "0", "0"),
    ("--precision", "0.7", "0.7"), ("--max-rows", "0", "0"), ("--attribution-rows", "-1", "-1"),
    ("--cell-timeout", "-1", "-1.0"), ("--probe-rows", "dev", "'dev'"),
    ("--batch-size", "0", "0"),
])
def test_a_refused_value_names_the_option_it_came_from(option, value, got, tmp_path,
                                                       capsys) -> None:
    """The line is built from the error's fields (option, got), whatever the wording."""
    with pytest.raises(SystemExit) as exit_info:
        cli.main(["probe", str(tmp_path / "m.pt"), "--dataset", "names", "--out",
                  str(tmp_path / "run"), option, value])
    lines = capsys.readouterr().err.strip().splitlines()
    assert exit_info.value.code == 2 and len(lines) == 1
    assert lines[0].startswith(f"error: {option} ") and lines[0].endswith(f", got {got}")
    assert not (tmp_path / "run").exists()
